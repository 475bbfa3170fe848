// Fuzz target: the connection state machine of a worker (net/worker_server.h) driven by
// made-up io_uring completions.
//
// The server runs on a real worker ring that is never submitted: after every step the fuzzer reads
// the SQEs the server queued (accepts, receives, sends, cancels, closes), drops them, and from then
// on plays the kernel — it decides, from the input, which of those operations complete, in what
// order and with what result: received bytes (written into the provided buffer the completion
// names, as the kernel would), short sends, EOF, ECONNRESET, ENOBUFS, ECANCELED, a multishot
// receive or accept that ends, accept failing with EMFILE. Loop turns end, and a graceful stop
// begins, when the input says. Sockets are real socket pairs (the server shuts them down and its
// close SQEs are carried out here), so every descriptor is accounted for.
//
// What must hold: no crash, no undefined behaviour, no leak (ASan/UBSan/LSan), no NEXURE_CHECK
// failure inside the server; a send the server queues never starts beyond its buffer; and once a
// stop was requested and every operation has completed, the server drains (or the drain timeout
// ends what is left) and tears down cleanly. Timers are not driven here (the worker's clock does
// not move), so timeouts are covered by the integration tests instead.
//
// GET /up upgrades: after its 101 the socket leaves the HTTP/1 state machine. GET /ws upgrades
// to WebSocket: the frames that follow are fuzzed through the worker's hub (net/ws/). Streamed request
// bodies too: POST /u streams its body (up to 200 bytes) to a reader that pauses
// and resumes as it goes. Deferred and streamed answers are driven too: GET /d defers its answer
// and GET /s starts a stream (a piece of body now, or none); the handles wait in the harness, and
// an input step answers a deferred request, writes a piece to a stream or ends it — in any order,
// also after the client left or the handler timeout's 503 (where they must do nothing). Handles
// still waiting at the end are dropped: a dropped Later answers 500, a dropped Stream ends.
//
// Input: a sequence of steps, each one opcode byte followed by its operands (see run()).
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/worker.h"
#include "net/server.h"
#include "net/worker_server.h"
#include "net/ws/hub.h"
#include "net/ws/websocket.h"

namespace nexure::net {
namespace {

// Reads operands off the input; past its end every read is 0.
class Input {
  public:
    Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool done() const { return at_ >= size_; }
    uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
    // Up to `n` bytes (fewer at the end of the input).
    size_t take(char* out, size_t n) {
        const size_t k = std::min(n, size_ - std::min(at_, size_));
        if (k != 0) std::memcpy(out, data_ + at_, k);
        at_ += k;
        return k;
    }

  private:
    const uint8_t* data_;
    size_t size_;
    size_t at_ = 0;
};

struct PendingOp {
    uint64_t tag;
    int fd;
    uint32_t len;  // sends: bytes asked for; receives: their buffer group
};

void fail(const char* what) {
    std::fprintf(stderr, "connection_fuzz: %s\n", what);
    std::abort();
}

// Handles that deferred and streaming routes leave for later steps (the harness drives them).
struct Pending {
    std::vector<Later> laters;
    std::vector<Stream> streams;
};
Pending* g_pending = nullptr;

// The process-wide worker whose ring the server queues its SQEs on (never submitted).
engine::Worker& worker() {
    static engine::Worker* w = [] {
        auto* created = new engine::Worker(0, -1, -1);
        Result<void> r = created->init(engine::RingOptions{
            .sq_entries = 256, .cq_entries = 512, .mode = engine::RingMode::kAuto});
        if (!r) {
            std::fprintf(stderr, "connection_fuzz: no io_uring here: %s\n",
                         r.error().message.c_str());
            std::exit(0);  // nothing to fuzz without a ring; not a finding
        }
        return created;
    }();
    return *w;
}

// Small limits, so that short inputs reach stitching, 413/414/431, backpressure and the caps.
const SharedState& shared_state() {
    static SharedState* shared = [] {
        auto* s = new SharedState();
        ServerConfig& c = s->config;
        c.max_connections_per_worker = 3;
        c.recv_buffer_count = 8;
        c.ws_recv_buffer_count = 8;
        c.ws_recv_buffer_size = 1024;
        c.recv_buffer_size = 512;  // the smallest allowed; reads made up here are <= 64 bytes
        c.send_buffer_count = 2;
        c.send_buffer_size = 1024;
        c.fixed_sends = false;
        c.max_pending_output = 600;
        c.max_unsent_responses = 3;
        c.limits.max_target_size = 48;
        c.limits.max_head_size = 160;
        c.limits.max_header_count = 6;
        c.limits.max_body_size = 300;
        auto add = [s](Method m, const char* path, Handler h, RouteOptions options = {}) {
            router::RouteMeta meta;
            meta.handler = static_cast<uint32_t>(s->handlers.size());
            meta.kind = router::HandlerKind::kNative;
            s->router.add(m, path, meta);
            s->handlers.push_back(std::move(h));
            s->route_options.push_back(options);
            s->streams_bodies = s->streams_bodies || options.stream_body;
        };
        add(Method::kGet, "/", [](const Request&, http::Response& res) { res.body("hi"); });
        add(Method::kPost, "/e", [](const Request& req, http::Response& res) {
            res.type("text/plain").body(req.body());
        });
        add(Method::kGet, "/b/:n", [](const Request& req, http::Response& res) {
            const std::string_view n = req.param("n");
            res.body(std::string((n.empty() ? 1 : static_cast<size_t>(n[0] % 8)) * 200, 'b'));
        });
        add(Method::kGet, "/d", [](const Request& req, http::Response& res) {
            Later later = res.defer();
            if (!req.query().empty()) return;  // dropped at once: 500
            if (g_pending != nullptr) g_pending->laters.push_back(std::move(later));
        });
        add(Method::kGet, "/s", [](const Request& req, http::Response& res) {
            res.type("text/plain");
            Stream st = req.query().empty() ? res.stream() : res.stream(40);
            st.write("first piece");
            if (g_pending != nullptr) g_pending->streams.push_back(std::move(st));
        });
        // A streamed body (at most 200 bytes), paused and resumed as it goes; answered at its end.
        add(
            Method::kPost, "/u",
            [](const Request& req, http::Response& res) {
                if (!req.query().empty()) {
                    res.status(401).body("no");  // refused at once, the body not taken
                    return;
                }
                auto n = std::make_shared<size_t>(0);
                auto body = std::make_shared<BodyReader>(req.body_stream());
                body->on_data([n, body](std::string_view piece) {
                    *n += piece.size();
                    if (*n % 3 == 0) body->pause();
                    if (*n % 3 == 1) body->resume();
                });
                body->on_end([n, body, later = res.defer()]() mutable {
                    body->resume();
                    later.respond([n](http::Response& r) { r.body(std::to_string(*n)); });
                });
            },
            RouteOptions{.stream_body = true, .max_body_size = 200});
        // WebSocket (net/ws/): /ws upgrades into the worker's hub, whose sockets then run on the
        // same made-up completions — frames in pieces, echoes, a topic every socket joins and
        // every message is published to, small limits (1009, backpressure), and deflate when the
        // handshake offers it.
        static WsBehaviour* websocket = [] {
            auto* b = new WsBehaviour();
            b->open = [](WebSocket& ws) { ws.subscribe("t"); };
            b->message = [](WebSocket& ws, std::string_view m, bool binary) {
                ws.send(m, binary);
                ws.publish("t", m, binary);
                if (m == "end") ws.end(1000, "bye");
                if (m == "close") ws.close();
            };
            b->max_payload = 100;
            b->max_backpressure = 300;
            b->compression.enabled = true;
            return b;
        }();
        add(Method::kGet, "/ws", ws::detail::upgrade_handler(*websocket));
        s->ws_registry = std::make_shared<ws::detail::Registry>();
        // A protocol upgrade: after the 101 the socket is handed over (and closed at once).
        add(Method::kGet, "/up", [](const Request&, http::Response& res) {
            res.status(101).header("Upgrade", "fuzz");
            res.upgrade([](Upgraded u) { ::close(u.fd); });
        });
        add(Method::kGet, "/x", [](const Request& req, http::Response& res) {
            if (!req.query().empty()) throw std::runtime_error("handler failure");
            res.status(204).close();
        });
        return s;
    }();
    return *shared;
}

class Harness {
  public:
    Harness() : server_(worker(), shared_state(), -1) { g_pending = &pending_; }

    ~Harness() {
        g_pending = nullptr;
        for (int fd : peers_)
            close(fd);
    }

    bool init() {
        Result<void> r = server_.init();
        if (!r) {
            std::fprintf(stderr, "connection_fuzz: server init: %s\n", r.error().message.c_str());
            fail("the server could not start");
        }
        collect();
        return true;
    }

    void run(Input& in) {
        while (!in.done()) {
            const uint8_t op = in.byte();
            switch (op % 8) {
                case 0:
                    accept(in);
                    break;
                case 1:
                    accept_error(in);
                    break;
                case 2:
                case 3:
                    receive(in);
                    break;
                case 4:
                    receive_end(in);
                    break;
                case 5:
                    send_done(in);
                    break;
                case 6:
                    if ((op & 0x80) != 0) {
                        answer_later(in);
                    } else {
                        server_.on_turn_end();
                    }
                    break;
                case 7:
                    if (!stopping_ && (op & 0x80) != 0) {
                        stopping_ = true;
                        server_.on_stop_requested();
                    } else {
                        server_.on_turn_end();
                    }
                    break;
            }
            collect();
        }
        finish();
    }

  private:
    // Drops the handles still waiting: their connections are answered 500 or their streams end.
    void drop_pending() {
        pending_.laters.clear();
        pending_.streams.clear();
    }

    // Takes the SQEs the server queued since the last step, as the kernel would, and forgets
    // them from the ring (it is never submitted).
    void collect() {
        io_uring* ring = worker().ring().raw();
        io_uring_sq& sq = ring->sq;
        for (unsigned i = sq.sqe_head; i != sq.sqe_tail; ++i) {
            const io_uring_sqe& sqe = sq.sqes[i & sq.ring_mask];
            switch (sqe.opcode) {
                case IORING_OP_ACCEPT:
                    accept_armed_ = true;
                    accept_tag_ = sqe.user_data;
                    break;
                case IORING_OP_RECV:
                    recvs_.push_back(PendingOp{sqe.user_data, sqe.fd, sqe.buf_group});
                    break;
                case IORING_OP_SEND:
                    if (sqe.len == 0) fail("a send of zero bytes was queued");
                    sends_.push_back(PendingOp{sqe.user_data, sqe.fd, sqe.len});
                    break;
                case IORING_OP_ASYNC_CANCEL:
                    cancel(sqe);
                    break;
                case IORING_OP_CLOSE:
                    close_server_fd(sqe.fd);
                    break;
                default:
                    break;
            }
        }
        sq.sqe_tail = sq.sqe_head;
    }

    // A cancellation completes its targets with -ECANCELED (the kernel may also complete them
    // normally first; the input can still do that before this step's effects arrive).
    void cancel(const io_uring_sqe& sqe) {
        const bool by_fd = (sqe.cancel_flags & IORING_ASYNC_CANCEL_FD) != 0;
        auto hit = [&](const PendingOp& p) { return by_fd ? p.fd == sqe.fd : p.tag == sqe.addr; };
        if (!by_fd && accept_armed_ && sqe.addr == accept_tag_) {
            accept_armed_ = false;
            deliver(accept_tag_, -ECANCELED, 0);
        }
        for (auto* list : {&recvs_, &sends_}) {
            std::vector<PendingOp> cancelled;
            for (size_t i = 0; i < list->size();) {
                if (hit((*list)[i])) {
                    cancelled.push_back((*list)[i]);
                    (*list)[i] = list->back();
                    list->pop_back();
                } else {
                    ++i;
                }
            }
            for (const PendingOp& p : cancelled)
                deliver(p.tag, -ECANCELED, 0);
        }
    }

    void close_server_fd(int fd) {
        for (const std::vector<PendingOp>* list : {&recvs_, &sends_}) {
            for (const PendingOp& p : *list) {
                if (p.fd == fd) fail("a socket was closed with an operation still in flight");
            }
        }
        close(fd);
    }

    void deliver(uint64_t tag, int32_t res, uint32_t flags) {
        io_uring_cqe cqe{};
        cqe.user_data = tag;
        cqe.res = res;
        cqe.flags = flags;
        server_.on_completion(cqe);
    }

    // Each step reads all its operands first, whether or not it can happen now, so that a
    // step's bytes never turn into the next steps (inputs stay readable and mutate locally).
    void accept(Input& in) {
        const bool more = (in.byte() & 7) != 0;
        if (!accept_armed_ || peers_.size() >= 24) return;
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return;
        peers_.push_back(fds[1]);
        if (!more) accept_armed_ = false;
        deliver(accept_tag_, fds[0], more ? IORING_CQE_F_MORE : 0);
    }

    void accept_error(Input& in) {
        static constexpr int kErrors[] = {EMFILE, ENFILE, ENOMEM, ENOBUFS, ECONNABORTED, EINTR};
        const uint8_t b = in.byte();
        if (!accept_armed_) return;
        const bool more = (b & 0x80) != 0;
        if (!more) accept_armed_ = false;
        deliver(accept_tag_, -kErrors[b % std::size(kErrors)], more ? IORING_CQE_F_MORE : 0);
    }

    static PendingOp* pick(std::vector<PendingOp>& list, uint8_t which) {
        return list.empty() ? nullptr : &list[which % list.size()];
    }

    void remove(std::vector<PendingOp>& list, const PendingOp* p) {
        const size_t i = static_cast<size_t>(p - list.data());
        list[i] = list.back();
        list.pop_back();
    }

    void receive(Input& in) {
        const uint8_t which = in.byte();
        const uint8_t b = in.byte();
        const size_t want = 1 + in.byte() % 64u;
        char bytes[64];
        size_t n = in.take(bytes, want);
        PendingOp* p = pick(recvs_, which);
        if (p == nullptr) return;
        // The ring the receive draws from (WebSocket connections have their own).
        alloc::BufferRing& buffers = server_.receive_buffers(static_cast<uint16_t>(p->len));
        if (n == 0) {
            bytes[0] = '\n';
            n = 1;
        }
        const auto bid = static_cast<uint16_t>(next_bid_++ % buffers.count());
        std::memcpy(buffers.buffer(bid), bytes, n);
        const bool more = (b & 0x40) == 0;
        const uint64_t tag = p->tag;
        if (!more) remove(recvs_, p);
        deliver(tag, static_cast<int32_t>(n),
                IORING_CQE_F_BUFFER | (uint32_t{bid} << IORING_CQE_BUFFER_SHIFT) |
                    (more ? IORING_CQE_F_MORE : 0));
    }

    void receive_end(Input& in) {
        static constexpr int kResults[] = {0, -ENOBUFS, -ECONNRESET, -ECANCELED, -EPIPE, -EINTR};
        const uint8_t which = in.byte();
        const int32_t res = kResults[in.byte() % std::size(kResults)];
        PendingOp* p = pick(recvs_, which);
        if (p == nullptr) return;
        const uint64_t tag = p->tag;
        remove(recvs_, p);
        deliver(tag, res, 0);
    }

    void send_done(Input& in) {
        const uint8_t which = in.byte();
        const uint8_t b = in.byte();
        const uint8_t part = b % 4 == 1 ? in.byte() : 0;
        PendingOp* p = pick(sends_, which);
        if (p == nullptr) return;
        int32_t res = static_cast<int32_t>(p->len);                 // all of it
        if (b % 4 == 1) res = static_cast<int32_t>(part % p->len);  // short (maybe 0)
        if (b % 4 == 2) res = (b & 0x80) != 0 ? -EPIPE : -ECONNRESET;
        const uint64_t tag = p->tag;
        remove(sends_, p);
        deliver(tag, res, 0);
    }

    // A deferred request answered, or a stream written to or ended, as the input says.
    void answer_later(Input& in) {
        const uint8_t which = in.byte();
        const uint8_t what = in.byte();
        if ((what & 1) == 0 && !pending_.laters.empty()) {
            Later& later = pending_.laters[which % pending_.laters.size()];
            const int status = 200 + (what >> 1) % 4 * 100;  // 200, 300, 400, 500
            later.respond([status](http::Response& r) { r.status(status).body("later"); });
            later = std::move(pending_.laters.back());
            pending_.laters.pop_back();
        } else if (!pending_.streams.empty()) {
            const size_t i = which % pending_.streams.size();
            Stream& st = pending_.streams[i];
            if ((what & 6) != 0) {
                (void)st.write(std::string(1 + what % 24, 'p'));  // may be refused: full or gone
            } else {
                st.end();
                st = std::move(pending_.streams.back());
                pending_.streams.pop_back();
            }
        }
    }

    // Stop (if the input did not), then complete everything as a kernel would during shutdown:
    // sends in full, receives with EOF, the accept with ECANCELED; bounded, then the drain
    // timeout ends what is left, and the server is destroyed by the caller.
    void finish() {
        drop_pending();
        if (!stopping_) {
            stopping_ = true;
            server_.on_stop_requested();
            collect();
        }
        for (int round = 0; round < 64 && !server_.drained(); ++round) {
            server_.on_turn_end();
            collect();
            if (accept_armed_) {
                accept_armed_ = false;
                deliver(accept_tag_, -ECANCELED, 0);
            }
            while (!sends_.empty()) {
                const PendingOp p = sends_.back();
                sends_.pop_back();
                deliver(p.tag, static_cast<int32_t>(p.len), 0);
                collect();
            }
            while (!recvs_.empty()) {
                const PendingOp p = recvs_.back();
                recvs_.pop_back();
                deliver(p.tag, 0, 0);
                collect();
            }
        }
        if (!server_.drained()) server_.on_drain_timeout();
        collect();
    }

    WorkerServer server_;
    Pending pending_;         // after server_: destroyed first, while the server is still there
    std::vector<int> peers_;  // our ends of the socket pairs
    std::vector<PendingOp> recvs_;
    std::vector<PendingOp> sends_;
    uint64_t accept_tag_ = 0;
    bool accept_armed_ = false;
    bool stopping_ = false;
    unsigned next_bid_ = 0;
};

}  // namespace
}  // namespace nexure::net

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    nexure::net::Harness harness;
    if (!harness.init()) return 0;
    nexure::net::Input in(data, size);
    harness.run(in);
    return 0;
}
