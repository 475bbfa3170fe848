// The handler of a WebSocket route (Server::ws): a GET route whose handler checks the
// handshake — a WebSocket route is a GET route whose handler checks the
// handshake (net/ws/handshake.h), asks the application's upgrade hook, answers 101 and hands the
// connection to the worker's Hub (net/ws/hub.h).
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

#include "net/server.h"
#include "net/ws/handshake.h"
#include "net/ws/hub.h"
#include "net/later.h"
#include "net/ws/websocket.h"

namespace nexure::net {

namespace {

// The values of every field `name` joined by ", " (a field sent several times is one list), in
// the request's scratch memory.
std::string_view joined(const http::Request& req, std::string_view name) {
    std::string_view first;
    size_t count = 0;
    size_t total = 0;
    for (const http::Header& h : req.headers()) {
        if (!http::iequals(h.name, name)) continue;
        if (count++ == 0) first = h.value;
        total += h.value.size() + 2;
    }
    if (count <= 1) return first;
    auto* out = static_cast<char*>(req.scratch().allocate(total, 1));
    size_t at = 0;
    for (const http::Header& h : req.headers()) {
        if (!http::iequals(h.name, name)) continue;
        if (at != 0) {
            out[at++] = ',';
            out[at++] = ' ';
        }
        std::memcpy(out + at, h.value.data(), h.value.size());
        at += h.value.size();
    }
    return {out, at};
}

// The 101 for an accepted handshake, and the connection handed to the worker's hub after it.
void answer_101(http::Response& res, const WsUpgrade::Prepared& p, std::any data,
                std::string protocol) {
    res.status(101).header("Upgrade", "websocket").header("Sec-WebSocket-Accept", p.accept);
    if (!protocol.empty()) res.header("Sec-WebSocket-Protocol", protocol);
    if (p.deflate) res.header("Sec-WebSocket-Extensions", p.extensions);
    ws::detail::Accepted accepted{.behaviour = p.behaviour,
                                  .deflate = p.deflate,
                                  .data = std::move(data),
                                  .protocol = std::move(protocol),
                                  .remote = p.remote};
    res.upgrade([accepted = std::move(accepted)](Upgraded u) mutable {
        if (ws::detail::Hub* hub = ws::detail::Hub::current()) {
            hub->adopt(std::move(u), std::move(accepted));
        } else {
            ::close(u.fd);
        }
    });
}

void refuse(http::Response& res, int status, std::string_view body) {
    if (status < 400 || status > 599) {
        res.status(500).type("text/plain").body(
            "the WebSocket upgrade hook refused with a status that is not 4xx or 5xx\n");
        return;
    }
    res.status(status).type("text/plain").body(body);
}

void handshake(const WsBehaviour& behaviour, const http::Request& req, http::Response& res) {
    ws::HandshakeRequest h;
    h.method = req.method_name();
    h.http_1_1 = req.version_major() > 1 || (req.version_major() == 1 && req.version_minor() >= 1);
    h.upgrade = joined(req, "upgrade");
    h.connection = joined(req, "connection");
    h.key = req.header("sec-websocket-key").value_or("");
    h.version = joined(req, "sec-websocket-version");
    h.protocols = joined(req, "sec-websocket-protocol");
    h.extensions = joined(req, "sec-websocket-extensions");
    h.origin = req.header("origin").value_or("");
    if (h.upgrade.empty()) {
        // Not a handshake at all: say what this URL speaks (RFC 9110 §15.5.22).
        res.status(426).header("Upgrade", "websocket").type("text/plain").body(
            "this URL is a WebSocket endpoint: connect with a WebSocket client (a GET with "
            "\"Upgrade: websocket\", RFC 6455)\n");
        return;
    }
    const ws::HandshakeCheck check = ws::check_handshake(h);
    if (check.status != 0) {
        res.status(check.status).type("text/plain");
        if (check.status == 426) res.header("Sec-WebSocket-Version", "13");
        std::string body = "bad WebSocket handshake: ";
        body.append(check.reason).append("\n");
        res.body(body);
        return;
    }
    if (ws::detail::Hub::current() == nullptr) {
        res.status(500).type("text/plain").body("WebSocket is not available on this worker\n");
        return;
    }
    WsUpgrade::Prepared prepared;
    prepared.behaviour = &behaviour;
    prepared.accept = ws::accept_key(h.key);
    prepared.deflate = ws::negotiate_deflate(h.extensions, behaviour.compression, prepared.extensions);
    prepared.remote = req.remote_address();
    WsUpgrade up;
    up.protocol = std::string(ws::select_subprotocol(h.protocols, behaviour.subprotocols));
    if (behaviour.upgrade) {
        up.prepared = &prepared;
        up.response = &res;
        behaviour.upgrade(req, up);  // a throw is the handler's 500, as for any route
        up.prepared = nullptr;
        up.response = nullptr;
        if (up.deferred) return;  // the pending upgrade answers (or its Later's 500)
        if (up.refused_status != 0) {
            refuse(res, up.refused_status, up.refused_body);
            return;
        }
    }
    answer_101(res, prepared, std::move(up.data), std::move(up.protocol));
}

}  // namespace

struct WsPendingUpgrade::State {
    Later later;
    WsUpgrade::Prepared prepared;
    std::any data;
    std::string protocol;
};

WsPendingUpgrade WsUpgrade::defer() {
    WsPendingUpgrade pending;
    if (deferred || prepared == nullptr || response == nullptr) return pending;
    Later later = response->defer();
    if (!later.pending()) return pending;
    deferred = true;
    pending.state_ = std::make_unique<WsPendingUpgrade::State>(WsPendingUpgrade::State{
        std::move(later), *prepared, std::move(data), std::move(protocol)});
    return pending;
}

WsPendingUpgrade::WsPendingUpgrade() noexcept = default;
WsPendingUpgrade::WsPendingUpgrade(WsPendingUpgrade&&) noexcept = default;
WsPendingUpgrade& WsPendingUpgrade::operator=(WsPendingUpgrade&&) noexcept = default;
WsPendingUpgrade::~WsPendingUpgrade() = default;  // an undecided Later answers 500

void WsPendingUpgrade::accept(std::any data) {
    if (!state_) return;
    std::unique_ptr<State> st = std::move(state_);
    if (data.has_value()) st->data = std::move(data);
    Later later = std::move(st->later);
    later.respond([st = std::move(st)](http::Response& res) mutable {
        answer_101(res, st->prepared, std::move(st->data), std::move(st->protocol));
    });
}

void WsPendingUpgrade::refuse(int status, std::string_view body) {
    if (!state_) return;
    std::unique_ptr<State> st = std::move(state_);
    Later later = std::move(st->later);
    later.respond([status, text = std::string(body)](http::Response& res) {
        nexure::net::refuse(res, status, text);
    });
}

namespace ws::detail {

Handler upgrade_handler(const WsBehaviour& behaviour) {
    const WsBehaviour* b = &behaviour;
    return [b](const http::Request& req, http::Response& res) { handshake(*b, req, res); };
}

}  // namespace ws::detail

}  // namespace nexure::net
