#include "napi/src/ws_bridge.h"

#include <algorithm>
#include <any>
#include <cstring>
#include <new>

#include "napi/src/records.h"
#include "napi/src/worker_bridge.h"
#include "net/server.h"

namespace nexure::napi {

namespace {

// initial-exec, as thread_role.cc's mark: a static TLS slot (no __tls_get_addr per callback, and
// nothing allocated per thread behind the sanitizers' back).
[[gnu::tls_model("initial-exec")]] thread_local WsBridge* t_current = nullptr;

// What the worker keeps per JavaScript socket, in WebSocket::data() (8 bytes: std::any holds
// it without allocating). The application's own data stays in JavaScript (ws.data).
struct SocketState {
    uint32_t limit : 31 = 0;         // the route's max_backpressure (at most 2^31 - 1)
    uint32_t backpressured : 1 = 0;  // a backpressure event was posted, its drain not yet
    // Bytes of the send operations applied so far, modulo 2^32: with the count of bytes it
    // handed over, JavaScript knows exactly what is still on its way (PROTOCOL.md).
    uint32_t applied = 0;
};
static_assert(sizeof(SocketState) <= sizeof(void*), "kept in std::any without allocating");

SocketState* state_of(net::WebSocket& ws) noexcept {
    return std::any_cast<SocketState>(&ws.data());
}

// The 16-byte ticket of a socket's events: the id's two halves, the route (open) or 0, the flags.
// The data of a socket accepted by JavaScript's upgrade hook (WsPendingUpgrade::accept), until
// its open event carries the number back.
struct Accepted {
    uint32_t data_id = 0;
};

net::Ticket ticket_of(uint64_t id, uint32_t route, uint32_t flags) noexcept {
    return net::Ticket{static_cast<uint32_t>(id), static_cast<uint32_t>(id >> 32), route, flags};
}

uint64_t id_of(const char* record) noexcept {
    using namespace response_record;
    return uint64_t{load_u32(record + kTicket)} | uint64_t{load_u32(record + kTicket + 4)} << 32;
}

// Messages up to this many bytes cross as one event record; longer ones in pieces of it.
constexpr uint32_t kMaxPiece = 1024 * 1024;

}  // namespace

net::WsBehaviour make_ws_behaviour(const WsRouteConfig& route) {
    net::WsBehaviour b;
    // The route's config lives in the closures (copied once per route, at config time).
    b.open = [route](net::WebSocket& ws) {
        if (WsBridge* bridge = WsBridge::current()) bridge->on_open(ws, route);
    };
    b.message = [](net::WebSocket& ws, std::string_view message, bool binary) {
        if (WsBridge* bridge = WsBridge::current()) bridge->on_message(ws, message, binary);
    };
    b.drain = [](net::WebSocket& ws) {
        if (WsBridge* bridge = WsBridge::current()) bridge->on_drain(ws);
    };
    if (route.has_upgrade) {
        b.upgrade = [handler = route.upgrade_id](const net::http::Request& req, net::WsUpgrade& up) {
            if (WsBridge* bridge = WsBridge::current()) {
                bridge->on_upgrade(req, up, handler);
            } else {
                up.refuse(503, "the JavaScript bridge is not running on this worker\n");
            }
        };
    }
    b.close = [](net::WebSocket& ws, uint16_t code, std::string_view reason) {
        if (WsBridge* bridge = WsBridge::current()) bridge->on_close(ws, code, reason);
    };
    b.max_payload = route.max_payload;
    b.max_backpressure = route.max_backpressure;
    b.overflow = route.close_on_backpressure_limit ? net::WsOverflow::kClose : net::WsOverflow::kDrop;
    b.idle_timeout_s = route.idle_timeout_s;
    b.send_pings = route.send_pings;
    b.compression = route.compression;
    b.subprotocols = route.subprotocols;
    return b;
}

const char* check_ws_record(const char* r, uint32_t body_length) noexcept {
    using namespace response_record;
    if (load_u32(r + kHeaderCount) != 0 || load_u32(r + kHeaderBlockLength) != 0) {
        return "a WebSocket record carries no headers";
    }
    const uint16_t op = load_u16(r + kStatus);
    if (op == 0 || op > kWsOpLast) return "unknown WebSocket operation";
    const auto o = static_cast<WsOp>(op);
    if (o == WsOp::kRefuse && (load_u32(r + kTicket + 8) < 400 || load_u32(r + kTicket + 8) > 599)) {
        return "an upgrade is refused with a status from 400 to 599";
    }
    if ((o == WsOp::kPublish || o == WsOp::kPublishAll) && load_u32(r + kTicket + 12) > body_length) {
        return "a publish record's topic is longer than its body";
    }
    if (o == WsOp::kEnd && load_u32(r + kTicket + 8) > 0xffff) {
        return "a close code is a 16-bit number";
    }
    return nullptr;
}

WsBridge::WsBridge(WorkerBridge& out, net::Server* server) noexcept : out_(out), server_(server) {
    t_current = this;
}

WsBridge::~WsBridge() {
    if (t_current == this) t_current = nullptr;
}

WsBridge* WsBridge::current() noexcept {
    return t_current;
}

void WsBridge::on_upgrade(const net::http::Request& req, net::WsUpgrade& up,
                          uint32_t handler) noexcept {
    net::WsPendingUpgrade pending = up.defer();
    if (!pending.pending()) return;  // the engine could not hold it: it answered already
    uint32_t slot;
    try {
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
        } else {
            pending_.emplace_back();
            slot = static_cast<uint32_t>(pending_.size() - 1);
            free_.reserve(pending_.capacity());  // so that giving slots back never allocates
        }
    } catch (const std::bad_alloc&) {
        pending.refuse(503, "out of memory holding the upgrade for JavaScript\n");
        return;
    }
    Pending& p = pending_[slot];
    ++p.generation;
    const net::Ticket ticket{slot, p.generation, 0, 0};
    if (!out_.submit_record(req, handler, ticket)) {
        pending.refuse(431, "the upgrade request is too large for the JavaScript bridge\n");
        free_.push_back(slot);
        return;
    }
    p.upgrade = std::move(pending);
}

void WsBridge::decide(const char* r, std::string_view body) noexcept {
    using namespace response_record;
    const uint32_t slot = load_u32(r + kTicket);
    if (slot >= pending_.size() || pending_[slot].generation != load_u32(r + kTicket + 4) ||
        !pending_[slot].upgrade.pending()) {
        return;  // answered already, or the bridge restarted the slot
    }
    net::WsPendingUpgrade up = std::move(pending_[slot].upgrade);
    free_.push_back(slot);  // within its reserved capacity
    const uint32_t arg = load_u32(r + kTicket + 8);
    if (static_cast<WsOp>(load_u16(r + kStatus)) == WsOp::kAccept) {
        up.accept(Accepted{arg});
    } else {
        up.refuse(static_cast<int>(arg), body);
    }
}

void WsBridge::on_open(net::WebSocket& ws, const WsRouteConfig& route) noexcept {
    const uint32_t limit =
        static_cast<uint32_t>(std::min<size_t>(route.max_backpressure, INT32_MAX));
    const Accepted* accepted = std::any_cast<Accepted>(&ws.data());
    const uint32_t data_id = accepted != nullptr ? accepted->data_id : 0;
    ws.data() = SocketState{limit, 0, 0};
    const net::http::Endpoint& peer = ws.remote_address();
    char head[20] = {};
    store_u16(head, peer.port);
    head[2] = static_cast<char>(peer.family);
    std::memcpy(head + 4, peer.bytes.data(), 16);
    out_.submit_event(ticket_of(ws.id(), route.id, data_id), event_record::kWsOpen,
                      std::string_view(head, sizeof(head)), ws.protocol());
}

void WsBridge::on_message(net::WebSocket& ws, std::string_view message, bool binary) noexcept {
    if (state_of(ws) == nullptr) return;
    const net::Ticket ticket = ticket_of(ws.id(), 0, binary ? event_record::kWsBinary : 0);
    // A message longer than a record holds crosses in pieces (as a streamed body does); the
    // JavaScript side joins them at the last one.
    const size_t piece = std::min<size_t>(kMaxPiece, out_.max_event_data());
    while (message.size() > piece) {
        out_.submit_event(ticket, event_record::kWsPiece, message.substr(0, piece));
        message.remove_prefix(piece);
    }
    out_.submit_event(ticket, event_record::kWsMessage, message);
}

void WsBridge::report(net::WebSocket& ws, uint8_t type) noexcept {
    const SocketState* s = state_of(ws);
    if (s == nullptr) return;
    char n[8];
    store_u32(n, static_cast<uint32_t>(std::min<size_t>(ws.buffered(), UINT32_MAX)));
    store_u32(n + 4, s->applied);
    out_.submit_event(ticket_of(ws.id(), 0, 0), type, std::string_view(n, sizeof(n)));
}

void WsBridge::on_drain(net::WebSocket& ws) noexcept {
    SocketState* s = state_of(ws);
    if (s == nullptr) return;
    s->backpressured = 0;
    report(ws, event_record::kWsDrain);
}

void WsBridge::on_close(net::WebSocket& ws, uint16_t code, std::string_view reason) noexcept {
    if (state_of(ws) == nullptr) return;
    char c[2];
    store_u16(c, code);
    out_.submit_event(ticket_of(ws.id(), 0, 0), event_record::kWsClose,
                      std::string_view(c, sizeof(c)), reason.substr(0, 123));
    ws.data().reset();
}

void WsBridge::apply(const char* r, std::string_view body) noexcept {
    using namespace response_record;
    const auto op = static_cast<WsOp>(load_u16(r + kStatus));
    const uint32_t arg = load_u32(r + kTicket + 8);
    const bool binary = (arg & 1) != 0;
    const bool compress = (arg & 2) != 0;
    if (op == WsOp::kAccept || op == WsOp::kRefuse) {
        decide(r, body);
        return;
    }
    if (op == WsOp::kPublishAll) {
        const uint32_t topic = load_u32(r + kTicket + 12);
        if (server_ != nullptr) {
            (void)server_->publish(body.substr(0, topic), body.substr(topic), binary, compress);
        }
        return;
    }
    net::WebSocket* ws = net::WebSocket::find(id_of(r));
    if (ws == nullptr) {
        // Closed already (its close event is on its way to JavaScript): only a publish still
        // means something — to everyone, as there is no sender left to leave out.
        if (op == WsOp::kPublish && server_ != nullptr) {
            const uint32_t topic = load_u32(r + kTicket + 12);
            (void)server_->publish(body.substr(0, topic), body.substr(topic), binary, compress);
        }
        return;
    }
    SocketState* s = state_of(*ws);
    switch (op) {
        case WsOp::kSend: {
            if (s != nullptr) s->applied += static_cast<uint32_t>(body.size());
            const auto sent = ws->send(body, binary, compress);
            if ((sent == net::WebSocket::SendStatus::kBackpressure ||
                 sent == net::WebSocket::SendStatus::kDropped) &&
                s != nullptr && !s->backpressured) {
                s->backpressured = 1;
                report(*ws, event_record::kWsBackpressure);
            }
            break;
        }
        case WsOp::kEnd:
            ws->end(static_cast<uint16_t>(arg), body.substr(0, 123));
            break;
        case WsOp::kClose:
            ws->close();
            break;
        case WsOp::kSubscribe:
            (void)ws->subscribe(body);
            break;
        case WsOp::kUnsubscribe:
            (void)ws->unsubscribe(body);
            break;
        case WsOp::kPublish: {
            const uint32_t topic = load_u32(r + kTicket + 12);
            (void)ws->publish(body.substr(0, topic), body.substr(topic), binary, compress);
            break;
        }
        case WsOp::kCheck:
            // JavaScript handed over more than maxBackpressure bytes since it last heard of
            // this socket and told its application to wait for drain: say where it stands.
            if (s == nullptr || s->backpressured) break;  // the engine's drain will follow
            if (ws->buffered() >= s->limit) {
                s->backpressured = 1;
                report(*ws, event_record::kWsBackpressure);
            } else {
                report(*ws, event_record::kWsDrain);
            }
            break;
        case WsOp::kPublishAll:
        case WsOp::kAccept:
        case WsOp::kRefuse:
            break;
    }
}

}  // namespace nexure::napi
