// WorkerServer: the HTTP server of one engine worker — the hub its connections share. It owns
// the listener (accept, and parking at the connection cap), the connection pool, the receive
// buffer ring, the send slabs and spare output buffers, the parse scratch, the Date line and the
// response writer, the handoff, and the loop turn's flush and re-arm lists. The protocol lives in
// the connections (net/http1/connection.h); this file holds no HTTP logic.
//
// Built on the worker's thread by Server and driven by the worker's loop through
// engine::WorkerHandler; nothing here is shared with other workers except the read-only router
// and handler table.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alloc/buffer_ring.h"
#include "alloc/pool.h"
#include "alloc/send_buffers.h"
#include "engine/worker.h"
#include "net/detail/loop_state.h"
#include "net/handoff.h"
#include "net/hooks.h"
#include "net/http/date_cache.h"
#include "net/http/parser.h"
#include "net/http/response.h"
#include "net/http/response_compressor.h"
#include "net/http/response_writer.h"
#include "net/coro_handler.h"
#include "net/detail/loop_state.h"
#include "net/http1/connection.h"
#include "net/client/outbound.h"
#include "net/detail/io_ops.h"
#include "net/loop.h"
#include "net/router/router.h"
#include "net/server.h"
#include "net/unique_function.h"
#include "net/ws/hub.h"

namespace nexure::net {

// Read-only state shared by all workers, built before they start.
struct SharedState {
    ServerConfig config;
    router::Router router;
    std::vector<Handler> handlers;  // C++ routes, by RouteMeta::handler
    std::vector<RouteOptions> route_options;  // the same index
    // Handed-off routes' options (streamed bodies), by RouteMeta::options - 1.
    std::vector<RouteOptions> handoff_options;
    bool streams_bodies = false;              // some route streams its body: heads are routed
    // Server::handoff_engine_answers(): the handoff id for the engine's answers, or kNoId.
    static constexpr uint32_t kNoId = UINT32_MAX;
    uint32_t engine_answers = kNoId;
    std::vector<std::unique_ptr<http::Response>> fixed;  // fixed routes, by RouteMeta::handler
    HandoffFactory handoff;                              // builds each worker's handoff
    // Hooks (net/hooks.h), in registration order.
    std::vector<RequestHook> request_hooks;
    std::vector<ResponseHook> response_hooks;
    ErrorResponder error_responder;
    std::vector<FixedResponse> error_forms;  // checked at registration; one per status
    // Compression (net/http/compression.h): the codings each route offers, as an index into
    // `offers` by RouteId (0: none); `compressing` when some route compresses.
    std::vector<http::CodingOffer> offers;
    std::vector<uint8_t> route_offer;
    bool compressing = false;
    // WebSocket routes (Server::ws): their behaviours (stable addresses: handlers point at them)
    // and the registry that lets a publish reach every worker's hub (null: no such routes).
    std::vector<std::unique_ptr<WsBehaviour>> websockets;
    std::shared_ptr<ws::detail::Registry> ws_registry;
};

class WorkerServer final : public engine::WorkerHandler,
                           private Completions,
                           private http::AddressBook {
  public:
    WorkerServer(engine::Worker& worker, const SharedState& shared, int listen_fd);
    ~WorkerServer() override;

    Result<void> init();

    void on_completion(const io_uring_cqe& cqe) noexcept override;
    void on_turn_end() noexcept override;
    void on_stop_requested() noexcept override;
    bool drained() const noexcept override;
    void on_drain_timeout() noexcept override;
    bool prepare_to_sleep() noexcept override;
    void awake() noexcept override;

    // The provided receive buffers (tests/fuzz/connection_fuzz.cc writes the bytes of the
    // completions it makes up into them, as the kernel would).
    alloc::BufferRing& receive_buffers() noexcept { return buffers_; }
    // ... and those of a buffer group (the WebSocket ring's, when the server has one).
    alloc::BufferRing& receive_buffers(uint16_t group) noexcept {
        return group == kWsBufferGroup && ws_hub_ ? ws_buffers_ : buffers_;
    }

    // Deferred and streamed answers (net/later.h, net/stream.h), on the worker thread. Each
    // finds the ticket's connection; a stale ticket does nothing (false).
    bool respond(const Ticket& ticket, UniqueFunction<void(http::Response&)>& fill) noexcept;
    bool set_abort(const Ticket& ticket, Task& fn) noexcept;
    bool stream_write(const Ticket& ticket, std::string_view bytes) noexcept;
    void stream_end(const Ticket& ticket, std::string_view trailer_lines) noexcept;
    bool stream_on_writable(const Ticket& ticket, Task fn) noexcept;
    // Stream::splice: `length` bytes of `file_fd` from `offset` as the stream's next body bytes,
    // spliced to the socket; false when the stream cannot take them this way (`done` unused).
    bool stream_splice(const Ticket& ticket, int file_fd, uint64_t offset, uint64_t length,
                       UniqueFunction<void(int)>& done) noexcept;
    // A Later was dropped unanswered: 500, logged.
    void answer_dropped(const Ticket& ticket) noexcept;
    // Whether the answer `ticket` names can still be given (its place waits, or streams).
    bool answer_wanted(const Ticket& ticket) noexcept;
    // Turns the deferred place `ticket` names into a streamed answer with `head` (a coroutine
    // handler's res.stream() after it suspended); an empty Stream when the place is gone or
    // `head` is unusable.
    Stream stream_deferred(const Ticket& ticket, const http::Response& head, http::BodyFraming body,
                           uint64_t length) noexcept;
    // A streamed request body (net/body.h): `op` runs with the ticket's connection, if it is
    // still there.
    template <typename Op>
    void with_connection(const Ticket& ticket, Op&& op) noexcept {
        if (http1::Connection* c = by_ticket(ticket)) op(*c);
    }

  private:
    friend class http1::Connection;
    friend class detail::CoroutineHandlers;

    enum Op : uint8_t {
        kAccept = static_cast<uint8_t>(engine::Op::kFirstUserOp),
        kRecv,
        kSend,
        kClientOps,  // the outbound client's ops (net/client/outbound.h) from here
        kIoOps = kClientOps + client::detail::Outbound::kOps,  // the application's own (net/io.h)
        kSpliceIn,                // a file body spliced to a socket: file → pipe (Stream::splice)
        kSpliceOut,               // ... pipe → socket
    };
    static constexpr uint16_t kBufferGroup = 0;
    static constexpr uint16_t kWsBufferGroup = 1;  // WebSocket connections' receive ring

    // http::AddressBook: a connection's two ends, asked of the kernel the first time a request
    // of it wants them and kept in `ends_` until the slot's next connection.
    bool endpoints(uint32_t slot, uint32_t generation, http::Endpoint* remote,
                   http::Endpoint* local) const noexcept override;
    const http::AddressBook* address_book() const noexcept { return this; }

    // Completions (net/handoff.h), called by the handoff from on_turn_end().
    http::Response& response() noexcept override;
    bool complete(const Ticket& ticket) noexcept override;
    bool open_stream(const Ticket& ticket, uint64_t length) noexcept override;
    Write write(const Ticket& ticket, std::string_view bytes) noexcept override;
    void end(const Ticket& ticket, bool failed) noexcept override;
    void body_control(const Ticket& ticket, BodyControl op, uint32_t bytes) noexcept override;

    // ---- accept
    void arm_accept() noexcept;
    void on_accept(const io_uring_cqe& cqe) noexcept;
    void admit(int fd) noexcept;
    int pop_parked() noexcept;  // the longest-parked socket, or -1
    void pause_accept() noexcept;
    void resume_accept() noexcept;
    static void on_accept_retry(void* arg) noexcept;

    // ---- for connections (net/http1/connection.cc)
    // Takes a connection from the pool for `fd`; on failure closes `fd` and returns nullptr.
    http1::Connection* open_connection(int fd) noexcept;
    // The connection's slot is free again (its descriptor is being closed).
    void connection_released(http1::Connection* c) noexcept;
    http1::Connection* lookup(uint64_t user_data) noexcept;
    http1::Connection* by_ticket(const Ticket& ticket) noexcept;
    uint32_t now_ms() const noexcept { return static_cast<uint32_t>(worker_.now_ns() / 1'000'000); }
    io_uring_sqe* sqe() noexcept { return worker_.ring().get_sqe(); }
    void flush_at_turn_end(http1::Connection* c) noexcept { flush_list_.push_back(c); }
    void rearm_at_turn_end(http1::Connection* c) noexcept { rearm_list_.push_back(c); }
    // Output buffers: a send slab, or a spare heap buffer when none is free (see the .cc).
    void take_output_buffer(alloc::ByteBuffer& buffer, uint16_t& slab) noexcept {
        if (buffer.capacity() == 0) take_fresh_output_buffer(buffer, slab);
    }
    void take_fresh_output_buffer(alloc::ByteBuffer& buffer, uint16_t& slab) noexcept;
    void give_back(alloc::ByteBuffer& buffer, uint16_t& slab) noexcept;
    // Response queues, from a free list.
    http1::ResponseQueue* take_queue() noexcept;
    void give_back(http1::ResponseQueue* queue) noexcept;
    // Input that arrived after a connection's reading paused (the receive was being cancelled):
    // kept here (few connections have any), and parsed one receive buffer at a time as the
    // output drains.
    struct HeldInput {
        const http1::Connection* connection;
        alloc::ByteBuffer bytes;
        size_t parsed = 0;
    };
    HeldInput* find_held_input(const http1::Connection* c) noexcept;
    // A file body being spliced to a connection's socket (Stream::splice): kept here, not in
    // every Connection (few have one). The pipe is the job's; the file descriptor the producer's.
    struct SpliceJob {
        const http1::Connection* connection = nullptr;
        int file = -1;
        uint64_t offset = 0;     // the file's next byte to go into the pipe
        uint64_t remaining = 0;  // file bytes not yet in the pipe
        uint32_t pending = 0;    // bytes in the pipe, not yet sent
        uint32_t pipe_size = 0;  // what one file → pipe step may put in the pipe
        int in_result = 1;       // the last file → pipe splice: bytes, 0 (the file ended), -errno
        bool busy = false;       // a splice to the socket is in flight
        int pipe[2] = {-1, -1};
        UniqueFunction<void(int)> done;
        ~SpliceJob();
    };
    SpliceJob* find_splice(const http1::Connection* c) noexcept;
    std::unique_ptr<SpliceJob> take_splice(const http1::Connection* c) noexcept;
    void hold_input(const http1::Connection* c, const char* data, size_t len) noexcept;
    void drop_held_input(const http1::Connection* c) noexcept;
    // Puts `bytes` before whatever of c's held input is not parsed yet.
    void hold_input_front(const http1::Connection* c, std::string_view bytes);
    // The request flags (http1::RequestFlags) that say how the answer to `req`, routed to
    // `route`, is compressed: 0 when the route does not compress, else kCompress and the coding
    // the request's Accept-Encoding chose among the route's.
    uint8_t coding_flags(const http::Request& req, router::RouteId route) const noexcept {
        const uint8_t offer = route < shared_.route_offer.size() ? shared_.route_offer[route] : 0;
        if (offer == 0) return 0;
        const http::ContentCoding coding = http::choose_coding(req, shared_.offers[offer].view());
        return static_cast<uint8_t>(http1::kCompress |
                                    (static_cast<uint8_t>(coding) << http1::kCodingShift));
    }
    // Frames `res` into `out` for a request with `flags`, encoded when the flags and the answer
    // say so (net/http/compression.h). Returns where its head ends (ResponseWriter::write).
    size_t frame(alloc::ByteBuffer& out, const http::Response& res, uint8_t flags,
                 http::Framing framing) noexcept {
        if ((flags & http1::kCompress) != 0) [[unlikely]] {
            return frame_encoded(out, res, flags, framing);
        }
        return writer_.write(out, res, framing);
    }
    size_t frame_encoded(alloc::ByteBuffer& out, const http::Response& res, uint8_t flags,
                         http::Framing framing) noexcept;
    // The worker's response, reset.
    http::Response& fresh_response() noexcept {
        response_.reset();
        return response_;
    }
    // The engine's own answer `status` (`cause`, and `detail`: see net/hooks.h) in the worker's
    // response: text/plain "<reason phrase>\n", or what the server's error_response form and
    // callback make of it. `detail` is copied (answer_detail()): it may be an exception's text.
    http::Response& engine_answer(int status, AnswerCause cause,
                                  std::string_view detail = {}) noexcept;
    // The detail of the last engine answer.
    std::string_view answer_detail() const noexcept { return detail_; }
    // Runs the C++ handler `handler` for `req`; a throw becomes the 500 in `res`.
    void run_handler(uint32_t handler, const http::Request& req, http::Response& res) noexcept;
    // A handler (or `who`) failed (`what`): logged (bounded), counted, and the response becomes
    // that 500.
    void answer_handler_error(std::string_view what,
                              std::string_view who = "handler error, answered 500: ") noexcept;
    // Runs the before-route hooks (net/hooks.h) for `req`, in order, until one answers: then
    // true, with its answer in the worker's response and `*cause` kHook (kHandlerError for a
    // hook that failed: its 500). False: routing goes on.
    bool answered_by_hooks(const http::Request& req, AnswerCause* cause) noexcept;
    // Tells the after-response hooks of an answer just framed.
    void tell(ResponseInfo& info) noexcept;
    // A misuse by application code that the engine worked around (`what` + `detail`), logged
    // like handler errors (bounded).
    [[gnu::cold]] void report(std::string_view what, std::string_view detail = {}) noexcept;
    [[gnu::cold]] void report_handler_timeout() noexcept;
    void flush_report_counts() noexcept;
    // The error_response form and callback (net/hooks.h) shape an engine answer in `res`.
    [[gnu::cold]] void shape_answer(http::Response& res, int status, AnswerCause cause) noexcept;
    bool handoff_saturated() const noexcept { return handoff_ && handoff_->saturated(); }
    void pause_for_handoff(http1::Connection* c) noexcept {
        handoff_paused_.emplace_back(c, c->generation());
    }
    // Resumes reading on connections paused because the handoff was saturated.
    void resume_handoff_paused() noexcept;
    void answer_abandoned() noexcept;

    // ---- timers
    static void on_date_tick(void* arg) noexcept;
    void schedule_date_tick() noexcept;

    engine::Worker& worker_;
    const SharedState& shared_;
    std::shared_ptr<detail::LoopState> loop_state_;
    // The worker's WebSocket connections and topics (net/ws/hub.h), for a server with
    // WebSocket routes.
    std::unique_ptr<ws::detail::Hub> ws_hub_;
    alloc::BufferRing ws_buffers_;  // its connections' receive buffers (ServerConfig::ws_recv_*)
    Loop loop_;  // handed to Later and Stream handles
    const ServerConfig& config_;
    int listen_fd_;
    bool send_timeout_first_;        // the send timeout is shorter than the idle timeout
    uint16_t max_unsent_responses_;  // config_.max_unsent_responses, clamped
    // Hooks (net/hooks.h), from the shared state: requests take the hooked path (before-route or
    // after-response hooks); answers are told to after-response hooks; the engine's answers are
    // shaped by an error_response form or callback. All false: no hook costs anything.
    const bool hooked_;
    const bool observed_;
    const bool shaped_;
    bool accept_armed_ = false;
    bool accept_paused_ = false;  // at the connection cap: accept resumes when one closes
    bool stopping_ = false;

    alloc::BufferRing buffers_;
    alloc::SendBuffers send_;
    http::ParseContext parse_;
    http::Response response_;
    http::DateCache date_;
    http::ResponseWriter writer_{date_};
    // Response compression (net/http/compression.h): the worker's encoders, reused.
    http::ResponseCompressor compressor_{config_.compression.threshold,
                                         config_.compression.levels};
    engine::Timer date_timer_;
    engine::Timer accept_retry_timer_;

    // The two ends of connections whose requests asked for them (Request::remote_address()),
    // by slot: a side table, so that a connection that never asks costs nothing (the table
    // grows to the highest slot that asked; 48 bytes an entry).
    struct Ends {
        uint32_t generation = 0;
        bool known = false;
        http::Endpoint remote;
        http::Endpoint local;
    };
    mutable std::vector<Ends> ends_;

    // Connection pool, capped at max_connections_per_worker; index == Connection::slot().
    alloc::Pool<http1::Connection> connections_;
    // Sockets accepted at the cap, before the accept cancellation took effect: they wait here,
    // unread, and are opened in arrival order as places free up (closed if this is full).
    static constexpr uint32_t kMaxParked = 256;
    std::array<int, kMaxParked> parked_{};
    uint32_t parked_head_ = 0;
    uint32_t parked_count_ = 0;
    // Drained heap output buffers (output that outgrew its send slab or found none), for reuse.
    std::vector<alloc::ByteBuffer> spare_buffers_;
    std::vector<http1::Connection*> flush_list_;  // connections with output queued this turn
    std::vector<http1::Connection*> rearm_list_;  // connections whose multishot recv ended
    std::vector<HeldInput> held_;                 // few: only connections whose reading paused
    std::vector<std::unique_ptr<SpliceJob>> splices_;  // few: file bodies being spliced
    // Handler errors and timeouts: lines logged this second, and those held back (summed up
    // once a second by flush_report_counts(), from the Date tick).
    unsigned reports_this_second_ = 0;
    uint64_t suppressed_errors_ = 0;
    uint64_t suppressed_timeouts_ = 0;
    uint64_t handler_errors_ = 0;  // 500s for handler and hook failures, ever
    // What the engine knows of its last answer beyond the status (ResponseInfo::detail): a copy,
    // within capacity reserved once (longer texts are cut), so no answer allocates.
    std::string detail_;

    // Outbound connections (net/client/): sockets and HTTP client pools on this worker's ring.
    std::shared_ptr<client::detail::Outbound> outbound_;
    // The application's own io_uring operations (net/io.h: file opens and reads, net/files/).
    detail::IoOps io_ops_;

    std::unique_ptr<Handoff> handoff_;  // null when the server has no handoff routes
    // Connections whose reading paused because the handoff was saturated, with their generation.
    std::vector<std::pair<http1::Connection*, uint32_t>> handoff_paused_;
    std::vector<std::pair<http1::Connection*, uint32_t>> resume_scratch_;
    std::vector<http1::ResponseQueue*> spare_queues_;  // freed queues, for reuse
    // Coroutine handlers that suspended (net/coro_handler.h), and their exchanges for reuse.
    detail::CoroutineHandlers coroutines_;
};

// The op that registers `fn` as the abort callback of `ticket`'s answer on its worker; when that
// answer can no longer be given (the client left, a timeout answered, the server is gone), `fn`
// runs at once instead. For Later::on_abort and Stream::on_abort.
inline auto abort_setter(const Ticket& ticket, Task fn) {
    return [ticket, fn = std::move(fn)](WorkerServer* server) mutable {
        if (server == nullptr || !server->set_abort(ticket, fn)) fn();
    };
}

}  // namespace nexure::net
