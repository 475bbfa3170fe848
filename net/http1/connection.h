// Connection: one socket's HTTP/1.1 exchange — receive (with backpressure), parse, route and
// answer, the ordered queue of responses, the deadlines, send, linger and close.
//
// Lives in its worker's connection pool (alloc::Pool: stable address, slot index = pool index,
// reused with a new generation) and is touched only by that worker's thread. The worker
// (net/worker_server.h) owns what connections share — the ring, the receive-buffer ring, send
// slabs, the parse scratch, the router and handlers, the turn's flush and re-arm lists — and
// hands each completion to the connection it names.
//
// A connection's life: open() → receives feed the parser; each complete request is routed and
// answered in order (now, or later through its place in `queue_`) → at the end of each loop turn
// one send carries everything written this turn → after the last response the write side is shut
// and input drained until the peer's FIN (linger) → close: its operations are cancelled, their
// completions awaited, then the descriptor is closed and the slot freed with a new generation.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "alloc/byte_buffer.h"
#include "engine/timer_wheel.h"
#include "net/body.h"
#include "net/handoff.h"
#include "net/hooks.h"
#include "net/http/parser.h"
#include "net/http/response.h"
#include "net/http/response_writer.h"
#include "net/http1/response_queue.h"
#include "net/later.h"
#include "net/stream.h"
#include "net/unique_function.h"

namespace nexure::net {
class WorkerServer;
struct RouteOptions;
}
namespace nexure::net::router {
struct Match;
}

namespace nexure::net::http1 {

inline constexpr uint16_t kNoSlab = UINT16_MAX;  // == alloc::SendBuffers::kNone

class Connection final {
  public:
    Connection(WorkerServer& hub, uint32_t slot) noexcept;
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Takes the accepted socket `fd` (the connection is fresh from the pool) and starts reading.
    void open(int fd) noexcept;

    // The completions of its receive and send.
    void on_recv(const io_uring_cqe& cqe) noexcept;
    void on_send(const io_uring_cqe& cqe) noexcept;

    // End of the loop turn: sends what this turn wrote (one send per connection per turn).
    void flush() noexcept;
    // End of the loop turn: re-arms the receive if it ended and reading is wanted.
    void rearm() noexcept;

    // A graceful stop began: an idle connection closes now, a busy one after its answer.
    void on_stop_requested() noexcept;
    // The drain deadline passed: awaited answers become 503, what is queued is written without
    // waiting, and the connection ends for the peer at once.
    void shut_down_now() noexcept;
    // The worker is being destroyed (its loop has ended): closes the descriptor synchronously.
    void close_at_teardown() noexcept;

    // A handed-off or deferred request's answer (net/handoff.h, net/later.h), given by `cause`
    // (kHandlerError: the handler's failure made it a 500): false when it is dropped (closed,
    // timed out, or not a ticket of this connection's).
    // The deferred answer `ticket` names accepts its upgrade request with the 101 `head`
    // (Response::upgrade() inside Later::respond); false, and nothing done, when that place is
    // not an awaited upgrade (the caller answers 500 instead).
    bool complete_upgrade(const Ticket& ticket, const http::Response& head,
                          UniqueFunction<void(Upgraded)>& take, AnswerCause cause) noexcept;
    bool complete(const Ticket& ticket, const http::Response& res,
                  AnswerCause cause = AnswerCause::kHandler) noexcept;
    // Whether `ticket`'s place waits for a complete() (its `fill` may run).
    bool awaiting(const Ticket& ticket) noexcept;
    // Whether `ticket`'s answer can still be given: its place waits or streams.
    bool wanted(const Ticket& ticket) noexcept;
    // Turns `ticket`'s awaited place into a streamed answer whose head is `head` (as if the
    // handler had called stream()); empty when the place no longer awaits or `head` has an error.
    Stream stream_deferred(const Ticket& ticket, const http::Response& head, http::BodyFraming body,
                           uint64_t length) noexcept;
    // Registers (moves from `fn`) the callback run once if `ticket`'s answer can no longer be
    // given; false, leaving `fn` alone, when the place is gone already (the caller decides).
    bool set_abort(const Ticket& ticket, Task& fn) noexcept;
    // A streamed response (net/stream.h): false when the stream is gone (or, for write, when
    // the output is over its high-water mark: on_writable follows).
    bool stream_write(const Ticket& ticket, std::string_view bytes) noexcept;
    void stream_end(const Ticket& ticket, std::string_view trailer_lines) noexcept;
    bool stream_on_writable(const Ticket& ticket, Task fn) noexcept;
    // Whether `ticket`'s answer is a stream still open.
    bool streaming(const Ticket& ticket) noexcept;
    // A handed-off answer streamed (Completions::open_stream): false when the place no longer
    // awaits or `head` has an error (the caller answers then).
    bool open_handed_off_stream(const Ticket& ticket, const http::Response& head,
                                http::BodyFraming body, uint64_t length) noexcept;
    // Cuts an open stream: the connection closes after what was written, without the body's
    // end (Completions::end(ticket, true)).
    void stream_fail(const Ticket& ticket) noexcept;
    // A file body spliced to the socket (Stream::splice, net/stream.h): false when it cannot be
    // (not the front place, not a Content-Length body, HEAD, no pipe) — the caller writes the
    // bytes instead, and `done` is left alone.
    bool stream_splice(const Ticket& ticket, int file_fd, uint64_t offset, uint64_t length,
                       UniqueFunction<void(int)>& done) noexcept;
    void on_splice_in(const io_uring_cqe& cqe) noexcept;
    void on_splice_out(const io_uring_cqe& cqe) noexcept;
    // A streamed request body (net/body.h), named by its seq: its callbacks and flow control.
    void body_on_data(uint32_t seq, UniqueFunction<void(std::string_view)> fn) noexcept;
    void body_on_end(uint32_t seq, Task fn) noexcept;
    void body_on_abort(uint32_t seq, Task fn) noexcept;
    void body_pause(uint32_t seq, bool paused) noexcept;
    // Flow control of a handed-off streamed body (Completions::body_control).
    void body_control(const Ticket& ticket, BodyControl op, uint32_t bytes) noexcept;
    // Stopping with an abandoned handoff: answers every waiting place 503.
    void answer_abandoned() noexcept;
    // The handoff has room again: resumes reading if nothing else holds it. False when the
    // connection must keep waiting for the handoff.
    bool resume_after_handoff() noexcept;

    int fd() const noexcept { return fd_; }
    uint32_t slot() const noexcept { return slot_; }
    uint32_t generation() const noexcept { return generation_; }
    bool closing() const noexcept { return closing_; }
    bool handoff_paused() const noexcept { return handoff_paused_; }

  private:
    // What one feed() (one read's bytes) did, for the caller of feed().
    struct Feed;
    // What a handler took away (http::Responder), for on_request().
    struct Taking;
    // What route() answered at once, for the after-response hooks.
    struct Routed;
    bool on_request(http::Request& request, Feed& feed) noexcept;
    // Routes `request` and answers it or gives it a place; with kHooked, says what it answered
    // in `routed` (on_request_hooked()). The request path is route<false>.
    template <bool kHooked>
    bool route(http::Request& request, Feed& feed, Routed* routed) noexcept;
    // on_request() for a server with hooks (net/hooks.h): the before-route hooks, then route(),
    // then the after-response hooks.
    [[gnu::cold, gnu::noinline]] bool on_request_hooked(http::Request& request,
                                                        Feed& feed) noexcept;
    // The before-route hooks for a request handled at its head (a route that streams its body,
    // or 100-continue without a route): true when one answered; the connection then closes.
    bool hooks_answered_at_head(http::Request& request, Feed& feed) noexcept;
    // Frames `answer` for the request being handled (flags: RequestFlags); false when the
    // connection closes after it.
    bool answer_now(const http::Response& answer, uint8_t flags, Feed& feed) noexcept;
    // The engine's answer to a request no route takes (404, 405 with Allow, 501) in the
    // worker's response; returns its cause.
    AnswerCause answer_unrouted(const router::Match& m) noexcept;
    // The after-response hooks (net/hooks.h) are told of `res`, just framed for `request` (or
    // for no request: parser refusals, 408).
    [[gnu::cold]] void seen_now(const http::Request* request, const http::Response& res,
                                bool head_only, AnswerCause cause) noexcept;
    // What the hooks are told of an answer to the request of place `p`, and of `res`.
    ResponseInfo about(const ResponseQueue::Place& p) const noexcept;
    void describe(ResponseInfo& info, const http::Response& res, bool head_only,
                  AnswerCause cause) const noexcept;
    // What the hooks are told of the answer framed (or streamed) in place `p`.
    ResponseInfo told(const ResponseQueue::Place& p) const noexcept;
    // The head of a request with a body (the parser's head hook, or 100-continue): a route that
    // streams its body runs its handler now.
    http::BodyDecision on_head(http::Request& request, Feed& feed) noexcept;
    void on_body_data(std::string_view bytes, Feed& feed) noexcept;
    // A handoff route that streams its body, at its head: the request is handed off now and its
    // body follows as Handoff::body_data() under a credit window.
    http::BodyDecision hand_off_streaming(http::Request& request, uint32_t id,
                                          const RouteOptions& options, Feed& feed) noexcept;
    // The answer to the handed-off request `seq` (at `index`) is complete: if its body still
    // streams in, the rest is dropped (false when it does not). read_on_dropped_body() then, after
    // the answer, resumes a body paused for backpressure.
    bool answered_before_body_end(uint32_t seq, size_t index) noexcept;
    void read_on_dropped_body() noexcept;
    static uint64_t declared_length(const http::Request& req) noexcept;
    void fail_streamed_body(int status, std::string_view detail) noexcept;
    bool on_body_end() noexcept;
    ResponseQueue::IncomingBody* incoming(uint32_t seq) noexcept;
    bool body_paused() const noexcept {
        return queue_ != nullptr && queue_->incoming.active && queue_->incoming.paused;
    }
    // Resumes reading after a pause, when nothing else (output bounds, the handoff, a paused
    // body) holds it.
    void resume_reading() noexcept;
    // A protocol upgrade (net/upgrade.h): the 101 is queued and reading stops; once everything
    // owed is sent and the receive has ended, the socket goes to the callback.
    // A deferred upgrade request: parsing stops until its answer (false: stop this feed).
    bool hold_for_upgrade() noexcept;
    void refuse_held_upgrade() noexcept;
    bool upgrade_current(const http::Response& head, uint8_t flags,
                         UniqueFunction<void(Upgraded)> take, const http::Request& req) noexcept;
    bool upgrading() const noexcept { return queue_ != nullptr && queue_->upgrade.pending; }
    // An upgrade accepted, or a deferred one awaited: reading stays paused, nothing is parsed.
    bool upgrade_held() const noexcept {
        return queue_ != nullptr && (queue_->upgrade.pending || queue_->upgrade.awaiting);
    }
    void maybe_hand_over() noexcept;
    uint8_t request_flags(const http::Request& req) const noexcept;
    // A place for `req`, the request being handled (flags: RequestFlags); false when no queue
    // could be had.
    bool take_place(uint8_t flags, Ticket* ticket, const http::Request& req) noexcept;
    Later defer_current(uint8_t flags, const http::Request& req) noexcept;
    Stream stream_current(const http::Response& head, uint8_t flags, http::BodyFraming body,
                          uint64_t length, const http::Request& req) noexcept;
    // Writes a stream's head for the place `ticket` names (its flags final) and makes it stream.
    Stream begin_stream(const Ticket& ticket, const http::Response& head, http::BodyFraming body,
                        uint64_t length) noexcept;
    void start_stream(const Ticket& ticket, const http::Response& head, http::BodyFraming body,
                      uint64_t length) noexcept;
    // Ends (or with `failed` cuts) the stream of `ticket`.
    void finish_stream(const Ticket& ticket, std::string_view trailer_lines, bool failed) noexcept;
    // Tells the handoff that the handed-off place `p` (of `seq`) will not be answered (once).
    void tell_aborted(ResponseQueue::Place& p, uint32_t seq) noexcept;
    // The same for every place after `index` (they are about to be dropped).
    void tell_aborted_after(size_t index) noexcept;
    bool output_full(const ResponseQueue::Place& p, size_t index) const noexcept;
    // Runs abort callbacks collected while the queue was being changed (user code runs last).
    static void run_aborts(std::vector<Task>& aborts) noexcept;

    // ---- receive
    void arm_recv() noexcept;
    void pause_reading() noexcept;
    bool over_output_bounds() const noexcept;
    // `readable_after`: bytes after data + len that may be read (RequestParser::feed()).
    void handle_bytes(const char* data, size_t len, size_t readable_after) noexcept;
    // Parses input held while reading was paused until none is left (true) or the output bounds
    // are reached (false).
    bool feed_held_input() noexcept;
    // Notes where the request in progress stands after a read.
    void track_request(bool was_mid, bool was_body, bool answered, size_t len) noexcept;
    void pause_for_handoff() noexcept;

    // ---- answers, in request order
    bool hand_off(const http::Request& req, uint32_t id, uint8_t flags, Feed& feed) noexcept;
    // The engine's own answer `status` handed off instead (Server::handoff_engine_answers);
    // with `last`, the connection closes after it (the body was not read).
    [[gnu::cold, gnu::noinline]] bool hand_off_engine_answer(const http::Request& req,
                                                             uint16_t status, bool last,
                                                             Feed& feed) noexcept;
    // At the head of a request with a body, when the engine's answers are handed off: a 413 for
    // a handed-off route whose Content-Length is over the limit, or the 405/OPTIONS answer of a
    // request whose body will not be read (Expect, or over the limit). True when handed off.
    // A collected body went over the limit (a chunked one: a Content-Length over it is seen at
    // the head): the 413 of a handed-off route is handed off too. True when handed off.
    [[gnu::cold, gnu::noinline]] bool on_body_refused(http::Request& req, int status,
                                                      Feed& feed) noexcept;
    [[gnu::cold, gnu::noinline]] bool engine_answer_at_head(http::Request& req,
                                                            const router::Match& m,
                                                            Feed& feed) noexcept;
    bool has_waiting() const noexcept { return queue_ != nullptr && queue_->waiting() != 0; }
    ResponseQueue::Place& push_place(uint8_t flags, bool ready) noexcept;
    void count_unsent() noexcept {
        if (unsent_responses_ < UINT16_MAX) ++unsent_responses_;
    }
    // Writes `res` for a request: straight to the output, or into the next place while earlier
    // answers are awaited.
    void emit(const http::Response& res, uint8_t flags) noexcept;
    [[gnu::noinline]] void emit_behind(const http::Response& res, uint8_t flags) noexcept;
    // Answers the waiting place `index` (from the front) with `res`, given by `cause`.
    void answer(size_t index, const http::Response& res, AnswerCause cause) noexcept;
    // The engine answers the front place with `status` (timeout, drain, abandoned handoff);
    // its abort callback runs.
    void answer_instead(int status, AnswerCause cause, std::string_view detail) noexcept;
    // Moves answered places at the front of the queue to the output.
    void pop_answered() noexcept;
    // The engine's answer `status` (net/hooks.h: `cause`, `detail`) for `req`, or for bytes
    // that made no request (null); the connection closes after it.
    void write_error(int status, AnswerCause cause, bool head_only, std::string_view detail = {},
                     const http::Request* req = nullptr) noexcept;
    void write_response(const http::Response& res, uint8_t flags) noexcept;
    // The server is stopping: what was received is answered, and the last answer queued says
    // "Connection: close" (the connection closes after it).
    void end_after_queued() noexcept;
    // The stream at the front wanted room and the output drained: its on_writable runs.
    void notify_writable() noexcept;

    // ---- deadlines (rules and defaults: ServerConfig)
    enum class Due : uint8_t { kNone, kIdle, kHead, kBody, kSend, kLinger, kHandler };
    struct Deadline {
        Due due = Due::kNone;
        int64_t in_ms = INT64_MAX;  // from now; <= 0 when passed
    };
    Deadline next_deadline() const noexcept;
    void schedule_deadline() noexcept;
    static void on_timer(void* arg) noexcept;
    void on_deadline() noexcept;

    // ---- send and close
    void queue_flush() noexcept;
    void take_output_buffer() noexcept;
    void start_send() noexcept;
    void submit_send() noexcept;
    void submit_splice() noexcept;
    void finish_splice(int result) noexcept;
    void after_output_drained() noexcept;
    void start_linger() noexcept;
    void close() noexcept;
    // Runs the abort callbacks of every answer still awaited (the connection is closing).
    void abort_waiting() noexcept;
    void maybe_release() noexcept;

    WorkerServer& hub_;
    int fd_ = -1;
    uint32_t slot_;
    uint32_t generation_ = 0;  // bumped on every free; stale completions carry an older one
    // The send slabs (alloc::SendBuffers) `out_` and `sending_` were given, or kNoSlab. A slab
    // stays with its buffer until the output drains, even if the bytes outgrew it.
    uint16_t out_slab_ = kNoSlab;
    uint16_t sending_slab_ = kNoSlab;

    http::RequestParser parser_;
    alloc::ByteBuffer out_;      // responses queued this turn, not yet handed to the kernel
    alloc::ByteBuffer sending_;  // the bytes of the one send in flight
    size_t sent_ = 0;            // how much of `sending_` the kernel has taken
    engine::Timer timer_;        // the next deadline (see next_deadline())
    // The places of its requests whose answers are awaited; null for a connection that never
    // had one. Kept until the connection closes (taken from the worker's free list).
    ResponseQueue* queue_ = nullptr;

    // Times in milliseconds of the worker's clock, truncated to 32 bits (compared by
    // difference, so they stay right across the wrap for intervals under 24 days).
    uint32_t last_active_ms_ = 0;    // last receive
    uint32_t phase_start_ms_ = 0;    // start of the request head, of its body, or of lingering
    uint32_t send_progress_ms_ = 0;  // last time the kernel took output (or output became due)
    uint32_t phase_bytes_ = 0;       // body bytes received since phase_start_ms_ (saturating)
    uint32_t next_seq_ = 0;          // the Ticket::seq of its next place (never reused)
    uint16_t unsent_responses_ = 0;  // responses written since the output last drained
    // Where the head of the last response in `out_` ends, when that response is keep-alive
    // HTTP/1.1 (a stopping server adds "Connection: close" there); kNoOffset otherwise.
    uint32_t close_at_ = kNoOffset;
    static constexpr uint32_t kNoOffset = UINT32_MAX;

    bool recv_armed_ : 1 = false;
    bool send_in_flight_ : 1 = false;
    bool queued_ : 1 = false;             // on the worker's flush list for this turn
    bool close_after_flush_ : 1 = false;  // the last response is queued: close once it is sent
    bool lingering_ : 1 = false;          // write side shut; waiting for the peer's FIN
    bool peer_eof_ : 1 = false;           // the peer shut its write side
    bool closing_ : 1 = false;            // cancel/close in progress; no more I/O
    bool reading_paused_ : 1 = false;     // too much unsent output: recv cancelled until it drains
    bool timed_out_ : 1 = false;          // answered 408: close within the linger timeout
    bool handoff_paused_ : 1 = false;     // reading paused until the handoff has room again
};
// The pool's block size and alloc/README.md assume this size: keep them in step.
static_assert(sizeof(Connection) == 280);

}  // namespace nexure::net::http1
