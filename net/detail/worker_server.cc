#include "net/detail/worker_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <new>
#include <utility>

#include "net/http/status.h"

namespace nexure::net::detail {

using engine::make_tag;
using engine::OpTag;

namespace {

constexpr uint16_t kBufferGroup = 0;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kAcceptRetryNs = 100 * kMs;  // back-off after EMFILE/ENFILE/ENOMEM
constexpr std::string_view kServerLine = "Server: NexureJS\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// The most one send SQE carries. io_uring completes a stream send only when all of it is sent, so
// this is also how often a slow reader reports progress (for the send timeout).
constexpr size_t kMaxSendBytes = 256 * 1024;
// Output buffers larger than this are freed, not kept, when a connection's output drains.
constexpr size_t kKeepBufferBytes = 64 * 1024;
// Drained heap output buffers a worker keeps for reuse (each <= kKeepBufferBytes). Most output
// goes to send slabs; these serve what outgrows a slab or finds none free.
constexpr size_t kSpareBuffers = 256;
// Connections per pool block: 256 x 272 bytes = one 68 KiB mapping per step of growth.
constexpr uint32_t kConnectionsPerBlock = 256;

const uint64_t kIgnoreTag = make_tag(static_cast<uint8_t>(engine::Op::kIgnore), 0, 0);

char* put(char* out, std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(out, s.data(), s.size());  // memcpy(_, nullptr, 0) is UB
    return out + s.size();
}

}  // namespace

WorkerServer::WorkerServer(engine::Worker& worker, const SharedState& shared, int listen_fd)
    : worker_(worker),
      shared_(shared),
      config_(shared.config),
      listen_fd_(listen_fd),
      send_timeout_first_(shared.config.send_timeout_ms != 0 &&
                          (shared.config.idle_timeout_ms == 0 ||
                           shared.config.send_timeout_ms < shared.config.idle_timeout_ms)),
      max_unsent_responses_(static_cast<uint16_t>(
          shared.config.max_unsent_responses == 0 || shared.config.max_unsent_responses > UINT16_MAX
              ? UINT16_MAX
              : shared.config.max_unsent_responses)),
      parse_(shared.config.limits, worker.node(), shared.config.max_connections_per_worker),
      date_timer_(on_date_tick, this),
      accept_retry_timer_(on_accept_retry, this),
      connections_(alloc::PoolOptions{.objects_per_block = kConnectionsPerBlock,
                                      .max_objects = shared.config.max_connections_per_worker,
                                      .node = worker.node()},
                   [this](void* where, uint32_t index) {
                       auto* c = ::new (where) Connection();
                       c->slot = index;
                       c->owner = this;
                       c->timer.set_callback(on_connection_timer, c);
                   }) {}

WorkerServer::~WorkerServer() {
    // The loop has ended; whatever is still open is closed synchronously here.
    connections_.for_each_live([](Connection& c) {
        if (c.fd >= 0) close(c.fd);
        c.fd = -1;
        delete c.deferred;
        c.deferred = nullptr;
    });
    for (Deferred* d : spare_deferred_)
        delete d;
    for (int fd = pop_parked(); fd >= 0; fd = pop_parked())
        close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
}

Result<void> WorkerServer::init() {
    Result<void> r = buffers_.init(worker_.ring().raw(), kBufferGroup, config_.recv_buffers(),
                                   config_.recv_buffer_size, worker_.node());
    if (!r) return r;
    r = send_.init(worker_.ring().raw(),
                   alloc::SendBuffers::Options{.count = config_.send_buffers(),
                                               .size = config_.send_buffer_size,
                                               .node = worker_.node(),
                                               .allow_fixed = config_.fixed_sends});
    if (!r) return r;
    if (config_.fixed_sends && send_.mode() == alloc::SendBuffers::Mode::kPlain &&
        alloc::SendBuffers::kernel_supports_fixed_send()) {
        // The kernel could, but the registration failed: say so once per worker.
        std::fprintf(stderr, "nexure: worker %u: %s\n", worker_.index(), send_.mode_note().c_str());
    }
    if (shared_.handoff) {
        Result<std::unique_ptr<Handoff>> h = shared_.handoff(worker_);
        if (!h) return h.error();
        handoff_ = std::move(h).value();
        if (!handoff_) return Error{EINVAL, "the handoff factory returned no handoff"};
        handoff_paused_.reserve(64);
        resume_scratch_.reserve(64);
        spare_deferred_.reserve(kSpareBuffers);
    }
    spare_buffers_.reserve(kSpareBuffers);
    flush_list_.reserve(1024);
    rearm_list_.reserve(256);
    held_.reserve(64);
    schedule_date_tick();
    arm_accept();
    return {};
}

// ---- timers ---------------------------------------------------------------------------------

void WorkerServer::schedule_date_tick() noexcept {
    // Fire just after the next wall-clock second so the Date line changes when the second does.
    timespec real{};
    clock_gettime(CLOCK_REALTIME, &real);
    date_.refresh(real.tv_sec);
    const uint64_t to_next_second = 1'000'000'000u - static_cast<uint64_t>(real.tv_nsec) + kMs;
    worker_.timers().schedule(&date_timer_, worker_.now_ns() + to_next_second);
}

void WorkerServer::on_date_tick(void* arg) noexcept {
    static_cast<WorkerServer*>(arg)->schedule_date_tick();
}

void WorkerServer::on_accept_retry(void* arg) noexcept {
    auto* self = static_cast<WorkerServer*>(arg);
    self->resume_accept();
}

WorkerServer::Deadline WorkerServer::next_deadline(const Connection* c) const noexcept {
    const uint32_t now = now_ms();
    Deadline next;
    // `limit_ms` after `since`; a rule whose limit is 0 is off.
    auto consider = [&next, now](Due due, uint32_t since, uint64_t limit_ms) {
        if (limit_ms == 0) return;
        const int64_t left = static_cast<int64_t>(limit_ms) -
                             static_cast<int64_t>(static_cast<uint32_t>(now - since));
        if (left < next.in_ms) next = Deadline{due, left};
    };
    if (c->lingering || c->timed_out) {
        // Closing: the last response (or the 408) goes out and the peer's FIN comes in, or not.
        const uint64_t linger = config_.linger_timeout_ms == 0 ? 1 : config_.linger_timeout_ms;
        consider(Due::kLinger, c->phase_start_ms, linger);
        return next;
    }
    if (c->send_in_flight || !c->out.empty()) {
        consider(Due::kSend, c->send_progress_ms, config_.send_timeout_ms);
    } else if (!has_waiting(c)) {
        consider(Due::kIdle, c->last_active_ms, config_.idle_timeout_ms);
    }
    if (has_waiting(c)) {
        // The oldest unanswered request; the ones behind it started later.
        consider(Due::kHandler, c->deferred->front().start_ms, config_.handler_timeout_ms);
    }
    if (c->parser.mid_request() && !c->close_after_flush) {
        if (!c->parser.receiving_body()) {
            consider(Due::kHead, c->phase_start_ms, config_.request_head_timeout_ms);
        } else if (config_.body_timeout_ms != 0 && config_.min_body_rate != 0) {
            consider(
                Due::kBody, c->phase_start_ms,
                config_.body_timeout_ms + uint64_t{c->phase_bytes} * 1000 / config_.min_body_rate);
        }
    }
    return next;
}

void WorkerServer::schedule_deadline(Connection* c) noexcept {
    const Deadline d = next_deadline(c);
    if (d.due == Due::kNone) {
        worker_.timers().cancel(&c->timer);
        return;
    }
    const uint64_t in_ms = d.in_ms > 0 ? static_cast<uint64_t>(d.in_ms) : 0;
    worker_.timers().schedule(&c->timer, worker_.now_ns() + in_ms * kMs);
}

void WorkerServer::on_connection_timer(void* arg) noexcept {
    auto* c = static_cast<Connection*>(arg);
    WorkerServer* self = c->owner;
    if (c->closing || c->fd < 0) return;
    const Deadline d = self->next_deadline(c);
    if (d.in_ms > 0) {
        // Not due yet: receives and sends only record their time (one store) and the timer
        // catches up here, instead of being re-linked on every read.
        self->schedule_deadline(c);
        return;
    }
    switch (d.due) {
        case Due::kIdle:
            if (!c->parser.mid_request()) break;
            [[fallthrough]];
        case Due::kHead:
        case Due::kBody:
            // The request did not arrive in time: tell the client why, then close (within the
            // linger timeout, whether or not it reads the answer).
            self->write_error(c, 408, false);
            c->timed_out = true;
            c->phase_start_ms = self->now_ms();
            self->queue_flush(c);
            self->schedule_deadline(c);
            return;
        case Due::kHandler: {
            // The handler did not answer in time: 503 in its place, its late answer is dropped.
            if (self->handler_timeouts_reported_ < 20) {
                ++self->handler_timeouts_reported_;
                std::fprintf(stderr,
                             "nexure: worker %u: a handler did not answer within %u ms, "
                             "answered 503%s\n",
                             self->worker_.index(), self->config_.handler_timeout_ms,
                             self->handler_timeouts_reported_ == 20 ? " (further ones not logged)" : "");
            }
            self->answer(c, 0, self->canned(503));
            if (!c->closing) self->schedule_deadline(c);
            return;
        }
        case Due::kSend:    // the peer stopped reading: nothing more can be delivered
        case Due::kLinger:  // the peer did not close in time
        case Due::kNone:
            break;
    }
    self->close_connection(c);
}

// ---- accept ---------------------------------------------------------------------------------

void WorkerServer::arm_accept() noexcept {
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, make_tag(kAccept, 0, 0));
    accept_armed_ = true;
}

void WorkerServer::on_accept(const io_uring_cqe& cqe) noexcept {
    if ((cqe.flags & IORING_CQE_F_MORE) == 0) accept_armed_ = false;
    if (cqe.res >= 0) {
        admit(cqe.res);
    } else if (!accept_armed_ && !stopping_ &&
               (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOMEM ||
                cqe.res == -ENOBUFS)) {
        // Out of descriptors or memory: try again shortly instead of spinning.
        worker_.timers().schedule(&accept_retry_timer_, worker_.now_ns() + kAcceptRetryNs);
        return;
    }
    if (!accept_armed_) {
        if (stopping_) {
            if (listen_fd_ >= 0) close(listen_fd_);
            listen_fd_ = -1;
        } else if (!accept_paused_ && !accept_retry_timer_.armed()) {
            arm_accept();
        }
    }
}

// At the connection cap: stop taking connections off the listen queue. Waiting clients stay in
// the kernel's backlog (and beyond it, their SYNs are retried by TCP) until a connection closes.
void WorkerServer::pause_accept() noexcept {
    if (accept_paused_) return;
    accept_paused_ = true;
    if (accept_armed_) {
        io_uring_sqe* sqe = worker_.ring().get_sqe();
        io_uring_prep_cancel64(sqe, make_tag(kAccept, 0, 0), 0);
        io_uring_sqe_set_data64(sqe, kIgnoreTag);
    }
}

// Also the accept retry timer's action, so it must not check that timer.
void WorkerServer::resume_accept() noexcept {
    accept_paused_ = false;
    if (!stopping_ && !accept_armed_) arm_accept();
}

void WorkerServer::admit(int fd) noexcept {
    if (stopping_) {
        close(fd);
    } else if (connections_.live() < config_.max_connections_per_worker && parked_count_ == 0) {
        open_connection(fd);
    } else if (parked_count_ < kMaxParked) {
        // Over the cap: the multishot accept had taken it before the cancellation took effect.
        parked_[(parked_head_ + parked_count_++) % kMaxParked] = fd;
        pause_accept();
    } else {
        close(fd);  // more early arrivals than places to park them: refuse, never queue unboundedly
    }
}

int WorkerServer::pop_parked() noexcept {
    if (parked_count_ == 0) return -1;
    const int fd = parked_[parked_head_];
    parked_head_ = (parked_head_ + 1) % kMaxParked;
    --parked_count_;
    return fd;
}

Connection* WorkerServer::open_connection(int fd) noexcept {
    Connection* c = connections_.acquire();
    if (c == nullptr) {
        close(fd);
        pause_accept();
        if (connections_.live() == 0) {
            // Not the cap: the pool could not map a block (out of memory) and no close will
            // resume accepting, so try again shortly.
            worker_.timers().schedule(&accept_retry_timer_, worker_.now_ns() + kAcceptRetryNs);
        }
        return nullptr;
    }
    c->fd = fd;
    c->sent = 0;
    c->recv_armed = c->send_in_flight = c->queued = false;
    c->close_after_flush = c->lingering = c->peer_eof = c->closing = c->reading_paused = false;
    c->timed_out = c->handoff_paused = false;
    c->unsent_responses = 0;
    c->phase_bytes = 0;
    c->last_active_ms = c->phase_start_ms = c->send_progress_ms = now_ms();
    if (connections_.live() >= config_.max_connections_per_worker) pause_accept();
    arm_recv(c);
    schedule_deadline(c);
    return c;
}

Connection* WorkerServer::lookup(uint64_t user_data) noexcept {
    const OpTag tag = OpTag::unpack(user_data);
    if (!connections_.valid(tag.slot)) return nullptr;
    Connection* c = &connections_.at(tag.slot);
    if ((c->generation & OpTag::kGenerationMask) != tag.generation || c->fd < 0) return nullptr;
    return c;
}

// ---- receive --------------------------------------------------------------------------------

void WorkerServer::arm_recv(Connection* c) noexcept {
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    io_uring_prep_recv_multishot(sqe, c->fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, make_tag(kRecv, c->generation, c->slot));
    c->recv_armed = true;
}

void WorkerServer::on_recv(const io_uring_cqe& cqe) noexcept {
    const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
    const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    Connection* c = lookup(cqe.user_data);
    if (c == nullptr) {
        if (has_buffer) buffers_.recycle(bid);  // stale completion: still hand the buffer back
        return;
    }
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    if (!more) c->recv_armed = false;

    if (cqe.res > 0) {
        if (!c->closing && !c->lingering && !c->close_after_flush) {
            c->last_active_ms = now_ms();
            if (c->reading_paused) {
                // Read before the cancellation took effect: parsed once the output drains.
                hold_input(c, buffers_.buffer(bid), static_cast<size_t>(cqe.res));
            } else {
                handle_bytes(c, buffers_.buffer(bid), static_cast<size_t>(cqe.res));
            }
        }
        // else: after the last response, input is read and dropped until the peer closes.
        buffers_.recycle(bid);
        if (!c->closing && over_output_bounds(c)) pause_reading(c);
        if (!more && !c->closing && !c->reading_paused) rearm_list_.push_back(c);
    } else {
        if (has_buffer) buffers_.recycle(bid);
        if (cqe.res == -ECANCELED && !c->closing) {
            // Our own backpressure cancel. If the output drained meanwhile, read again now;
            // otherwise after_output_drained() will.
            if (!c->reading_paused) rearm_list_.push_back(c);
        } else if (cqe.res == -ENOBUFS) {
            // Every buffer was in use; they come back this turn, so re-arm after publish().
            if (!c->closing) rearm_list_.push_back(c);
        } else if (cqe.res == 0) {
            // The peer closed its side: answer what it already sent, then close.
            c->peer_eof = true;
            if (c->lingering || (!c->send_in_flight && c->out.empty() && !has_waiting(c))) {
                close_connection(c);
            }
        } else if (cqe.res != -ECANCELED || !c->closing) {
            // ECONNRESET and friends: nothing more can be delivered.
            close_connection(c);
        }
    }
    if (c->closing) maybe_release(c);
}

bool WorkerServer::over_output_bounds(const Connection* c) const noexcept {
    const size_t waiting = c->deferred != nullptr ? c->deferred->waiting() : 0;
    return c->out.size() + c->sending.size() > config_.max_pending_output ||
           c->unsent_responses + waiting >= max_unsent_responses_;
}

WorkerServer::HeldInput* WorkerServer::find_held_input(const Connection* c) noexcept {
    for (HeldInput& h : held_) {
        if (h.connection == c) return &h;
    }
    return nullptr;
}

void WorkerServer::hold_input(Connection* c, const char* data, size_t len) noexcept {
    HeldInput* h = find_held_input(c);
    if (h == nullptr) h = &held_.emplace_back(HeldInput{c, {}, 0});
    h->bytes.append(data, len);
}

bool WorkerServer::feed_held_input(Connection* c) noexcept {
    HeldInput* h = find_held_input(c);
    if (h == nullptr) return true;
    // One receive buffer's worth at a time, as if it had just been read, until the output bounds
    // are reached again. (handle_bytes() never adds to held_, so `h` stays valid.)
    auto usable = [c] { return !c->closing && !c->close_after_flush; };
    // (A saturated handoff stops the feeding too, but keeps the rest, like the output bounds.)
    while (usable() && !over_output_bounds(c) && !handoff_saturated() &&
           h->parsed < h->bytes.size()) {
        const size_t n = std::min<size_t>(config_.recv_buffer_size, h->bytes.size() - h->parsed);
        const char* piece = h->bytes.data() + h->parsed;
        h->parsed += n;
        handle_bytes(c, piece, n);
    }
    if (usable() && h->parsed < h->bytes.size()) return false;
    drop_held_input(c);
    return true;
}

void WorkerServer::drop_held_input(const Connection* c) noexcept {
    HeldInput* h = find_held_input(c);
    if (h == nullptr) return;
    if (h != &held_.back()) *h = std::move(held_.back());
    held_.pop_back();
}

void WorkerServer::pause_reading(Connection* c) noexcept {
    if (c->reading_paused) return;
    c->reading_paused = true;
    if (c->recv_armed) {
        // Unread bytes stay in the socket: TCP flow control pushes back on the client.
        io_uring_sqe* sqe = worker_.ring().get_sqe();
        io_uring_prep_cancel64(sqe, make_tag(kRecv, c->generation, c->slot), 0);
        io_uring_sqe_set_data64(sqe, kIgnoreTag);
    }
}

void WorkerServer::handle_bytes(Connection* c, const char* data, size_t len) noexcept {
    const bool was_mid = c->parser.mid_request();
    const bool was_body = was_mid && c->parser.receiving_body();
    current_ = c;
    answered_in_feed_ = 0;
    handed_off_in_feed_ = false;
    const http::RequestParser::FeedResult r = c->parser.feed(parse_, data, len, *this);
    current_ = nullptr;
    if (handed_off_in_feed_ && handoff_saturated() && !c->closing) {
        // The other side is behind: read no more from this connection until it catches up.
        pause_reading(c);
        if (!c->handoff_paused) {
            c->handoff_paused = true;
            handoff_paused_.emplace_back(c, c->generation);
        }
    }
    if (r.outcome == http::RequestParser::Outcome::kError) {
        write_error(c, r.error_status, r.head_request);
    } else if (r.send_continue && !has_waiting(c)) {
        // (Behind unanswered requests an interim response would overtake their answers: the
        // client then sends the body after its own wait, as RFC 9110 10.1.1 allows.)
        take_output_buffer(c);
        c->out.append(kContinue);
    }
    if (!c->out.empty()) queue_flush(c);
    if (c->parser.mid_request()) track_request(c, was_mid, was_body, len);
}

void WorkerServer::track_request(Connection* c, bool was_mid, bool was_body, size_t len) noexcept {
    if (c->close_after_flush) return;
    const bool body = c->parser.receiving_body();
    if (was_mid && answered_in_feed_ == 0 && body == was_body) {
        // The same request, in the same phase: only a body's bytes count (for its minimum rate).
        if (body) {
            c->phase_bytes =
                len > UINT32_MAX - c->phase_bytes ? UINT32_MAX : c->phase_bytes + uint32_t(len);
        }
        return;
    }
    // A request began in this read, or its head is complete: a new phase with its own deadline.
    c->phase_start_ms = now_ms();
    c->phase_bytes = 0;
    schedule_deadline(c);
}

bool WorkerServer::on_request(http::Request& req) noexcept {
    Connection* c = current_;
    http::Response& res = response_;
    res.reset();
    const http::Response* answer = &res;
    const router::Match m = shared_.router.match(req);
    switch (m.kind) {
        case router::Match::Kind::kFound: {
            const router::RouteMeta& meta = shared_.router.meta(m.route);
            if (meta.kind == router::HandlerKind::kJavaScript) {
                return hand_off(c, req, meta.handler);
            }
            if (meta.kind == router::HandlerKind::kFixed) {
                answer = shared_.fixed[meta.handler].get();
                break;
            }
            try {
                shared_.handlers[meta.handler](req, res);
            } catch (const std::exception& e) {
                answer_handler_error(e.what());
            } catch (...) {
                answer_handler_error("a non-standard exception");
            }
            if (!res.error().empty()) answer_handler_error(res.error());
            break;
        }
        case router::Match::Kind::kNotFound:
            canned(404);
            break;
        case router::Match::Kind::kMethodNotAllowed:
            res.status(405)
                .type("text/plain")
                .header("Allow", router::Router::allow_header(m.allowed));
            res.body("Method Not Allowed\n");
            break;
        case router::Match::Kind::kOptions:
            // No OPTIONS route: say which methods the path answers to (RFC 9110 9.3.7).
            res.status(204).header("Allow", router::Router::allow_header(m.allowed));
            break;
        case router::Match::Kind::kNotImplemented:
            canned(501);
            break;
    }
    const bool keep = req.keep_alive() && !answer->wants_close() && !stopping_;
    uint8_t flags = keep ? kKeepAlive : 0;
    if (req.method() == Method::kHead) flags |= kHeadOnly;
    if (req.version_minor() == 0) flags |= kHttp10;
    emit(c, *answer, flags);
    ++answered_in_feed_;
    if (!keep) c->close_after_flush = true;
    return keep;
}

// ---- handed-off requests (net/handoff.h) ---------------------------------------------------

bool WorkerServer::hand_off(Connection* c, const http::Request& req, uint32_t id) noexcept {
    if (c->deferred == nullptr) {
        if (!spare_deferred_.empty()) {
            c->deferred = spare_deferred_.back();
            spare_deferred_.pop_back();
        } else {
            c->deferred = new (std::nothrow) Deferred();
            if (c->deferred == nullptr) {
                write_error(c, 503, req.method() == Method::kHead);
                return false;
            }
        }
    }
    Deferred* d = c->deferred;
    const bool keep = req.keep_alive() && !stopping_;
    uint8_t flags = keep ? kKeepAlive : 0;
    if (req.method() == Method::kHead) flags |= kHeadOnly;
    if (req.version_minor() == 0) flags |= kHttp10;
    if (d->waiting() == 0) {
        d->entries.clear();
        d->head = 0;
        d->first_seq = c->next_seq;
    }
    const Ticket ticket{c->slot, c->generation, c->next_seq, flags};
    push_place(c, flags, false);
    handoff_->submit(req, id, ticket);
    handed_off_in_feed_ = true;
    ++answered_in_feed_;
    if (d->waiting() == 1) schedule_deadline(c);  // its handler timeout
    if (!keep) c->close_after_flush = true;
    return keep;
}

Deferred::Entry& WorkerServer::push_place(Connection* c, uint8_t flags, bool ready) noexcept {
    Deferred* d = c->deferred;
    if (d->entries.size() == d->entries.capacity() && d->head > 0) {
        // Reclaim the answered prefix instead of growing.
        d->entries.erase(d->entries.begin(), d->entries.begin() + static_cast<ptrdiff_t>(d->head));
        d->head = 0;
    }
    Deferred::Entry& e = d->entries.emplace_back();
    ++c->next_seq;
    e.start_ms = now_ms();
    e.flags = flags;
    e.ready = ready;
    return e;
}

void WorkerServer::emit(Connection* c, const http::Response& res, uint8_t flags) noexcept {
    if (!has_waiting(c)) {
        write_response(c, res, (flags & kHeadOnly) != 0, (flags & kKeepAlive) != 0,
                       (flags & kHttp10) != 0);
        count_unsent(c);
        return;
    }
    // Behind an unanswered handed-off request: it takes the next place, answered already.
    Deferred::Entry& e = push_place(c, flags, true);
    frame(e.bytes, res, (flags & kHeadOnly) != 0, (flags & kKeepAlive) != 0,
          (flags & kHttp10) != 0);
}

http::Response& WorkerServer::response() noexcept {
    response_.reset();
    return response_;
}

bool WorkerServer::complete(const Ticket& ticket) noexcept {
    if (!connections_.valid(ticket.slot)) return false;
    Connection* c = &connections_.at(ticket.slot);
    if (c->generation != ticket.generation || c->fd < 0 || c->closing || !has_waiting(c)) {
        return false;  // closed (or closing) meanwhile: nobody to answer
    }
    Deferred* d = c->deferred;
    const uint32_t index = ticket.seq - d->first_seq;  // wraps for seqs before the head: too big
    if (index >= d->waiting() || d->entries[d->head + index].ready) {
        return false;  // answered already (by the handler timeout), or never issued
    }
    if (!response_.error().empty()) answer_handler_error(response_.error());
    answer(c, index, response_);
    return true;
}

void WorkerServer::answer(Connection* c, size_t index, const http::Response& res) noexcept {
    Deferred* d = c->deferred;
    Deferred::Entry& e = d->entries[d->head + index];
    // Connection: close when the request or the response asks for it, or when the server stops
    // and nothing is queued behind this answer.
    const bool last = index + 1 == d->waiting();
    const bool keep = (e.flags & kKeepAlive) != 0 && !res.wants_close() && !(stopping_ && last);
    const bool head_only = (e.flags & kHeadOnly) != 0;
    const bool http10 = (e.flags & kHttp10) != 0;
    if (!keep) {
        // Nothing behind it will be sent: drop the places of requests that came after it.
        d->entries.resize(d->head + index + 1);
        c->close_after_flush = true;
    }
    if (index == 0) {
        write_response(c, res, head_only, keep, http10);
        count_unsent(c);
        ++d->head;
        ++d->first_seq;
        pop_answered(c);
    } else {
        frame(e.bytes, res, head_only, keep, http10);
        e.ready = true;
    }
}

void WorkerServer::pop_answered(Connection* c) noexcept {
    Deferred* d = c->deferred;
    while (d->waiting() != 0 && d->front().ready) {
        Deferred::Entry& e = d->front();
        take_output_buffer(c);
        c->out.append(e.bytes.data(), e.bytes.size());
        e.bytes.release();  // (a place's buffer is never reused: the entry goes with it)
        count_unsent(c);
        ++d->head;
        ++d->first_seq;
    }
    if (!c->out.empty()) queue_flush(c);
    // A new oldest request (its own deadline), or none: back to the idle/send rules.
    schedule_deadline(c);
}

void WorkerServer::release_deferred(Connection* c) noexcept {
    Deferred* d = c->deferred;
    if (d == nullptr) return;
    c->deferred = nullptr;
    if (spare_deferred_.size() >= kSpareBuffers) {
        delete d;
        return;
    }
    d->entries.clear();  // frees the places' buffers; keeps the vector's capacity
    d->head = 0;
    spare_deferred_.push_back(d);
}

void WorkerServer::answer_abandoned() noexcept {
    connections_.for_each_live([this](Connection& conn) {
        Connection* c = &conn;
        if (c->fd < 0 || c->closing) return;
        while (has_waiting(c)) {
            // The oldest place is never answered already (pop_answered() moved those on).
            answer(c, 0, canned(503));
        }
    });
}

void WorkerServer::resume_handoff_paused() noexcept {
    if (handoff_saturated()) return;
    // Feeding held input may pause connections again, which lists them anew: walk a copy.
    resume_scratch_.swap(handoff_paused_);
    for (const auto& [c, generation] : resume_scratch_) {
        if (c->generation != generation || c->fd < 0 || c->closing || !c->handoff_paused) continue;
        if (handoff_saturated()) {
            handoff_paused_.emplace_back(c, generation);  // still waiting for room
            continue;
        }
        c->handoff_paused = false;
        if (!c->reading_paused || over_output_bounds(c)) continue;  // after_output_drained() resumes
        if (!feed_held_input(c) || over_output_bounds(c) || c->handoff_paused) continue;
        if (handoff_saturated()) {
            c->handoff_paused = true;
            handoff_paused_.emplace_back(c, generation);
            continue;
        }
        c->reading_paused = false;
        if (!c->recv_armed) rearm_list_.push_back(c);
    }
    resume_scratch_.clear();
}

void WorkerServer::report_handler_error(std::string_view what) noexcept {
    // Logged, but bounded: a handler failing on every request must not flood the log.
    if (handler_errors_reported_ < 20) {
        std::fprintf(stderr, "nexure: worker %u: handler error, answered 500: %.*s\n",
                     worker_.index(), static_cast<int>(what.size()), what.data());
        if (++handler_errors_reported_ == 20) {
            std::fprintf(stderr, "nexure: worker %u: further handler errors are not logged\n",
                         worker_.index());
        }
    }
}

void WorkerServer::write_response(Connection* c, const http::Response& res, bool head_only,
                                  bool keep_alive, bool http10) noexcept {
    take_output_buffer(c);
    frame(c->out, res, head_only, keep_alive, http10);
}

void WorkerServer::frame(alloc::ByteBuffer& output, const http::Response& res, bool head_only,
                         bool keep_alive, bool http10) noexcept {
    const int status = res.status_code();
    // 1xx, 204 and 304 carry no body (RFC 9110 6.4.1); 304 and 1xx/204 get no Content-Length.
    const bool no_body = status < 200 || status == 204 || status == 304;
    const std::string_view body = no_body ? std::string_view{} : res.body_view();
    const std::string_view status_line = http::status_line(status);
    const std::string_view date = date_.line();
    const std::string_view type = res.content_type();
    const std::string_view extra = res.header_lines();
    const std::string_view connection = !keep_alive ? std::string_view("Connection: close\r\n")
                                        : http10    ? std::string_view("Connection: keep-alive\r\n")
                                                    : std::string_view{};
    char length[24];
    const auto [end, ec] = std::to_chars(length, length + sizeof(length), body.size());
    (void)ec;
    const std::string_view length_digits(length, static_cast<size_t>(end - length));

    const size_t total = status_line.size() + kServerLine.size() + date.size() +
                         (type.empty() ? 0 : type.size() + 16) + extra.size() +
                         (no_body ? 0 : 18 + length_digits.size()) + connection.size() + 2 +
                         (head_only ? 0 : body.size());
    char* out = output.prepare(total);
    char* p = out;
    p = put(p, status_line);
    p = put(p, kServerLine);
    p = put(p, date);
    if (!type.empty()) {
        p = put(p, "Content-Type: ");
        p = put(p, type);
        p = put(p, "\r\n");
    }
    p = put(p, extra);
    if (!no_body) {
        p = put(p, "Content-Length: ");
        p = put(p, length_digits);
        p = put(p, "\r\n");
    }
    p = put(p, connection);
    p = put(p, "\r\n");
    if (!head_only) p = put(p, body);
    output.commit(static_cast<size_t>(p - out));
}

http::Response& WorkerServer::canned(int status) noexcept {
    http::Response& res = response_;
    res.reset();
    res.status(status).type("text/plain");
    res.body(http::reason_phrase(status)).append("\n");
    return res;
}

void WorkerServer::answer_handler_error(std::string_view what) noexcept {
    report_handler_error(what);
    canned(500);
}

void WorkerServer::write_error(Connection* c, int status, bool head_only) noexcept {
    emit(c, canned(status), head_only ? kHeadOnly : 0);
    c->close_after_flush = true;
}

// ---- send -----------------------------------------------------------------------------------

void WorkerServer::queue_flush(Connection* c) noexcept {
    if (!c->queued) {
        c->queued = true;
        flush_list_.push_back(c);
    }
}

void WorkerServer::start_send(Connection* c) noexcept {
    c->sending.swap(c->out);
    std::swap(c->sending_slab, c->out_slab);
    c->out.clear();
    c->sent = 0;
    c->send_progress_ms = now_ms();
    submit_send(c);
    // The idle timer would notice a stalled send only at the idle deadline.
    if (send_timeout_first_) schedule_deadline(c);
}

void WorkerServer::submit_send(Connection* c) noexcept {
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    send_.prep_send(sqe, c->fd, c->sending.data() + c->sent,
                    std::min(c->sending.size() - c->sent, kMaxSendBytes), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, make_tag(kSend, c->generation, c->slot));
    c->send_in_flight = true;
}

void WorkerServer::on_send(const io_uring_cqe& cqe) noexcept {
    Connection* c = lookup(cqe.user_data);
    if (c == nullptr) return;
    c->send_in_flight = false;
    if (c->closing) {
        maybe_release(c);
        return;
    }
    if (cqe.res < 0) {
        close_connection(c);  // EPIPE, ECONNRESET: the peer is gone
        maybe_release(c);
        return;
    }
    c->sent += static_cast<size_t>(cqe.res);
    c->send_progress_ms = now_ms();
    if (c->sent < c->sending.size()) {
        submit_send(c);  // short send: the rest, from where the kernel stopped
        return;
    }
    c->sending.clear();
    if (!c->out.empty()) {
        start_send(c);
        return;
    }
    after_output_drained(c);
}

// Output buffers circulate through a per-worker free list: a connection takes one when it has a
// response to write and gives both back once its output has drained, so an idle keep-alive
// connection holds no buffer at all while the request path still never calls malloc once the
// list holds enough buffers for the busy connections.
void WorkerServer::take_output_buffer(Connection* c) noexcept {
    if (c->out.capacity() != 0) return;
    const uint16_t slab = send_.acquire();
    if (slab != alloc::SendBuffers::kNone) {
        c->out.adopt(send_.slab(slab), send_.slab_size());
        c->out_slab = slab;
    } else if (!spare_buffers_.empty()) {
        // Every slab is in use: a heap buffer instead (allocated here only when none is spare).
        c->out.swap(spare_buffers_.back());
        spare_buffers_.pop_back();
    }
}

void WorkerServer::give_back(alloc::ByteBuffer& buffer, uint16_t& slab) noexcept {
    if (slab != kNoSlab) {
        send_.release(slab);
        slab = kNoSlab;
    }
    if (buffer.adopted()) {
        buffer.release();  // forgets the slab memory
        return;
    }
    if (buffer.capacity() == 0) return;
    buffer.clear();
    if (buffer.capacity() > kKeepBufferBytes || spare_buffers_.size() >= kSpareBuffers) {
        buffer.release();
        return;
    }
    spare_buffers_.push_back(std::move(buffer));  // capacity reserved at init: no allocation
}

void WorkerServer::after_output_drained(Connection* c) noexcept {
    c->unsent_responses = 0;
    give_back(c->sending, c->sending_slab);
    if (c->out.empty()) give_back(c->out, c->out_slab);
    if (c->reading_paused && !c->handoff_paused && feed_held_input(c) && !over_output_bounds(c)) {
        if (handoff_saturated()) {
            c->handoff_paused = true;  // resumed when the handoff has room
            handoff_paused_.emplace_back(c, c->generation);
        } else {
            c->reading_paused = false;
            if (!c->recv_armed) rearm_list_.push_back(c);
        }
    }
    if (!c->out.empty()) return;  // held input produced more responses: they go out first
    if (has_waiting(c)) return;   // answers still to come: they go out first
    if (c->close_after_flush) {
        start_linger(c);
    } else if (c->peer_eof) {
        close_connection(c);
    } else if (stopping_ && !c->parser.mid_request()) {
        start_linger(c);
    }
    if (c->closing) maybe_release(c);
}

// ---- closing --------------------------------------------------------------------------------

void WorkerServer::start_linger(Connection* c) noexcept {
    if (c->peer_eof) {
        close_connection(c);
        return;
    }
    // Half-close: the client reads our last response and FIN, then closes; its unread bytes are
    // drained meanwhile so our close does not turn into a reset that could destroy the response.
    c->lingering = true;
    c->close_after_flush = true;
    shutdown(c->fd, SHUT_WR);
    c->phase_start_ms = now_ms();
    schedule_deadline(c);
    if (!c->recv_armed) rearm_list_.push_back(c);
}

void WorkerServer::close_connection(Connection* c) noexcept {
    if (c->closing) return;
    c->closing = true;
    worker_.timers().cancel(&c->timer);
    if (c->recv_armed || c->send_in_flight) {
        io_uring_sqe* sqe = worker_.ring().get_sqe();
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, kIgnoreTag);
    }
    maybe_release(c);  // at once if nothing is in flight, else when the last completion arrives
}

void WorkerServer::maybe_release(Connection* c) noexcept {
    if (!c->closing || c->recv_armed || c->send_in_flight || c->fd < 0) return;
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    io_uring_prep_close(sqe, c->fd);
    io_uring_sqe_set_data64(sqe, kIgnoreTag);
    c->fd = -1;
    ++c->generation;
    c->parser.reset(parse_);
    drop_held_input(c);
    release_deferred(c);
    c->handoff_paused = false;
    give_back(c->out, c->out_slab);
    give_back(c->sending, c->sending_slab);
    connections_.release(c->slot);
    if (const int fd = pop_parked(); fd >= 0) {
        open_connection(fd);  // the freed place goes to the longest-waiting parked socket
    } else if (accept_paused_) {
        resume_accept();
    }
}

// ---- the loop's hooks -----------------------------------------------------------------------

void WorkerServer::on_completion(const io_uring_cqe& cqe) noexcept {
    switch (static_cast<uint8_t>(cqe.user_data >> 56)) {
        case kRecv:
            on_recv(cqe);
            break;
        case kSend:
            on_send(cqe);
            break;
        case kAccept:
            on_accept(cqe);
            break;
        default:
            break;
    }
}

void WorkerServer::on_turn_end() noexcept {
    if (handoff_) {
        if (!handoff_paused_.empty()) resume_handoff_paused();
        // After every submit of this turn: publishes them and takes the answers back.
        handoff_->on_turn_end(*this);
        if (stopping_ && handoff_->abandoned()) answer_abandoned();
    }
    // One send per connection per turn carries every response produced this turn.
    for (Connection* c : flush_list_) {
        c->queued = false;
        if (c->fd < 0 || c->closing) continue;
        if (!c->send_in_flight && !c->out.empty()) start_send(c);
    }
    flush_list_.clear();
    buffers_.publish();
    parse_.trim();
    for (Connection* c : rearm_list_) {
        if (c->fd >= 0 && !c->closing && !c->recv_armed && !c->reading_paused) arm_recv(c);
    }
    rearm_list_.clear();
}

void WorkerServer::on_stop_requested() noexcept {
    stopping_ = true;
    for (int fd = pop_parked(); fd >= 0; fd = pop_parked())
        close(fd);  // never read: nothing of theirs is in flight
    worker_.timers().cancel(&accept_retry_timer_);
    if (accept_armed_) {
        io_uring_sqe* sqe = worker_.ring().get_sqe();
        io_uring_prep_cancel64(sqe, make_tag(kAccept, 0, 0), 0);
        io_uring_sqe_set_data64(sqe, kIgnoreTag);
    } else if (listen_fd_ >= 0) {
        close(listen_fd_);
        listen_fd_ = -1;
    }
    // Idle connections close now; busy ones after their current response (which says
    // "Connection: close").
    connections_.for_each_live([this](Connection& conn) {
        Connection* c = &conn;
        if (c->fd < 0 || c->closing || c->lingering) return;
        const bool busy =
            c->parser.mid_request() || c->send_in_flight || !c->out.empty() || has_waiting(c);
        if (!busy) close_connection(c);
        if (c->closing) maybe_release(c);
    });
}

bool WorkerServer::prepare_to_sleep() noexcept {
    if (!handoff_) return true;
    // Connections paused for room the handoff now has: turn again to resume them.
    if (!handoff_paused_.empty() && !handoff_->saturated()) return false;
    return handoff_->prepare_to_sleep();
}

void WorkerServer::awake() noexcept {
    if (handoff_) handoff_->awake();
}

bool WorkerServer::drained() const noexcept {
    return connections_.live() == 0 && !accept_armed_;
}

void WorkerServer::on_drain_timeout() noexcept {
    unsigned open = 0;
    connections_.for_each_live([&open](Connection& c) {
        if (c.fd < 0) return;
        // The ring's pending operations hold references to the socket, so close() alone would
        // not end the connection until the ring is gone; shutdown() ends it for the peer now.
        shutdown(c.fd, SHUT_RDWR);
        ++open;
    });
    if (open > 0) {
        std::fprintf(stderr,
                     "nexure: worker %u: drain timeout, closing %u connection(s) still busy\n",
                     worker_.index(), open);
    }
}

}  // namespace nexure::net::detail
