#include "net/http1/connection.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <exception>
#include <utility>

#include "net/http1/transport.h"
#include "net/worker_server.h"

namespace nexure::net::http1 {

using engine::make_tag;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// The most one send SQE carries. io_uring completes a stream send only when all of it is sent, so
// this is also how often a slow reader reports progress (for the send timeout).
constexpr size_t kMaxSendBytes = 256 * 1024;

const uint64_t kIgnoreTag = make_tag(static_cast<uint8_t>(engine::Op::kIgnore), 0, 0);

// Whether a response framed with `flags` can be turned into the connection's last one by
// inserting "Connection: close" (keep-alive HTTP/1.1: its head has no Connection field).
bool patchable(uint8_t flags) noexcept {
    return (flags & kKeepAlive) != 0 && (flags & kHttp10) == 0;
}

http::Framing framing_of(uint8_t flags) noexcept {
    return http::Framing{.head_only = (flags & kHeadOnly) != 0,
                         .keep_alive = (flags & kKeepAlive) != 0,
                         .http10 = (flags & kHttp10) != 0,
                         .upgrade = (flags & kUpgrade) != 0};
}

}  // namespace

// The parser's sink for one feed(): hands each request to the connection and notes what the
// feed did (the connection itself carries no per-feed state).
struct Connection::Feed final : http::RequestSink {
    explicit Feed(Connection& c) noexcept : connection(c) {}
    bool on_request(http::Request& request) noexcept override {
        request.set_connection(connection.hub_.address_book(), connection.slot_,
                               connection.generation_);
        return connection.on_request(request, *this);
    }
    http::BodyDecision on_head(http::Request& head) noexcept override {
        head.set_connection(connection.hub_.address_book(), connection.slot_,
                            connection.generation_);
        return connection.on_head(head, *this);
    }
    void on_body_data(std::string_view bytes) noexcept override {
        connection.on_body_data(bytes, *this);
    }
    bool on_body_end() noexcept override { return connection.on_body_end(); }
    bool on_body_refused(http::Request& head, int status) noexcept override {
        return connection.on_body_refused(head, status, *this);
    }
    void on_unparsed(std::string_view rest) noexcept override {
        if (connection.upgrade_held()) connection.queue_->upgrade.received.append(rest);
    }
    Connection& connection;
    uint32_t answered = 0;    // requests answered (or given a place) in this feed
    bool handed_off = false;  // one of them was handed off
};

// The responder of one handler call (http::Responder): a handler that defers or streams takes
// the answer away, and gets a place in the connection's order instead.
struct Connection::Taking final : http::Responder, http::BodySource {
    Taking(Connection& c, uint8_t request_flags, const http::Request& req) noexcept
        : connection(c), request(req), flags(request_flags) {}
    BodyReader take_body() noexcept override {
        if (!body_allowed || body_taken) return {};
        body_taken = true;
        return BodyReader(connection.hub_.loop_,
                          Ticket{connection.slot_, connection.generation_, body_seq, 0});
    }
    Later defer() noexcept override {
        if (taken) return {};
        Later later = connection.defer_current(flags, request);
        taken = later.pending();
        deferred = taken;
        return later;
    }
    bool upgrade(const http::Response& head,
                 UniqueFunction<void(Upgraded)> take) noexcept override {
        if (taken) return false;
        taken = connection.upgrade_current(head, flags, std::move(take), request);
        return taken;
    }
    Stream stream(const http::Response& head, http::BodyFraming body,
                  uint64_t length) noexcept override {
        if (taken) return {};
        Stream s = connection.stream_current(head, flags, body, length, request);
        taken = s.open();
        return s;
    }
    Connection& connection;
    const http::Request& request;
    uint8_t flags;
    bool taken = false;         // the answer went to a place: the handler's Response is not sent
    bool deferred = false;      // ... through defer()
    bool body_allowed = false;  // a streaming route: body_stream() gives the body
    bool body_taken = false;
    uint32_t body_seq = 0;
};

Connection::Connection(WorkerServer& hub, uint32_t slot) noexcept
    : hub_(hub), slot_(slot), timer_(on_timer, this) {}

Connection::~Connection() {
    delete queue_;
}

void Connection::open(int fd) noexcept {
    fd_ = fd;
    sent_ = 0;
    recv_armed_ = send_in_flight_ = queued_ = false;
    close_after_flush_ = lingering_ = peer_eof_ = closing_ = reading_paused_ = false;
    timed_out_ = handoff_paused_ = false;
    unsent_responses_ = 0;
    phase_bytes_ = 0;
    last_active_ms_ = phase_start_ms_ = send_progress_ms_ = hub_.now_ms();
    arm_recv();
    schedule_deadline();
}

// ---- receive --------------------------------------------------------------------------------

void Connection::arm_recv() noexcept {
    io_uring_sqe* sqe = hub_.sqe();
    io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = WorkerServer::kBufferGroup;
    io_uring_sqe_set_data64(sqe, make_tag(WorkerServer::kRecv, generation_, slot_));
    recv_armed_ = true;
}

void Connection::rearm() noexcept {
    if (fd_ >= 0 && !closing_ && !recv_armed_ && !reading_paused_) arm_recv();
}

void Connection::on_recv(const io_uring_cqe& cqe) noexcept {
    const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
    const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    if (!more) recv_armed_ = false;
    alloc::BufferRing& buffers = hub_.buffers_;

    if (cqe.res > 0) {
        if (!closing_ && !lingering_ && !close_after_flush_) {
            last_active_ms_ = hub_.now_ms();
            // The rest of the receive buffer is ours until it is recycled below.
            const auto len = static_cast<size_t>(cqe.res);
            Transport::received(buffers.buffer(bid), len, buffers.buffer_size() - len,
                                [this](const char* data, size_t n, size_t readable_after) {
                                    if (reading_paused_) {
                                        // Read before the cancellation took effect: parsed
                                        // once the output drains.
                                        hub_.hold_input(this, data, n);
                                    } else {
                                        handle_bytes(data, n, readable_after);
                                    }
                                });
        }
        // else: after the last response, input is read and dropped until the peer closes.
        buffers.recycle(bid);
        if (!closing_ && over_output_bounds()) pause_reading();
        if (!more && !closing_ && !reading_paused_) hub_.rearm_at_turn_end(this);
        if (!more && upgrading()) maybe_hand_over();
    } else {
        if (has_buffer) buffers.recycle(bid);
        if (upgrading() && !closing_ && (cqe.res == -ECANCELED || cqe.res == 0)) {
            // The receive ended for the hand-over (or the peer half-closed): hand it over now
            // if everything owed was sent.
            if (cqe.res == 0) peer_eof_ = true;
            maybe_hand_over();
        } else if (cqe.res == -ECANCELED && !closing_) {
            // Our own backpressure cancel. If the output drained meanwhile, read again now;
            // otherwise after_output_drained() will.
            if (!reading_paused_) hub_.rearm_at_turn_end(this);
        } else if (cqe.res == -ENOBUFS) {
            // Every buffer was in use; they come back this turn, so re-arm after publish().
            if (!closing_) hub_.rearm_at_turn_end(this);
        } else if (cqe.res == 0) {
            // The peer closed its side: answer what it already sent, then close. A body still
            // streaming in can never be complete: its request is answered 400 and its reader
            // aborted now (not at the handler timeout).
            peer_eof_ = true;
            if (has_waiting() && !closing_) {
                // The client most likely left: a handoff learns it now, as Node's http would
                // (the answer is still taken if it comes).
                for (size_t i = 0; i < queue_->waiting(); ++i) {
                    ResponseQueue::Place& p = queue_->at(i);
                    if (!p.ready) tell_aborted(p, queue_->first_seq + static_cast<uint32_t>(i));
                }
            }
            if (queue_ != nullptr && queue_->incoming.active && !closing_) {
                fail_streamed_body(400, "the client closed before the body was complete");
                if (!out_.empty()) queue_flush();
            }
            if (lingering_ || (!send_in_flight_ && out_.empty() && !has_waiting())) close();
        } else if (cqe.res != -ECANCELED || !closing_) {
            // ECONNRESET and friends: nothing more can be delivered.
            close();
        }
    }
    if (closing_) maybe_release();
}

bool Connection::over_output_bounds() const noexcept {
    const size_t waiting = queue_ != nullptr ? queue_->waiting() : 0;
    return out_.size() + sending_.size() > hub_.config_.max_pending_output ||
           unsent_responses_ + waiting >= hub_.max_unsent_responses_;
}

bool Connection::feed_held_input() noexcept {
    WorkerServer::HeldInput* h = hub_.find_held_input(this);
    if (h == nullptr) return true;
    // One receive buffer's worth at a time, as if it had just been read, until the output bounds
    // are reached again. (handle_bytes() never adds to the held input, so `h` stays valid.)
    auto usable = [this] { return !closing_ && !close_after_flush_; };
    // (A saturated handoff stops the feeding too, but keeps the rest, like the output bounds.)
    while (usable() && !over_output_bounds() && !hub_.handoff_saturated() && !body_paused() &&
           h->parsed < h->bytes.size()) {
        const size_t n =
            std::min<size_t>(hub_.config_.recv_buffer_size, h->bytes.size() - h->parsed);
        const char* piece = h->bytes.data() + h->parsed;
        h->parsed += n;
        // (The held bytes after the piece are readable: they are the rest of the input.)
        handle_bytes(piece, n, h->bytes.size() - h->parsed);
    }
    if (usable() && h->parsed < h->bytes.size()) return false;
    hub_.drop_held_input(this);
    return true;
}

void Connection::pause_reading() noexcept {
    if (reading_paused_) return;
    reading_paused_ = true;
    if (recv_armed_) {
        // Unread bytes stay in the socket: TCP flow control pushes back on the client.
        io_uring_sqe* sqe = hub_.sqe();
        io_uring_prep_cancel64(sqe, make_tag(WorkerServer::kRecv, generation_, slot_), 0);
        io_uring_sqe_set_data64(sqe, kIgnoreTag);
    }
}

void Connection::pause_for_handoff() noexcept {
    pause_reading();
    if (!handoff_paused_) {
        handoff_paused_ = true;
        hub_.pause_for_handoff(this);
    }
}

bool Connection::resume_after_handoff() noexcept {
    handoff_paused_ = false;
    // (after_output_drained() resumes; an upgrade decides first)
    if (!reading_paused_ || over_output_bounds() || upgrade_held()) return true;
    if (!feed_held_input() || over_output_bounds() || handoff_paused_ || body_paused()) {
        return true;
    }
    if (hub_.handoff_saturated()) {
        handoff_paused_ = true;
        return false;
    }
    reading_paused_ = false;
    if (!recv_armed_) hub_.rearm_at_turn_end(this);
    return true;
}

void Connection::handle_bytes(const char* data, size_t len, size_t readable_after) noexcept {
    const bool was_mid = parser_.mid_request();
    const bool was_body = was_mid && parser_.receiving_body();
    Feed feed(*this);
    const http::RequestParser::FeedResult r =
        parser_.feed(hub_.parse_, data, len, feed, readable_after);
    if (feed.handed_off && hub_.handoff_saturated() && !closing_) {
        // The other side is behind: read no more from this connection until it catches up.
        pause_for_handoff();
    }
    if (r.outcome == http::RequestParser::Outcome::kError) {
        if (queue_ != nullptr && queue_->incoming.active) {
            fail_streamed_body(r.error_status, hub_.parse_.error_reason());
        } else {
            write_error(r.error_status, refusal_cause(r.error_status), r.head_request,
                        hub_.parse_.error_reason());
        }
    } else if (r.send_continue && queue_ != nullptr && queue_->incoming.active &&
               queue_->incoming.continue_held) {
        // A handed-off body: the go-ahead waits until the other side reads it (kStart).
        queue_->incoming.continue_due = true;
    } else if (r.send_continue && (!has_waiting() || (queue_->incoming.active &&
                                                      queue_->incoming.places_before == 0))) {
        // (Behind unanswered requests an interim response would overtake their answers: the
        // client then sends the body after its own wait, as RFC 9110 10.1.1 allows.)
        take_output_buffer();
        out_.append(kContinue);
    }
    if (body_paused() && !closing_) pause_reading();  // the body's reader is behind
    if (hub_.stopping_ && !closing_) end_after_queued();
    if (!out_.empty()) queue_flush();
    if (parser_.mid_request()) track_request(was_mid, was_body, feed.answered != 0, len);
}

void Connection::end_after_queued() noexcept {
    if (close_after_flush_ || parser_.mid_request()) return;  // a request still arriving: later
    if (has_waiting()) {
        // The last place: a ready answer gets the field now; an awaited or streamed one closes
        // when it is answered or ended (its keep-alive flag is cleared).
        ResponseQueue::Place& last = queue_->at(queue_->waiting() - 1);
        if (last.ready && last.head_end != UINT32_MAX) {
            http::ResponseWriter::insert_close(last.bytes, last.head_end);
        }
        last.head_end = UINT32_MAX;
        last.flags &= static_cast<uint8_t>(~kKeepAlive);
    } else if (close_at_ != kNoOffset) {
        http::ResponseWriter::insert_close(out_, close_at_);
        close_at_ = kNoOffset;
    } else if (!send_in_flight_ && out_.empty()) {
        return;  // idle between requests: on_stop_requested() closes it
    }
    close_after_flush_ = true;
}

void Connection::track_request(bool was_mid, bool was_body, bool answered, size_t len) noexcept {
    if (close_after_flush_) return;
    const bool body = parser_.receiving_body();
    if (was_mid && !answered && body == was_body) {
        // The same request, in the same phase: only a body's bytes count (for its minimum rate).
        if (body) {
            phase_bytes_ =
                len > UINT32_MAX - phase_bytes_ ? UINT32_MAX : phase_bytes_ + uint32_t(len);
        }
        return;
    }
    // A request began in this read, or its head is complete: a new phase with its own deadline.
    phase_start_ms_ = hub_.now_ms();
    phase_bytes_ = 0;
    schedule_deadline();
}

// ---- route and answer -----------------------------------------------------------------------

uint8_t Connection::request_flags(const http::Request& req) const noexcept {
    // (A stopping server still answers every request it has received; end_after_queued() makes
    // the last answer the connection's last.)
    uint8_t flags = req.keep_alive() ? kKeepAlive : 0;
    if (req.method() == Method::kHead) flags |= kHeadOnly;
    if (req.version_minor() == 0) flags |= kHttp10;
    return flags;
}

// What route() answered at once: the answer and who gave it (net/hooks.h). No answer when the
// request took a place (deferred, streamed, handed off, upgraded): it is seen when framed there.
struct Connection::Routed {
    const http::Response* answer = nullptr;
    AnswerCause cause = AnswerCause::kHandler;
};

bool Connection::on_request(http::Request& req, Feed& feed) noexcept {
    // A server with hooks takes the other path; without, this branch is all they cost.
    if (hub_.hooked_) [[unlikely]] {
        return on_request_hooked(req, feed);
    }
    return route<false>(req, feed, nullptr);
}

template <bool kHooked>
[[gnu::always_inline]] inline bool Connection::route(http::Request& req, Feed& feed,
                                                     Routed* routed) noexcept {
    const SharedState& shared = hub_.shared_;
    http::Response& res = hub_.fresh_response();
    const http::Response* answer = &res;
    AnswerCause cause = AnswerCause::kHandler;
    const router::Match m = shared.router.match(req);
    uint8_t flags = request_flags(req);
    switch (m.kind) {
        case router::Match::Kind::kFound: {
            const router::RouteMeta& meta = shared.router.meta(m.route);
            // (Fixed answers are not compressed: they would be compressed again for every
            // request; a route that wants it answers from a handler.)
            if (shared.compressing && meta.kind != router::HandlerKind::kFixed) [[unlikely]] {
                flags |= hub_.coding_flags(req, m.route);
            }
            if (meta.kind == router::HandlerKind::kJavaScript) {
                return hand_off(req, meta.handler, flags, feed);
            }
            if (meta.kind == router::HandlerKind::kFixed) {
                answer = shared.fixed[meta.handler].get();
                cause = AnswerCause::kFixed;
                break;
            }
            Taking taking(*this, flags, req);
            res.set_responder(&taking);
            [[maybe_unused]] const uint64_t errors_before = kHooked ? hub_.handler_errors_ : 0;
            hub_.run_handler(meta.handler, req, res);
            res.set_responder(nullptr);
            if (taking.taken) {
                // Answered later, in its place (a throw after defer() is the Later's business).
                // A stream that already ended the connection (cut short, close-delimited) stops
                // the parsing as well.
                ++feed.answered;
                if (taking.deferred && !upgrading() && req.header("upgrade").has_value())
                    [[unlikely]] {
                    return hold_for_upgrade();
                }
                const bool keep =
                    (taking.flags & kKeepAlive) != 0 && !close_after_flush_ && !upgrading();
                if (!keep) close_after_flush_ = true;
                return keep;
            }
            if (!res.error().empty()) hub_.answer_handler_error(res.error());
            if constexpr (kHooked) {
                if (hub_.handler_errors_ != errors_before) cause = AnswerCause::kHandlerError;
            }
            break;
        }
        case router::Match::Kind::kOptions:
            if (shared.engine_answers != SharedState::kNoId) [[unlikely]] {
                return hand_off_engine_answer(req, 204, false, feed);
            }
            // No OPTIONS route: say which methods the path answers to (RFC 9110 9.3.7).
            res.status(204).header("Allow", router::Router::allow_header(m.allowed));
            cause = AnswerCause::kOptions;
            break;
        case router::Match::Kind::kMethodNotAllowed:
            if (shared.engine_answers != SharedState::kNoId) [[unlikely]] {
                return hand_off_engine_answer(req, 405, false, feed);
            }
            cause = answer_unrouted(m);
            break;
        default:  // 404, 501
            cause = answer_unrouted(m);
            break;
    }
    const bool keep = answer_now(*answer, flags, feed);
    if constexpr (kHooked) *routed = Routed{answer, cause};
    return keep;
}

bool Connection::on_request_hooked(http::Request& req, Feed& feed) noexcept {
    AnswerCause cause = AnswerCause::kHook;
    if (hub_.answered_by_hooks(req, &cause)) {
        const bool keep = answer_now(hub_.response_, request_flags(req), feed);
        if (hub_.observed_) seen_now(&req, hub_.response_, req.method() == Method::kHead, cause);
        return keep;
    }
    Routed routed;
    const bool keep = route<true>(req, feed, &routed);
    if (routed.answer != nullptr && hub_.observed_) {
        seen_now(&req, *routed.answer, req.method() == Method::kHead, routed.cause);
    }
    return keep;
}

bool Connection::hooks_answered_at_head(http::Request& req, Feed& feed) noexcept {
    AnswerCause cause = AnswerCause::kHook;
    if (!hub_.answered_by_hooks(req, &cause)) return false;
    // The body is not read (no 100 Continue): the connection closes after the answer.
    (void)answer_now(hub_.response_, request_flags(req) & ~kKeepAlive, feed);
    if (hub_.observed_) seen_now(&req, hub_.response_, req.method() == Method::kHead, cause);
    return true;
}

bool Connection::answer_now(const http::Response& answer, uint8_t flags, Feed& feed) noexcept {
    if (answer.wants_close()) flags &= static_cast<uint8_t>(~kKeepAlive);
    const bool keep = (flags & kKeepAlive) != 0;
    emit(answer, flags);
    ++feed.answered;
    if (!keep) close_after_flush_ = true;
    return keep;
}

AnswerCause Connection::answer_unrouted(const router::Match& m) noexcept {
    switch (m.kind) {
        case router::Match::Kind::kMethodNotAllowed:
            hub_.engine_answer(405, AnswerCause::kMethodNotAllowed)
                .header("Allow", router::Router::allow_header(m.allowed));
            return AnswerCause::kMethodNotAllowed;
        case router::Match::Kind::kNotImplemented:
            hub_.engine_answer(501, AnswerCause::kNotImplemented);
            return AnswerCause::kNotImplemented;
        default:
            hub_.engine_answer(404, AnswerCause::kNoRoute);
            return AnswerCause::kNoRoute;
    }
}

void Connection::seen_now(const http::Request* req, const http::Response& res, bool head_only,
                          AnswerCause cause) noexcept {
    ResponseInfo info;
    if (req != nullptr) {
        info.method = req->method();
        info.method_name = req->method_name();
        info.target = req->target();
    }
    describe(info, res, head_only, cause);
    if (has_waiting()) [[unlikely]] {
        // Framed into the last place, behind an awaited answer (emit_behind): the hooks are
        // told when it goes out, after the answers before it.
        ResponseQueue::Place& p = queue_->at(queue_->waiting() - 1);
        p.dispatched_ns = hub_.worker_.now_ns();
        if (req != nullptr) queue_->remember(p, info.method, info.method_name, info.target);
        queue_->note_answer(p, info.status, cause, info.detail, info.body_bytes);
        return;
    }
    hub_.tell(info);
}

ResponseInfo Connection::about(const ResponseQueue::Place& p) const noexcept {
    ResponseInfo info;
    info.method = p.method;
    info.method_name = queue_->method_name(p);
    info.target = queue_->target(p);
    info.elapsed_us = (hub_.worker_.now_ns() - p.dispatched_ns) / 1000;
    return info;
}

ResponseInfo Connection::told(const ResponseQueue::Place& p) const noexcept {
    ResponseInfo info = about(p);
    info.status = p.status;
    info.cause = p.cause;
    info.detail = queue_->detail(p);
    info.body_bytes = p.body_bytes;
    info.complete = p.complete;
    return info;
}

void Connection::describe(ResponseInfo& info, const http::Response& res, bool head_only,
                          AnswerCause cause) const noexcept {
    info.status = res.status_code();
    info.cause = cause;
    if (is_engine_answer(cause)) info.detail = hub_.answer_detail();
    info.body_bytes = head_only || http::bodiless(info.status) ? 0 : res.body_view().size();
}

bool Connection::take_place(uint8_t flags, Ticket* ticket, const http::Request& req) noexcept {
    if (queue_ == nullptr) {
        queue_ = hub_.take_queue();
        if (queue_ == nullptr) return false;
    }
    queue_->restart_at(next_seq_);
    *ticket = Ticket{slot_, generation_, next_seq_, flags};
    ResponseQueue::Place& p = push_place(flags, false);
    p.dispatched_ns = hub_.worker_.now_ns();
    if (hub_.observed_) [[unlikely]] {
        // The after-response hooks are told of it when it is answered, after `req` is gone.
        queue_->remember(p, req.method(), req.method_name(), req.target());
    }
    if (queue_->waiting() == 1) schedule_deadline();  // its handler timeout
    return true;
}

bool Connection::hand_off(const http::Request& req, uint32_t id, uint8_t flags,
                          Feed& feed) noexcept {
    Ticket ticket;
    if (!take_place(flags, &ticket, req)) {
        write_error(503, AnswerCause::kUnavailable, (flags & kHeadOnly) != 0,
                    "no memory for the request's place", &req);
        return false;
    }
    queue_->places.back().handed_off = true;
    hub_.handoff_->submit(req, id, ticket);
    feed.handed_off = true;
    ++feed.answered;
    const bool keep = (flags & kKeepAlive) != 0;
    if (!keep) close_after_flush_ = true;
    return keep;
}

bool Connection::hand_off_engine_answer(const http::Request& req, uint16_t status, bool last,
                                        Feed& feed) noexcept {
    uint8_t flags = request_flags(req);
    if (last) flags &= static_cast<uint8_t>(~kKeepAlive);
    Ticket ticket;
    if (!take_place(flags, &ticket, req)) {
        write_error(503, AnswerCause::kUnavailable, (flags & kHeadOnly) != 0,
                    "no memory for the request's place", &req);
        return false;
    }
    hub_.handoff_->submit_engine_answer(req, hub_.shared_.engine_answers, status, ticket);
    feed.handed_off = true;
    ++feed.answered;
    const bool keep = (flags & kKeepAlive) != 0;
    if (!keep) close_after_flush_ = true;
    return keep;
}

bool Connection::engine_answer_at_head(http::Request& req, const router::Match& m,
                                       Feed& feed) noexcept {
    const SharedState& shared = hub_.shared_;
    // (The limit of a collected body; a route that streams its body in has its own and is not
    // refused here.)
    const uint64_t limit = hub_.config_.limits.max_body_size;
    const bool over = declared_length(req) > limit;
    switch (m.kind) {
        case router::Match::Kind::kFound:
            if (!over || shared.router.meta(m.route).kind != router::HandlerKind::kJavaScript ||
                shared.router.meta(m.route).options != 0) {
                return false;  // (options: a streamed body, with its own limit)
            }
            (void)hand_off_engine_answer(req, 413, true, feed);
            return true;
        case router::Match::Kind::kMethodNotAllowed:
        case router::Match::Kind::kOptions:
            // Its body is not needed: read it as usual, unless the client waits for a go-ahead
            // it will not get, or the body is over the limit (the engine would answer 413).
            if (!over && !req.header("expect").has_value()) return false;
            (void)hand_off_engine_answer(req, m.kind == router::Match::Kind::kOptions ? 204 : 405,
                                         true, feed);
            return true;
        default:
            return false;
    }
}

bool Connection::on_body_refused(http::Request& req, int status, Feed& feed) noexcept {
    const SharedState& shared = hub_.shared_;
    if (shared.engine_answers == SharedState::kNoId || status != 413) return false;
    const router::Match m = shared.router.match(req);
    if (m.kind != router::Match::Kind::kFound ||
        shared.router.meta(m.route).kind != router::HandlerKind::kJavaScript) {
        return false;
    }
    (void)hand_off_engine_answer(req, 413, true, feed);
    return true;
}

Later Connection::defer_current(uint8_t flags, const http::Request& req) noexcept {
    Ticket ticket;
    if (!take_place(flags, &ticket, req)) return {};
    return Later(hub_.loop_, ticket);
}

Stream Connection::stream_current(const http::Response& head, uint8_t flags, http::BodyFraming body,
                                  uint64_t length, const http::Request& req) noexcept {
    if (!head.error().empty()) return {};  // the handler's 500 is sent instead
    if (head.wants_close()) flags &= static_cast<uint8_t>(~kKeepAlive);
    Ticket ticket;
    if (!take_place(flags, &ticket, req)) return {};
    return begin_stream(ticket, head, body, length);
}

Stream Connection::stream_deferred(const Ticket& ticket, const http::Response& head,
                                   http::BodyFraming body, uint64_t length) noexcept {
    if (!head.error().empty() || !awaiting(ticket)) return {};
    if (head.wants_close()) queue_->find(ticket.seq)->flags &= static_cast<uint8_t>(~kKeepAlive);
    return begin_stream(ticket, head, body, length);
}

Stream Connection::begin_stream(const Ticket& ticket, const http::Response& head,
                                http::BodyFraming body, uint64_t length) noexcept {
    start_stream(ticket, head, body, length);
    return Stream(hub_.loop_, ticket);
}

bool Connection::open_handed_off_stream(const Ticket& ticket, const http::Response& head,
                                        http::BodyFraming body, uint64_t length) noexcept {
    if (!head.error().empty() || !awaiting(ticket)) return false;
    if (head.wants_close()) queue_->find(ticket.seq)->flags &= static_cast<uint8_t>(~kKeepAlive);
    start_stream(ticket, head, body, length);
    return true;
}

void Connection::start_stream(const Ticket& ticket, const http::Response& head,
                              http::BodyFraming body, uint64_t length) noexcept {
    ResponseQueue::Place& p = *queue_->find(ticket.seq);
    p.status = static_cast<uint16_t>(head.status_code());
    const bool front = queue_->index_of(p) == 0;
    if (front) take_output_buffer();
    p.streaming = true;
    if (body == http::BodyFraming::kPreframed) {
        // The other side writes the whole response (head, framing, HEAD's missing body): the
        // engine only keeps its place in the connection's order and ends it.
        p.body = body;
        if (front) {
            close_at_ = kNoOffset;
            queue_flush();
        }
        schedule_deadline();
        return;
    }
    std::string_view fields = head.header_lines();
    if ((p.flags & kCompress) != 0 && body == http::BodyFraming::kChunked) [[unlikely]] {
        // A stream of unknown length may be encoded, each write flushed so that it reaches the
        // client at once (Server-Sent Events). One with a Content-Length goes out as it is.
        auto coding = static_cast<http::ContentCoding>((p.flags & kCodingMask) >> kCodingShift);
        if (hub_.compressor_.qualifies(head, false)) {
            const bool head_only = (p.flags & kHeadOnly) != 0;
            if (coding != http::ContentCoding::kIdentity && !head_only) {
                p.encoder = hub_.compressor_.encoders().take(
                    static_cast<compress::Coding>(coding), 0);
                if (!p.encoder) coding = http::ContentCoding::kIdentity;  // no memory: as it is
            }
            if (const std::string_view* f = hub_.compressor_.stream_fields(head, coding)) {
                fields = *f;
            }
        }
    }
    p.body = hub_.writer_.write_head(front ? out_ : p.bytes, head, framing_of(p.flags), body,
                                     length, fields);
    if (p.body == http::BodyFraming::kNone && p.encoder) {
        hub_.compressor_.encoders().give(std::move(p.encoder));
    }
    if (front) close_at_ = kNoOffset;
    p.remaining = length;
    if (p.body == http::BodyFraming::kUntilClose) p.flags &= static_cast<uint8_t>(~kKeepAlive);
    if (front) queue_flush();
    schedule_deadline();  // a stream has no handler timeout
}

ResponseQueue::Place& Connection::push_place(uint8_t flags, bool ready) noexcept {
    ++next_seq_;
    return queue_->push(hub_.now_ms(), flags, ready);
}

void Connection::write_response(const http::Response& res, uint8_t flags) noexcept {
    take_output_buffer();
    const size_t head_end = hub_.frame(out_, res, flags, framing_of(flags));
    close_at_ = patchable(flags) ? static_cast<uint32_t>(head_end) : kNoOffset;
}

void Connection::emit(const http::Response& res, uint8_t flags) noexcept {
    if (has_waiting()) [[unlikely]] {
        emit_behind(res, flags);
        return;
    }
    // The fast path: framed straight into the output (write_response(), by hand).
    hub_.take_output_buffer(out_, out_slab_);
    const size_t head_end = hub_.frame(out_, res, flags, framing_of(flags));
    close_at_ = patchable(flags) ? static_cast<uint32_t>(head_end) : kNoOffset;
    count_unsent();
}

void Connection::emit_behind(const http::Response& res, uint8_t flags) noexcept {
    // Behind an awaited answer: it takes the next place, answered already.
    ResponseQueue::Place& p = push_place(flags, true);
    const size_t head_end = hub_.frame(p.bytes, res, flags, framing_of(flags));
    p.head_end = patchable(flags) ? static_cast<uint32_t>(head_end) : UINT32_MAX;
}

bool Connection::complete(const Ticket& ticket, const http::Response& res,
                          AnswerCause cause) noexcept {
    if (!has_waiting()) return false;
    const uint32_t index = ticket.seq - queue_->first_seq;  // wraps for seqs before the front
    if (index >= queue_->waiting() || queue_->at(index).ready || queue_->at(index).streaming) {
        return false;  // answered already (by the handler timeout), or never issued
    }
    if (!res.error().empty()) {
        hub_.answer_handler_error(res.error());  // res is the worker's response: now a 500
        cause = AnswerCause::kHandlerError;
    }
    const bool body_open = answered_before_body_end(ticket.seq, index);
    answer(index, res, cause);
    if (body_open) [[unlikely]] {
        read_on_dropped_body();
    }
    return true;
}

bool Connection::answered_before_body_end(uint32_t seq, size_t index) noexcept {
    // The rest of the body is read and dropped (so the next request on the connection is
    // found), no longer sent. A client still waiting for 100-continue would never send it: the
    // connection closes after this answer instead.
    ResponseQueue::IncomingBody& body = queue_->incoming;
    if (!body.active || !body.handoff || body.ticket.seq != seq) [[likely]] {
        return false;
    }
    body.discard = true;
    body.in_flight = 0;
    if (body.continue_held) queue_->at(index).flags &= static_cast<uint8_t>(~kKeepAlive);
    return true;
}

void Connection::read_on_dropped_body() noexcept {
    // After the answer: a body paused for backpressure is read on (and dropped), unless the
    // answer closed the connection.
    if (queue_ != nullptr && !closing_ && queue_->incoming.active && queue_->incoming.paused) {
        body_pause(queue_->incoming.seq, false);
    }
}

void Connection::answer(size_t index, const http::Response& res, AnswerCause cause) noexcept {
    if (queue_->upgrade.awaiting && queue_->first_seq + index == queue_->upgrade.seq) [[unlikely]] {
        refuse_held_upgrade();
    }
    ResponseQueue::Place& p = queue_->at(index);
    ResponseInfo info;
    if (hub_.observed_) [[unlikely]] {
        info = about(p);
        describe(info, res, (p.flags & kHeadOnly) != 0, cause);
    }
    // Connection: close when the request or the response asks for it, or when the server stops
    // and nothing is queued behind this answer.
    const bool last = index + 1 == queue_->waiting();
    const bool keep =
        (p.flags & kKeepAlive) != 0 && !res.wants_close() && !(hub_.stopping_ && last);
    const uint8_t flags = static_cast<uint8_t>((p.flags & ~kKeepAlive) | (keep ? kKeepAlive : 0));
    std::vector<Task> aborts;
    if (!keep) {
        // Nothing behind it will be sent: drop the places of requests that came after it.
        tell_aborted_after(index);
        queue_->truncate_after(index, aborts);
        close_after_flush_ = true;
    }
    p.on_abort = nullptr;  // answered: it can no longer be aborted
    p.handed_off = false;
    if (index == 0) {
        write_response(res, flags);
        count_unsent();
        if (hub_.observed_) [[unlikely]] {
            hub_.tell(info);  // before the answers behind it
        }
        queue_->pop();
        pop_answered();
    } else {
        const size_t head_end = hub_.frame(p.bytes, res, flags, framing_of(flags));
        p.head_end = patchable(flags) ? static_cast<uint32_t>(head_end) : UINT32_MAX;
        p.ready = true;
        if (hub_.observed_) [[unlikely]] {
            // Told when it goes out, in order (pop_answered()).
            queue_->note_answer(p, info.status, cause, info.detail, info.body_bytes);
        }
    }
    run_aborts(aborts);
}

void Connection::answer_instead(int status, AnswerCause cause, std::string_view detail) noexcept {
    // The engine answers in the handler's place: the code that would have answered learns it
    // can no longer (its on_abort runs, after the queue has moved on).
    std::vector<Task> aborts;
    if (queue_->front().on_abort) aborts.push_back(std::move(queue_->front().on_abort));
    tell_aborted(queue_->front(), queue_->first_seq);
    answer(0, hub_.engine_answer(status, cause, detail), cause);
    run_aborts(aborts);
}

void Connection::run_aborts(std::vector<Task>& aborts) noexcept {
    for (Task& fn : aborts) {
        try {
            fn();
        } catch (...) {
            // An abort callback has no one to report to; the connection is gone either way.
        }
    }
    aborts.clear();
}

void Connection::tell_aborted(ResponseQueue::Place& p, uint32_t seq) noexcept {
    if (!p.handed_off) return;
    p.handed_off = false;
    hub_.handoff_->aborted(Ticket{slot_, generation_, seq, p.flags});
}

void Connection::tell_aborted_after(size_t index) noexcept {
    for (size_t i = index + 1; i < queue_->waiting(); ++i) {
        ResponseQueue::Place& p = queue_->at(i);
        if (!p.ready) tell_aborted(p, queue_->first_seq + static_cast<uint32_t>(i));
    }
}

void Connection::pop_answered() noexcept {
    while (queue_->waiting() != 0 && queue_->front().ready) {
        ResponseQueue::Place& p = queue_->front();
        // An answer (or ended stream) that waited, framed, for the ones before it: now the
        // after-response hooks are told of it, in request order.
        ResponseInfo info;
        const bool tell = hub_.observed_ && p.status != 0;
        if (tell) [[unlikely]] {
            info = told(p);
        }
        take_output_buffer();
        close_at_ =
            p.head_end == UINT32_MAX ? kNoOffset : static_cast<uint32_t>(out_.size() + p.head_end);
        out_.append(p.bytes.data(), p.bytes.size());
        p.bytes.release();  // (a place's buffer is never reused: the place goes with it)
        count_unsent();
        queue_->pop();
        if (tell) [[unlikely]] {
            hub_.tell(info);
        }
    }
    if (queue_->waiting() != 0 && queue_->front().streaming && !queue_->front().bytes.empty()) {
        // A stream reached the front: what it wrote so far goes out, the rest goes straight.
        ResponseQueue::Place& p = queue_->front();
        take_output_buffer();
        out_.append(p.bytes.data(), p.bytes.size());
        p.bytes.release();
        close_at_ = kNoOffset;  // a stream's head is not patched
    }
    if (!out_.empty()) queue_flush();
    // A new oldest request (its own deadline), or none: back to the idle/send rules.
    schedule_deadline();
}

// ---- streamed request bodies ---------------------------------------------------------------

http::BodyDecision Connection::on_head(http::Request& req, Feed& feed) noexcept {
    using Action = http::BodyDecision::Action;
    const SharedState& shared = hub_.shared_;
    const router::Match m = shared.router.match(req);
    if (shared.engine_answers != SharedState::kNoId && engine_answer_at_head(req, m, feed)) {
        return {Action::kStop, 0};
    }
    if (m.kind == router::Match::Kind::kFound) {
        const router::RouteMeta& meta = shared.router.meta(m.route);
        if (meta.kind == router::HandlerKind::kJavaScript) {
            if (meta.options == 0) return {};  // collected as usual
            return hand_off_streaming(req, meta.handler,
                                      shared.handoff_options[meta.options - 1], feed);
        }
        if (meta.kind != router::HandlerKind::kNative ||
            meta.handler >= shared.route_options.size() ||
            !shared.route_options[meta.handler].stream_body) {
            return {};  // collected as usual (100 Continue, if asked, as usual)
        }
        // Its handler runs now, at the head: so do the before-route hooks.
        if (hub_.hooked_ && hooks_answered_at_head(req, feed)) return {Action::kStop, 0};
        if (queue_ == nullptr && (queue_ = hub_.take_queue()) == nullptr) {
            write_error(503, AnswerCause::kUnavailable, req.method() == Method::kHead,
                        "no memory for the request's place", &req);
            return {Action::kStop, 0};
        }
        // The handler runs now; its body comes through a BodyReader.
        uint8_t flags = request_flags(req);
        if (shared.compressing) flags |= hub_.coding_flags(req, m.route);
        Taking taking(*this, flags, req);
        taking.body_allowed = true;
        taking.body_seq = ++queue_->bodies;  // a reader of an earlier body names none later
        queue_->incoming = ResponseQueue::IncomingBody{};
        queue_->incoming.active = true;
        queue_->incoming.seq = taking.body_seq;
        queue_->incoming.places_before = queue_->waiting();
        // Over the route's limit by Content-Length: 413 from the parser, the handler never runs.
        const uint64_t limit = shared.route_options[meta.handler].max_body_size;
        if (limit != 0 && declared_length(req) > limit) {
            queue_->incoming = {};
            return {Action::kStream, limit};
        }
        http::Response& res = hub_.fresh_response();
        res.set_responder(&taking);
        req.set_body_source(&taking);
        const uint64_t errors_before = hub_.handler_errors_;
        hub_.run_handler(meta.handler, req, res);
        res.set_responder(nullptr);
        req.set_body_source(nullptr);
        if (!taking.taken && !res.error().empty()) hub_.answer_handler_error(res.error());
        ++feed.answered;
        if (!taking.taken) {
            // Answered now: the answer goes out first, and whatever the body holds is read on
            // (to the reader, or dropped) — unless nobody took it: then this is the last answer
            // (no 100 Continue; the client may still send the body) and the connection closes.
            uint8_t now = flags;
            if (res.wants_close() || !taking.body_taken) now &= static_cast<uint8_t>(~kKeepAlive);
            emit(res, now);
            if (hub_.observed_) {
                seen_now(&req, res, (flags & kHeadOnly) != 0,
                         hub_.handler_errors_ != errors_before ? AnswerCause::kHandlerError
                                                               : AnswerCause::kHandler);
            }
            if ((now & kKeepAlive) == 0) {
                queue_->incoming = {};
                close_after_flush_ = true;
                return {Action::kStop, 0};
            }
        } else if ((taking.flags & kKeepAlive) == 0) {
            queue_->incoming.last = true;  // after this request's body, the connection ends
        }
        return {Action::kStream, shared.route_options[meta.handler].max_body_size};
    }
    if (req.header("expect").has_value()) {
        // 100-continue for a request no route takes: the answer instead of the go-ahead, and
        // the connection closes (the client may send the body anyway). The before-route hooks
        // see it first, as they see every request that reaches routing.
        if (hub_.hooked_ && hooks_answered_at_head(req, feed)) return {Action::kStop, 0};
        const bool head = req.method() == Method::kHead;
        const AnswerCause cause = answer_unrouted(m);
        emit(hub_.response_, head ? kHeadOnly : 0);
        ++feed.answered;
        close_after_flush_ = true;
        if (hub_.observed_) seen_now(&req, hub_.response_, head, cause);
        return {Action::kStop, 0};
    }
    return {};
}

http::BodyDecision Connection::hand_off_streaming(http::Request& req, uint32_t id,
                                                 const RouteOptions& options, Feed& feed) noexcept {
    using Action = http::BodyDecision::Action;
    // Handed off at its head, like a streaming C++ route's handler runs there: so do the
    // before-route hooks.
    if (hub_.hooked_ && hooks_answered_at_head(req, feed)) return {Action::kStop, 0};
    // Over the route's limit by Content-Length: 413 from the parser, the handoff never sees it
    // (or, when the server hands the engine's answers over, as an engine answer).
    if (options.max_body_size != 0 && declared_length(req) > options.max_body_size) {
        if (hub_.shared_.engine_answers != SharedState::kNoId) {
            (void)hand_off_engine_answer(req, 413, true, feed);
            return {Action::kStop, 0};
        }
        return {Action::kStream, options.max_body_size};
    }
    const uint8_t flags = request_flags(req);
    const size_t before = has_waiting() ? queue_->waiting() : 0;
    Ticket ticket;
    if (!take_place(flags, &ticket, req)) {
        write_error(503, AnswerCause::kUnavailable, (flags & kHeadOnly) != 0,
                    "no memory for the request's place", &req);
        return {Action::kStop, 0};
    }
    ++feed.answered;
    if (!hub_.handoff_->submit_streaming(req, id, ticket)) {
        // (Cannot happen with the JavaScript bridge.) The place is answered; its body is
        // dropped and the connection closes.
        queue_->at(queue_->waiting() - 1).flags &= static_cast<uint8_t>(~kKeepAlive);
        answer(queue_->waiting() - 1,
               hub_.engine_answer(500, AnswerCause::kHandlerError,
                                  "the handoff does not take streamed request bodies"),
               AnswerCause::kHandlerError);
        return {Action::kStop, 0};
    }
    feed.handed_off = true;
    ResponseQueue::IncomingBody& body = queue_->incoming;
    body = ResponseQueue::IncomingBody{};
    body.active = true;
    body.handoff = true;
    body.seq = ++queue_->bodies;
    body.places_before = before;
    body.ticket = ticket;
    body.continue_held = req.header("expect").has_value();  // (the parser let 100-continue by)
    body.last = (flags & kKeepAlive) == 0;  // after this body, the connection ends
    return {Action::kStream, options.max_body_size};
}

void Connection::body_control(const Ticket& ticket, BodyControl op, uint32_t bytes) noexcept {
    if (queue_ == nullptr || closing_) return;
    ResponseQueue::IncomingBody& body = queue_->incoming;
    if (!body.active || !body.handoff || body.ticket.seq != ticket.seq) return;
    switch (op) {
        case BodyControl::kCredit:
            body.in_flight -= std::min(bytes, body.in_flight);
            break;
        case BodyControl::kStart:
            if (!body.continue_held) return;
            body.continue_held = false;
            if (body.continue_due && body.places_before == 0 && !close_after_flush_ &&
                awaiting(ticket)) {
                // The client waits for the go-ahead before it sends the body.
                take_output_buffer();
                out_.append(kContinue);
                queue_flush();
            }
            return;
        case BodyControl::kDiscard:
            body.discard = true;
            body.in_flight = 0;
            break;
    }
    if (body.paused && body.in_flight < kBodyWindow) body_pause(body.seq, false);
}

uint64_t Connection::declared_length(const http::Request& req) noexcept {
    // The parser has checked the field (digits, one value); absent or chunked: 0.
    const std::optional<std::string_view> v = req.header("content-length");
    uint64_t n = 0;
    if (v) (void)std::from_chars(v->data(), v->data() + v->size(), n);
    return n;
}

void Connection::fail_streamed_body(int status, std::string_view detail) noexcept {
    // The body broke its framing or its limit: the request is answered `status` in its own
    // place (the handler's answer, if it deferred, can no longer come), its reader is aborted,
    // and the connection closes.
    ResponseQueue::IncomingBody body = std::move(queue_->incoming);
    queue_->incoming = {};
    if (body.handoff && !body.discard) hub_.handoff_->body_error(body.ticket, status, detail);
    if (has_waiting() && queue_->waiting() > body.places_before) {
        const size_t own = queue_->waiting() - 1;
        ResponseQueue::Place& p = queue_->at(own);
        if (!p.ready && !p.streaming) {
            p.flags &= static_cast<uint8_t>(~kKeepAlive);
            p.on_abort = nullptr;
            if (body.handoff && !body.discard && status == 413 &&
                hub_.shared_.engine_answers != SharedState::kNoId) {
                // The server hands the engine's answers over: the other side, told by the body
                // error, answers the 413 itself (within the handler timeout, from now).
                p.start_ms = hub_.now_ms();
                schedule_deadline();
            } else {
                tell_aborted(p, queue_->first_seq + static_cast<uint32_t>(own));
                const AnswerCause cause = refusal_cause(status);
                answer(own, hub_.engine_answer(status, cause, detail), cause);
            }
        }
        close_after_flush_ = true;
    } else {
        write_error(status, refusal_cause(status), false, detail);
    }
    std::vector<Task> aborts;
    if (body.on_abort) aborts.push_back(std::move(body.on_abort));
    run_aborts(aborts);
}

void Connection::on_body_data(std::string_view bytes, Feed& feed) noexcept {
    if (queue_ == nullptr || !queue_->incoming.active) return;
    ResponseQueue::IncomingBody& body = queue_->incoming;
    if (body.handoff) {
        if (body.discard || bytes.empty()) return;
        // Pieces of at most 64 KiB (a receive's worth is far less; held input is parsed one
        // receive buffer at a time): an event record always fits the ring.
        constexpr size_t kPiece = 64 * 1024;
        for (size_t at = 0; at < bytes.size(); at += kPiece) {
            hub_.handoff_->body_data(body.ticket, bytes.substr(at, kPiece));
        }
        body.in_flight = bytes.size() > UINT32_MAX - body.in_flight
                             ? UINT32_MAX
                             : body.in_flight + static_cast<uint32_t>(bytes.size());
        feed.handed_off = true;  // a saturated handoff pauses the reading (handle_bytes)
        // The window is full: read no more until credit comes back (handle_bytes pauses).
        if (body.in_flight >= kBodyWindow) body.paused = true;
        return;
    }
    if (!body.on_data) return;
    try {
        queue_->incoming.on_data(bytes);
    } catch (const std::exception& e) {
        hub_.report("a body's on_data threw (the rest of the body is dropped): ", e.what());
        queue_->incoming.on_data = nullptr;
    } catch (...) {
        hub_.report("a body's on_data threw (the rest of the body is dropped)");
        queue_->incoming.on_data = nullptr;
    }
}

bool Connection::on_body_end() noexcept {
    if (queue_ != nullptr && queue_->incoming.active) {
        if (queue_->incoming.handoff && !queue_->incoming.discard) {
            hub_.handoff_->body_end(queue_->incoming.ticket);
        }
        Task end = std::move(queue_->incoming.on_end);
        // The request's own deferred place (if it took one): its handler's time starts now.
        if (queue_->waiting() > queue_->incoming.places_before) {
            queue_->at(queue_->incoming.places_before).start_ms = hub_.now_ms();
        }
        if (queue_->incoming.last) close_after_flush_ = true;
        queue_->incoming = {};
        schedule_deadline();
        if (end) {
            try {
                end();
            } catch (const std::exception& e) {
                hub_.report("a body's on_end threw: ", e.what());
            } catch (...) {
                hub_.report("a body's on_end threw a non-standard exception");
            }
        }
    }
    return !close_after_flush_;
}

ResponseQueue::IncomingBody* Connection::incoming(uint32_t seq) noexcept {
    if (queue_ == nullptr || closing_ || !queue_->incoming.active) return nullptr;
    return queue_->incoming.seq == seq ? &queue_->incoming : nullptr;
}

void Connection::body_on_data(uint32_t seq, UniqueFunction<void(std::string_view)> fn) noexcept {
    if (ResponseQueue::IncomingBody* b = incoming(seq)) b->on_data = std::move(fn);
}

void Connection::body_on_end(uint32_t seq, Task fn) noexcept {
    if (ResponseQueue::IncomingBody* b = incoming(seq)) b->on_end = std::move(fn);
}

void Connection::body_on_abort(uint32_t seq, Task fn) noexcept {
    if (ResponseQueue::IncomingBody* b = incoming(seq)) b->on_abort = std::move(fn);
}

void Connection::body_pause(uint32_t seq, bool paused) noexcept {
    ResponseQueue::IncomingBody* b = incoming(seq);
    if (b == nullptr || b->paused == paused) return;
    b->paused = paused;
    if (paused) {
        pause_reading();
    } else {
        resume_reading();
    }
    schedule_deadline();  // the body's minimum rate stops or starts again
}

void Connection::resume_reading() noexcept {
    if (!reading_paused_ || handoff_paused_ || body_paused() || over_output_bounds() ||
        upgrade_held()) {
        return;
    }
    if (!feed_held_input() || over_output_bounds() || body_paused() || handoff_paused_) return;
    reading_paused_ = false;
    if (!recv_armed_) hub_.rearm_at_turn_end(this);
}

// ---- protocol upgrades ----------------------------------------------------------------------

bool Connection::upgrade_current(const http::Response& head, uint8_t flags,
                                 UniqueFunction<void(Upgraded)> take,
                                 const http::Request& req) noexcept {
    if (!head.error().empty()) return false;  // the handler's 500 is sent instead
    if (queue_ == nullptr && (queue_ = hub_.take_queue()) == nullptr) return false;
    if (queue_->upgrade.pending || queue_->incoming.active) return false;
    queue_->upgrade.pending = true;
    queue_->upgrade.take = std::move(take);
    queue_->upgrade.received.clear();
    // The 101 in the request's place; "Connection: Upgrade" instead of keep-alive or close.
    emit(head, static_cast<uint8_t>((flags | kUpgrade | kKeepAlive) & ~kHeadOnly));
    close_at_ = kNoOffset;
    pause_reading();  // what still arrives is held for the new protocol, never parsed
    if (hub_.observed_) [[unlikely]] {
        seen_now(&req, head, false, AnswerCause::kHandler);
    }
    return true;
}

void Connection::maybe_hand_over() noexcept {
    if (!upgrading() || closing_ || has_waiting() || !out_.empty() || send_in_flight_ ||
        recv_armed_) {
        return;
    }
    ResponseQueue::PendingUpgrade up = std::move(queue_->upgrade);
    queue_->upgrade = {};
    if (WorkerServer::HeldInput* h = hub_.find_held_input(this)) {
        up.received.append(h->bytes.data() + h->parsed, h->bytes.size() - h->parsed);
    }
    const int fd = fd_;
    // Leave the HTTP/1 state machine: the slot is free, the descriptor is not closed.
    closing_ = true;
    hub_.worker_.timers().cancel(&timer_);
    fd_ = -1;
    ++generation_;
    parser_.reset(hub_.parse_);
    if (queue_ != nullptr) {
        hub_.give_back(queue_);
        queue_ = nullptr;
    }
    hub_.give_back(out_, out_slab_);
    hub_.give_back(sending_, sending_slab_);
    hub_.connection_released(this);  // `this` may be reused from here on
    try {
        up.take(Upgraded{fd, std::move(up.received)});
    } catch (const std::exception& e) {
        hub_.report("an upgrade callback threw (the connection is closed): ", e.what());
        ::close(fd);
    } catch (...) {
        hub_.report("an upgrade callback threw (the connection is closed)");
        ::close(fd);
    }
}

bool Connection::hold_for_upgrade() noexcept {
    // The handler deferred its answer to an upgrade request: until it is given, what follows may
    // be the new protocol's bytes, so nothing more is parsed (on_unparsed keeps them). Answered
    // already (inside the handler), there is nothing to wait for.
    const uint32_t seq = queue_->first_seq + static_cast<uint32_t>(queue_->waiting()) - 1;
    const ResponseQueue::Place* p = queue_->find(seq);
    if (p == nullptr || p->ready) return !close_after_flush_;
    queue_->upgrade.awaiting = true;
    queue_->upgrade.seq = seq;
    queue_->upgrade.received.clear();
    pause_reading();
    return false;
}

void Connection::refuse_held_upgrade() noexcept {
    // Answered without the upgrade: what followed the request is HTTP again, parsed (before
    // anything held since) once this answer is out (after_output_drained()).
    ResponseQueue::PendingUpgrade& up = queue_->upgrade;
    up.awaiting = false;
    if (!up.received.empty()) {
        hub_.hold_input_front(this, up.received);
        up.received.clear();
    }
}

bool Connection::complete_upgrade(const Ticket& ticket, const http::Response& head,
                                  UniqueFunction<void(Upgraded)>& take,
                                  AnswerCause cause) noexcept {
    if (!has_waiting() || !head.error().empty()) return false;
    ResponseQueue::PendingUpgrade& up = queue_->upgrade;
    const uint32_t index = ticket.seq - queue_->first_seq;
    if (!up.awaiting || up.seq != ticket.seq || index + 1 != queue_->waiting() ||
        queue_->at(index).ready || queue_->at(index).streaming) {
        return false;
    }
    up.awaiting = false;
    up.pending = true;
    up.take = std::move(take);
    ResponseQueue::Place& p = queue_->at(index);
    p.flags = static_cast<uint8_t>((p.flags | kUpgrade | kKeepAlive) & ~kHeadOnly);
    close_at_ = kNoOffset;
    answer(index, head, cause);
    return true;
}

// ---- deferred and streamed answers ----------------------------------------------------------

bool Connection::awaiting(const Ticket& ticket) noexcept {
    if (!has_waiting() || closing_) return false;
    const ResponseQueue::Place* p = queue_->find(ticket.seq);
    return p != nullptr && !p->ready && !p->streaming;
}

bool Connection::wanted(const Ticket& ticket) noexcept {
    if (!has_waiting() || closing_) return false;
    const ResponseQueue::Place* p = queue_->find(ticket.seq);
    return p != nullptr && !p->ready;
}

bool Connection::set_abort(const Ticket& ticket, Task& fn) noexcept {
    if (!has_waiting() || closing_) return false;
    ResponseQueue::Place* p = queue_->find(ticket.seq);
    if (p == nullptr || p->ready) return false;
    p->on_abort = std::move(fn);
    return true;
}

bool Connection::output_full(const ResponseQueue::Place& p, size_t index) const noexcept {
    const size_t queued = out_.size() + sending_.size() + (index == 0 ? 0 : p.bytes.size());
    return queued > hub_.config_.max_pending_output;
}

bool Connection::stream_write(const Ticket& ticket, std::string_view bytes) noexcept {
    if (!has_waiting() || closing_) return false;
    ResponseQueue::Place* p = queue_->find(ticket.seq);
    if (p == nullptr || !p->streaming || p->ready) return false;
    if (p->body == http::BodyFraming::kLength && bytes.size() > p->remaining) {
        hub_.report("a stream wrote more bytes than its Content-Length; the rest was dropped");
        bytes = bytes.substr(0, p->remaining);
    }
    if (p->body == http::BodyFraming::kLength) p->remaining -= bytes.size();
    if (p->body != http::BodyFraming::kNone) p->body_bytes += bytes.size();
    if (p->encoder && !bytes.empty()) [[unlikely]] {
        const std::string_view* encoded =
            hub_.compressor_.encode_piece(*p->encoder, bytes, compress::Flush::kSync);
        if (encoded == nullptr) {
            // The encoder failed (no memory): the encoded body cannot go on; the connection
            // closes so that the client sees it cut, not corrupt.
            hub_.report("a stream's encoder failed: the connection closes");
            p->encoder.reset();
            p->body = http::BodyFraming::kNone;  // nothing more is written: the body is cut
            p->flags &= static_cast<uint8_t>(~kKeepAlive);
            return false;
        }
        bytes = *encoded;
    }
    const size_t index = queue_->index_of(*p);
    if (index == 0) {
        if (p->body != http::BodyFraming::kNone && !bytes.empty()) {
            take_output_buffer();
            http::ResponseWriter::write_body(out_, p->body, bytes);
            queue_flush();
        }
    } else {
        http::ResponseWriter::write_body(p->bytes, p->body, bytes);
    }
    if (!output_full(*p, index)) return true;
    p->wants_writable = true;
    return false;
}

void Connection::stream_end(const Ticket& ticket, std::string_view trailer_lines) noexcept {
    finish_stream(ticket, trailer_lines, false);
}

void Connection::stream_fail(const Ticket& ticket) noexcept {
    finish_stream(ticket, {}, true);
}

bool Connection::streaming(const Ticket& ticket) noexcept {
    if (!has_waiting() || closing_) return false;
    const ResponseQueue::Place* p = queue_->find(ticket.seq);
    return p != nullptr && p->streaming && !p->ready;
}

void Connection::finish_stream(const Ticket& ticket, std::string_view trailer_lines,
                               bool failed) noexcept {
    if (!has_waiting() || closing_) return;
    ResponseQueue::Place* p = queue_->find(ticket.seq);
    if (p == nullptr || !p->streaming || p->ready) return;
    const size_t index = queue_->index_of(*p);
    // The answer is complete before the request's body is: as for complete(), the rest of the
    // body is dropped, and a client still waiting for 100 Continue (it will never send the body)
    // gets its connection closed after this answer.
    const bool body_open = answered_before_body_end(ticket.seq, index);
    std::vector<Task> aborts;
    const bool short_length = p->body == http::BodyFraming::kLength && p->remaining != 0;
    if (short_length && !failed) {
        hub_.report("a stream ended before its Content-Length: the connection closes");
    }
    // A failed stream is cut where it is (its producer failed): no last chunk, and the
    // connection closes, so that the client cannot take the body for complete.
    bool cut = short_length || (failed && p->body != http::BodyFraming::kNone);
    if (cut || p->body == http::BodyFraming::kUntilClose || (p->flags & kKeepAlive) == 0) {
        // The connection ends with this response: the places behind it are never answered.
        tell_aborted_after(index);
        queue_->truncate_after(index, aborts);
        close_after_flush_ = true;
        p = &queue_->at(index);
    }
    p->on_abort = nullptr;
    p->on_writable = nullptr;
    p->handed_off = false;  // its answer is given (or cut by its own producer)
    std::string_view tail;  // what an encoded stream's encoder still holds
    if (p->encoder) [[unlikely]] {
        if (!cut) {
            const std::string_view* encoded =
                hub_.compressor_.encode_piece(*p->encoder, {}, compress::Flush::kFinish);
            if (encoded != nullptr) {
                tail = *encoded;
            } else {
                cut = true;  // the client must not take a truncated encoding for the whole
                tell_aborted_after(index);
                queue_->truncate_after(index, aborts);
                close_after_flush_ = true;
                p = &queue_->at(index);
            }
        }
        hub_.compressor_.encoders().give(std::move(p->encoder));
    }
    // A stream is seen by the after-response hooks when it ends (cut: not complete) — at once
    // at the front, else when it goes out after the answers before it (pop_answered()).
    p->complete = !cut;
    if (index == 0) {
        ResponseInfo info;
        if (hub_.observed_) [[unlikely]] {
            info = told(*p);
        }
        take_output_buffer();
        if (!tail.empty()) http::ResponseWriter::write_body(out_, p->body, tail);
        if (!cut) http::ResponseWriter::write_end(out_, p->body, trailer_lines);
        count_unsent();
        queue_->pop();
        if (hub_.observed_) [[unlikely]] {
            hub_.tell(info);
        }
        pop_answered();
        // The end may add no bytes (a known length, or close-delimited) while the body went out
        // already: nothing will be sent that would lead to the close, so close now.
        if (!send_in_flight_ && out_.empty()) after_output_drained();
    } else {
        if (!tail.empty()) http::ResponseWriter::write_body(p->bytes, p->body, tail);
        if (!cut) http::ResponseWriter::write_end(p->bytes, p->body, trailer_lines);
        p->ready = true;
    }
    if (body_open) [[unlikely]] {
        read_on_dropped_body();
    }
    run_aborts(aborts);
}

bool Connection::stream_on_writable(const Ticket& ticket, Task fn) noexcept {
    if (!has_waiting() || closing_) return false;
    ResponseQueue::Place* p = queue_->find(ticket.seq);
    if (p == nullptr || !p->streaming || p->ready) return false;
    p->on_writable = std::move(fn);
    return true;
}

// ---- file bodies spliced to the socket (Stream::splice) ----------------------------------------
// The pipe → socket splice stands for the send: send_in_flight_ is set while it runs, so nothing
// else is sent meanwhile, the send timeout applies, a close cancels it (it is an operation on
// this socket) and the release waits for it. A stream at the front is the only writer of the
// output, so the body's bytes cannot be overtaken. (A transport that transforms the bytes — TLS,
// later — cannot splice: this is plain TCP's.)

namespace {
constexpr unsigned kSplicePipeBytes = 1024 * 1024;  // per file → pipe → socket step
}

bool Connection::stream_splice(const Ticket& ticket, int file_fd, uint64_t offset, uint64_t length,
                               UniqueFunction<void(int)>& done) noexcept {
    if (!has_waiting() || closing_ || fd_ < 0 || length == 0) return false;
    ResponseQueue::Place* p = queue_->find(ticket.seq);
    if (p == nullptr || !p->streaming || p->ready || queue_->index_of(*p) != 0) return false;
    if (p->body != http::BodyFraming::kLength || length > p->remaining) return false;
    if (hub_.find_splice(this) != nullptr) return false;
    auto job = std::make_unique<WorkerServer::SpliceJob>();
    if (pipe2(job->pipe, O_CLOEXEC) != 0) return false;
    // 1 MiB when the pipe may grow so far (fs.pipe-max-size), else what it has (64 KiB).
    int size = fcntl(job->pipe[1], F_SETPIPE_SZ, static_cast<int>(kSplicePipeBytes));
    if (size <= 0) size = fcntl(job->pipe[1], F_GETPIPE_SZ);
    job->pipe_size = size > 0 ? static_cast<uint32_t>(size) : 64 * 1024;
    job->connection = this;
    job->file = file_fd;
    job->offset = offset;
    job->remaining = length;
    job->done = std::move(done);
    hub_.splices_.push_back(std::move(job));
    // After what is queued (the head, at least) has gone: from after_output_drained().
    if (!send_in_flight_ && out_.empty()) submit_splice();
    return true;
}

void Connection::submit_splice() noexcept {
    WorkerServer::SpliceJob& j = *hub_.find_splice(this);
    io_uring* ring = hub_.worker_.ring().raw();
    if (io_uring_sq_space_left(ring) < 2) io_uring_submit(ring);  // a link must not be split
    if (j.pending > 0) {  // what the socket did not take yet
        io_uring_sqe* out = hub_.sqe();
        io_uring_prep_splice(out, j.pipe[0], -1, fd_, -1, j.pending, 0);
        io_uring_sqe_set_data64(out, make_tag(WorkerServer::kSpliceOut, generation_, slot_));
        j.in_result = 1;
    } else {
        const auto n = static_cast<unsigned>(std::min<uint64_t>(j.remaining, j.pipe_size));
        io_uring_sqe* in = hub_.sqe();
        io_uring_prep_splice(in, j.file, static_cast<int64_t>(j.offset), j.pipe[1], -1, n, 0);
        in->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data64(in, make_tag(WorkerServer::kSpliceIn, generation_, slot_));
        io_uring_sqe* out = hub_.sqe();
        io_uring_prep_splice(out, j.pipe[0], -1, fd_, -1, n, 0);
        io_uring_sqe_set_data64(out, make_tag(WorkerServer::kSpliceOut, generation_, slot_));
        j.in_result = 0;
    }
    j.busy = true;
    send_in_flight_ = true;
    send_progress_ms_ = hub_.now_ms();
    if (hub_.send_timeout_first_) schedule_deadline();
}

void Connection::on_splice_in(const io_uring_cqe& cqe) noexcept {
    WorkerServer::SpliceJob* j = hub_.find_splice(this);
    if (j == nullptr) return;
    j->in_result = cqe.res;
    if (cqe.res > 0) {
        j->pending += static_cast<uint32_t>(cqe.res);
        j->offset += static_cast<uint64_t>(cqe.res);
        j->remaining -= static_cast<uint64_t>(cqe.res);
    }
}

void Connection::on_splice_out(const io_uring_cqe& cqe) noexcept {
    send_in_flight_ = false;
    if (closing_) {
        maybe_release();  // drops the job
        return;
    }
    WorkerServer::SpliceJob* j = hub_.find_splice(this);
    if (j == nullptr) return;
    j->busy = false;
    int res = cqe.res;
    if (res == -ECANCELED) {
        res = 0;  // the file → pipe step was short or failed, which cut its link
    } else if (res < 0) {
        close();  // EPIPE, ECONNRESET: the peer is gone
        return;
    }
    if (res > 0) {
        const auto sent = static_cast<uint32_t>(res);
        j->pending -= std::min(j->pending, sent);
        ResponseQueue::Place& p = queue_->front();
        p.remaining -= std::min<uint64_t>(p.remaining, sent);
        p.body_bytes += sent;
        send_progress_ms_ = hub_.now_ms();
    }
    if (j->in_result < 0) {
        finish_splice(j->in_result);  // a read error of the file
    } else if (j->pending > 0 || (j->remaining > 0 && j->in_result > 0)) {
        submit_splice();
    } else {
        finish_splice(j->remaining == 0 ? 0 : -ENODATA);  // 0 from the file: it was cut short
    }
}

void Connection::finish_splice(int result) noexcept {
    std::unique_ptr<WorkerServer::SpliceJob> j = hub_.take_splice(this);
    if (j == nullptr) return;
    UniqueFunction<void(int)> done = std::move(j->done);
    j.reset();  // the pipe
    if (!out_.empty()) start_send();
    if (!done) return;
    try {
        done(result);  // the producer ends the stream (short of its length: the connection closes)
    } catch (const std::exception& e) {
        hub_.report("a splice's done callback threw: ", e.what());
    } catch (...) {
        hub_.report("a splice's done callback threw a non-standard exception");
    }
}

void Connection::notify_writable() noexcept {
    if (!has_waiting()) return;
    ResponseQueue::Place& p = queue_->front();
    if (p.streaming && p.wants_writable && p.handed_off && !p.ready) {
        // A handoff's stream (net/handoff.h): it is told, and writes again when it wants.
        p.wants_writable = false;
        hub_.handoff_->writable(Ticket{slot_, generation_, queue_->first_seq, p.flags});
        return;
    }
    if (!p.streaming || !p.wants_writable || !p.on_writable) return;
    p.wants_writable = false;
    // Out of the place while it runs: the callback may end the stream (and the place go).
    const uint32_t seq = queue_->first_seq;
    Task fn = std::move(p.on_writable);
    try {
        fn();
    } catch (const std::exception& e) {
        hub_.report("an on_writable callback threw: ", e.what());
    } catch (...) {
        hub_.report("an on_writable callback threw a non-standard exception");
    }
    // Still streaming, and no new callback given: it stays registered for the next time.
    if (has_waiting() && queue_->first_seq == seq && !queue_->front().ready &&
        !queue_->front().on_writable) {
        queue_->front().on_writable = std::move(fn);
    }
}

void Connection::answer_abandoned() noexcept {
    if (fd_ < 0 || closing_) return;
    while (has_waiting() && !queue_->front().streaming) {
        // The front place is never answered already (pop_answered() moved those on).
        answer_instead(503, AnswerCause::kUnavailable,
                       "the server is stopping and the handoff has stopped answering");
    }
}

void Connection::write_error(int status, AnswerCause cause, bool head_only, std::string_view detail,
                             const http::Request* req) noexcept {
    const http::Response& res = hub_.engine_answer(status, cause, detail);
    emit(res, head_only ? kHeadOnly : 0);
    close_after_flush_ = true;
    if (hub_.observed_) [[unlikely]] {
        seen_now(req, res, head_only, cause);
    }
}

// ---- deadlines ------------------------------------------------------------------------------

Connection::Deadline Connection::next_deadline() const noexcept {
    const ServerConfig& config = hub_.config_;
    const uint32_t now = hub_.now_ms();
    Deadline next;
    // `limit_ms` after `since`; a rule whose limit is 0 is off.
    auto consider = [&next, now](Due due, uint32_t since, uint64_t limit_ms) {
        if (limit_ms == 0) return;
        const int64_t left = static_cast<int64_t>(limit_ms) -
                             static_cast<int64_t>(static_cast<uint32_t>(now - since));
        if (left < next.in_ms) next = Deadline{due, left};
    };
    if (lingering_ || timed_out_) {
        // Closing: the last response (or the 408) goes out and the peer's FIN comes in, or not.
        const uint64_t linger = config.linger_timeout_ms == 0 ? 1 : config.linger_timeout_ms;
        consider(Due::kLinger, phase_start_ms_, linger);
        return next;
    }
    if (send_in_flight_ || !out_.empty()) {
        consider(Due::kSend, send_progress_ms_, config.send_timeout_ms);
    } else if (!has_waiting()) {
        consider(Due::kIdle, last_active_ms_, config.idle_timeout_ms);
    }
    if (has_waiting() && !queue_->front().streaming &&
        !(queue_->incoming.active && queue_->incoming.places_before == 0)) {
        // The oldest unanswered request; the ones behind it started later. (A stream has
        // answered: its head is out; its body has no deadline but the send timeout. A request
        // whose body is still streaming in has none either: its handler's time starts when the
        // body is in; meanwhile the body's own deadlines apply.)
        consider(Due::kHandler, queue_->front().start_ms, config.handler_timeout_ms);
    }
    if (parser_.mid_request() && !close_after_flush_) {
        if (!parser_.receiving_body()) {
            consider(Due::kHead, phase_start_ms_, config.request_head_timeout_ms);
        } else if (config.body_timeout_ms != 0 && config.min_body_rate != 0 && !body_paused()) {
            consider(Due::kBody, phase_start_ms_,
                     config.body_timeout_ms + uint64_t{phase_bytes_} * 1000 / config.min_body_rate);
        }
    }
    return next;
}

void Connection::schedule_deadline() noexcept {
    engine::TimerWheel& timers = hub_.worker_.timers();
    const Deadline d = next_deadline();
    if (d.due == Due::kNone) {
        timers.cancel(&timer_);
        return;
    }
    const uint64_t in_ms = d.in_ms > 0 ? static_cast<uint64_t>(d.in_ms) : 0;
    timers.schedule(&timer_, hub_.worker_.now_ns() + in_ms * kMs);
}

void Connection::on_timer(void* arg) noexcept {
    static_cast<Connection*>(arg)->on_deadline();
}

void Connection::on_deadline() noexcept {
    if (closing_ || fd_ < 0) return;
    const Deadline d = next_deadline();
    if (d.in_ms > 0) {
        // Not due yet: receives and sends only record their time (one store) and the timer
        // catches up here, instead of being re-linked on every read.
        schedule_deadline();
        return;
    }
    switch (d.due) {
        case Due::kIdle:
        case Due::kHead:
        case Due::kBody: {
            if (d.due == Due::kIdle && !parser_.mid_request()) break;
            // The request did not arrive in time: tell the client why, then close (within the
            // linger timeout, whether or not it reads the answer).
            std::string_view why = "the request was left unfinished for idle_timeout_ms";
            if (d.due == Due::kHead) why = "the head took longer than request_head_timeout_ms";
            if (d.due == Due::kBody) why = "the body arrived slower than min_body_rate";
            write_error(408, AnswerCause::kRequestTimeout, false, why);
            timed_out_ = true;
            phase_start_ms_ = hub_.now_ms();
            queue_flush();
            schedule_deadline();
            return;
        }
        case Due::kHandler:
            // The handler did not answer in time: 503 in its place, its late answer is dropped.
            hub_.report_handler_timeout();
            answer_instead(503, AnswerCause::kHandlerTimeout,
                           "no answer within handler_timeout_ms");
            if (!closing_) schedule_deadline();
            return;
        case Due::kSend:    // the peer stopped reading: nothing more can be delivered
        case Due::kLinger:  // the peer did not close in time
        case Due::kNone:
            break;
    }
    close();
}

// ---- send -----------------------------------------------------------------------------------

void Connection::queue_flush() noexcept {
    if (!queued_) {
        queued_ = true;
        hub_.flush_at_turn_end(this);
    }
}

void Connection::take_output_buffer() noexcept {
    hub_.take_output_buffer(out_, out_slab_);
}

void Connection::flush() noexcept {
    queued_ = false;
    if (fd_ < 0 || closing_) return;
    if (!send_in_flight_ && !out_.empty()) start_send();
}

void Connection::start_send() noexcept {
    close_at_ = kNoOffset;  // what goes to the kernel can no longer be changed
    sending_.swap(Transport::outgoing(out_));
    std::swap(sending_slab_, out_slab_);
    out_.clear();
    sent_ = 0;
    send_progress_ms_ = hub_.now_ms();
    submit_send();
    // The idle timer would notice a stalled send only at the idle deadline.
    if (hub_.send_timeout_first_) schedule_deadline();
}

void Connection::submit_send() noexcept {
    io_uring_sqe* sqe = hub_.sqe();
    hub_.send_.prep_send(sqe, fd_, sending_.data() + sent_,
                         std::min(sending_.size() - sent_, kMaxSendBytes), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, make_tag(WorkerServer::kSend, generation_, slot_));
    send_in_flight_ = true;
}

void Connection::on_send(const io_uring_cqe& cqe) noexcept {
    send_in_flight_ = false;
    if (closing_) {
        maybe_release();
        return;
    }
    if (cqe.res < 0) {
        close();  // EPIPE, ECONNRESET: the peer is gone
        maybe_release();
        return;
    }
    sent_ += static_cast<size_t>(cqe.res);
    send_progress_ms_ = hub_.now_ms();
    if (sent_ < sending_.size()) {
        submit_send();  // short send: the rest, from where the kernel stopped
        return;
    }
    sending_.clear();
    if (!out_.empty()) {
        start_send();
        return;
    }
    after_output_drained();
}

void Connection::after_output_drained() noexcept {
    if (!hub_.splices_.empty()) [[unlikely]] {
        // A file body waits for the output before it (its head) to be sent: its turn now.
        if (WorkerServer::SpliceJob* j = hub_.find_splice(this); j != nullptr && !j->busy) {
            submit_splice();
            return;
        }
    }
    unsent_responses_ = 0;
    hub_.give_back(sending_, sending_slab_);
    if (out_.empty()) hub_.give_back(out_, out_slab_);
    if (reading_paused_ && !handoff_paused_ && !body_paused() && !upgrade_held() &&
        feed_held_input() && !over_output_bounds() && !body_paused()) {
        if (hub_.handoff_saturated()) {
            handoff_paused_ = true;  // resumed when the handoff has room
            hub_.pause_for_handoff(this);
        } else {
            reading_paused_ = false;
            if (!recv_armed_) hub_.rearm_at_turn_end(this);
        }
    }
    notify_writable();          // a stream waiting for room: it may write (or end) now
    if (!out_.empty()) return;  // held input (or the stream) produced more: it goes out first
    if (has_waiting()) return;  // answers still to come: they go out first
    if (upgrading()) {
        maybe_hand_over();  // the 101 is out: once the receive has ended, hand over
        return;
    }
    if (close_after_flush_) {
        start_linger();
    } else if (peer_eof_) {
        close();
    } else if (hub_.stopping_ && !parser_.mid_request()) {
        start_linger();
    }
    if (closing_) maybe_release();
}

// ---- closing --------------------------------------------------------------------------------

void Connection::start_linger() noexcept {
    if (peer_eof_) {
        close();
        return;
    }
    // Half-close: the client reads our last response and FIN, then closes; its unread bytes are
    // drained meanwhile so our close does not turn into a reset that could destroy the response.
    lingering_ = true;
    close_after_flush_ = true;
    Transport::shutdown_write(fd_);
    phase_start_ms_ = hub_.now_ms();
    schedule_deadline();
    if (!recv_armed_) hub_.rearm_at_turn_end(this);
}

void Connection::close() noexcept {
    if (closing_) return;
    closing_ = true;
    hub_.worker_.timers().cancel(&timer_);
    if (recv_armed_ || send_in_flight_) {
        io_uring_sqe* sqe = hub_.sqe();
        io_uring_prep_cancel_fd(sqe, fd_, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, kIgnoreTag);
    }
    abort_waiting();
    maybe_release();  // at once if nothing is in flight, else when the last completion arrives
}

void Connection::abort_waiting() noexcept {
    if (queue_ == nullptr) return;
    // A stream at the front has been going out: the after-response hooks see it cut (once: it
    // is a stream no more).
    ResponseInfo cut;
    const bool stream_cut =
        hub_.observed_ && has_waiting() && queue_->front().streaming && !queue_->front().ready;
    if (stream_cut) [[unlikely]] {
        queue_->front().complete = false;
        cut = told(queue_->front());
        queue_->front().streaming = false;
    }
    // Every answer still awaited (deferred, handed off, streaming) can no longer be given.
    std::vector<Task> aborts;
    if (queue_->incoming.active && queue_->incoming.on_abort) {
        aborts.push_back(std::move(queue_->incoming.on_abort));
    }
    if (queue_->incoming.active && queue_->incoming.handoff && !queue_->incoming.discard) {
        hub_.handoff_->body_error(queue_->incoming.ticket, 400,
                                  "the connection ended before the body was complete");
    }
    queue_->incoming.active = false;
    for (size_t i = 0; i < queue_->waiting(); ++i) {
        ResponseQueue::Place& p = queue_->at(i);
        if (!p.ready && p.on_abort) aborts.push_back(std::move(p.on_abort));
        if (!p.ready) tell_aborted(p, queue_->first_seq + static_cast<uint32_t>(i));
        p.on_writable = nullptr;
    }
    if (stream_cut) [[unlikely]] {
        hub_.tell(cut);
    }
    run_aborts(aborts);
}

void Connection::maybe_release() noexcept {
    if (!closing_ || recv_armed_ || send_in_flight_ || fd_ < 0) return;
    io_uring_sqe* sqe = hub_.sqe();
    io_uring_prep_close(sqe, fd_);
    io_uring_sqe_set_data64(sqe, kIgnoreTag);
    fd_ = -1;
    ++generation_;
    if (!hub_.splices_.empty()) [[unlikely]] {
        // A splice that never started (or ended with the connection): its producer is dropped
        // (it learns of the end through the stream's abort).
        std::unique_ptr<WorkerServer::SpliceJob> dropped = hub_.take_splice(this);
    }
    parser_.reset(hub_.parse_);
    if (queue_ != nullptr) {
        hub_.give_back(queue_);
        queue_ = nullptr;
    }
    handoff_paused_ = false;
    hub_.give_back(out_, out_slab_);
    hub_.give_back(sending_, sending_slab_);
    hub_.connection_released(this);
}

void Connection::on_stop_requested() noexcept {
    if (fd_ < 0 || closing_ || lingering_) return;
    const bool busy = parser_.mid_request() || send_in_flight_ || !out_.empty() || has_waiting();
    if (!busy) {
        close();  // idle between requests
    } else {
        end_after_queued();  // answers what it has received; the last answer closes
    }
    if (closing_) maybe_release();
}

void Connection::shut_down_now() noexcept {
    if (fd_ < 0) return;
    if (!closing_) {
        // Every request received gets an answer: the awaited ones 503 (a stream is cut where
        // it is), and what is queued goes to the kernel now, without waiting for room.
        while (has_waiting() && !queue_->front().streaming) {
            queue_->at(queue_->waiting() - 1).flags &= static_cast<uint8_t>(~kKeepAlive);
            answer_instead(503, AnswerCause::kUnavailable,
                           "the server stopped before the answer was given (drain_timeout_ms)");
        }
        if (!send_in_flight_ && !out_.empty()) {
            (void)::send(fd_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        }
    }
    // The ring's pending operations hold references to the socket, so close() alone would not
    // end the connection until the ring is gone; shutdown() ends it for the peer now.
    shutdown(fd_, SHUT_RDWR);
}

void Connection::close_at_teardown() noexcept {
    closing_ = true;
    abort_waiting();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    delete queue_;
    queue_ = nullptr;
}

}  // namespace nexure::net::http1
