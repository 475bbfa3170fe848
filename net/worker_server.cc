#include "net/worker_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>
#include <new>
#include <utility>

#include "net/http/status.h"

namespace nexure::net {

using engine::make_tag;
using engine::OpTag;
using http1::Connection;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kAcceptRetryNs = 100 * kMs;  // back-off after EMFILE/ENFILE/ENOMEM
// Output buffers larger than this are freed, not kept, when a connection's output drains.
constexpr size_t kKeepBufferBytes = 64 * 1024;
// Drained heap output buffers a worker keeps for reuse (each <= kKeepBufferBytes). Most output
// goes to send slabs; these serve what outgrows a slab or finds none free.
constexpr size_t kSpareBuffers = 256;
// Connections per pool block: 256 x 280 bytes = one 70 KiB mapping per step of growth.
constexpr uint32_t kConnectionsPerBlock = 256;
constexpr unsigned kMaxReports = 20;  // handler errors and timeouts logged per worker per second
// The most of an engine answer's detail (an exception's text) kept for the hooks.
constexpr size_t kMaxDetail = 512;

const uint64_t kIgnoreTag = make_tag(static_cast<uint8_t>(engine::Op::kIgnore), 0, 0);

// The engine's answers as they always were: text/plain, the reason phrase and a newline.
void plain_answer(http::Response& res, int status) noexcept {
    res.status(status).type("text/plain");
    res.body(http::reason_phrase(status)).append("\n");
}

}  // namespace

size_t WorkerServer::frame_encoded(alloc::ByteBuffer& out, const http::Response& res,
                                   uint8_t flags, http::Framing framing) noexcept {
    const auto coding = static_cast<http::ContentCoding>((flags & http1::kCodingMask) >>
                                                         http1::kCodingShift);
    const http::EncodedAnswer* encoded = compressor_.encode(res, coding);
    if (encoded == nullptr) return writer_.write(out, res, framing);
    return writer_.write(out, res, framing, encoded->header_lines, encoded->body);
}

WorkerServer::WorkerServer(engine::Worker& worker, const SharedState& shared, int listen_fd)
    : worker_(worker),
      shared_(shared),
      loop_state_(std::make_shared<detail::LoopState>(worker)),
      loop_(loop_state_),
      config_(shared.config),
      listen_fd_(listen_fd),
      send_timeout_first_(shared.config.send_timeout_ms != 0 &&
                          (shared.config.idle_timeout_ms == 0 ||
                           shared.config.send_timeout_ms < shared.config.idle_timeout_ms)),
      max_unsent_responses_(static_cast<uint16_t>(
          shared.config.max_unsent_responses == 0 || shared.config.max_unsent_responses > UINT16_MAX
              ? UINT16_MAX
              : shared.config.max_unsent_responses)),
      hooked_(!shared.request_hooks.empty() || !shared.response_hooks.empty()),
      observed_(!shared.response_hooks.empty()),
      shaped_(shared.error_responder != nullptr || !shared.error_forms.empty()),
      parse_(shared.config.limits, worker.node(), shared.config.max_connections_per_worker),
      date_timer_(on_date_tick, this),
      accept_retry_timer_(on_accept_retry, this),
      connections_(alloc::PoolOptions{.objects_per_block = kConnectionsPerBlock,
                                      .max_objects = shared.config.max_connections_per_worker,
                                      .node = worker.node()},
                   [this](void* where, uint32_t index) { ::new (where) Connection(*this, index); }),
      io_ops_(worker.ring(), kIoOps),
      coroutines_(*this, worker.node()) {
    loop_state_->server = this;
    loop_state_->io = &io_ops_;
    outbound_ = std::make_shared<client::detail::Outbound>(worker, buffers_, kBufferGroup,
                                                            kClientOps);
    loop_state_->outbound = outbound_.get();
    detail::set_current_loop(&loop_state_);  // built on the worker's own thread
    if (shared.ws_registry) {
        ws_hub_ = std::make_unique<ws::detail::Hub>(worker, shared.ws_registry);
        shared.ws_registry->join(worker.index(), Loop(loop_state_));
    }
    // Routes that stream their bodies are chosen when a head is complete.
    // So are all heads when the engine's 413s are handed off (Server::handoff_engine_answers).
    parse_.set_head_hook(shared.streams_bodies || shared.engine_answers != SharedState::kNoId);
}

WorkerServer::~WorkerServer() {
    // Spliced file bodies first: dropping a job drops its producer, whose stream ends while every
    // connection is still here to be found (out of the list first: that end looks the list up).
    std::vector<std::unique_ptr<SpliceJob>> splices = std::move(splices_);
    splices_.clear();
    splices.clear();
    // The loop has ended; whatever is still open is closed synchronously here (awaited answers
    // are aborted), then the loop refuses posts and drops its timers.
    connections_.for_each_live([](Connection& c) { c.close_at_teardown(); });
    if (ws_hub_) {
        shared_.ws_registry->leave(worker_.index());
        ws_hub_.reset();  // its sockets close with it, before the outbound ones go
    }
    outbound_->teardown();
    loop_state_->outbound = nullptr;
    io_ops_.teardown();
    loop_state_->io = nullptr;
    // Coroutines still suspended are destroyed while the loop they wait on still exists.
    coroutines_.destroy_all();
    loop_state_->ready.clear();
    flush_report_counts();
    loop_state_->close();
    detail::set_current_loop(nullptr);
    for (http1::ResponseQueue* q : spare_queues_)
        delete q;
    for (int fd = pop_parked(); fd >= 0; fd = pop_parked())
        close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
}

Result<void> WorkerServer::init() {
    Result<void> r = loop_state_->init(worker_.node());
    if (!r) return r;
    r = buffers_.init(worker_.ring().raw(), kBufferGroup, config_.recv_buffers(),
                      config_.recv_buffer_size, worker_.node());
    if (!r) return r;
    if (ws_hub_) {
        // WebSocket messages are read whole from buffers of their own size (a frame that fits
        // one is unmasked and delivered in place), not stitched from the HTTP buffers.
        r = ws_buffers_.init(worker_.ring().raw(), kWsBufferGroup, config_.ws_recv_buffer_count,
                             config_.ws_recv_buffer_size, worker_.node());
        if (!r) return r;
        outbound_->set_adopted_buffers(&ws_buffers_, kWsBufferGroup);
    }
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
        // WebSocket messages handed off (the JavaScript bridge) stop their sockets' reading
        // while the handoff is full, as requests stop their connections'.
        if (ws_hub_) ws_hub_->set_consumer_full([this] { return handoff_saturated(); });
        handoff_paused_.reserve(64);
        resume_scratch_.reserve(64);
        spare_queues_.reserve(kSpareBuffers);
    }
    spare_buffers_.reserve(kSpareBuffers);
    detail_.reserve(kMaxDetail);
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
    auto* self = static_cast<WorkerServer*>(arg);
    self->flush_report_counts();
    self->schedule_date_tick();
}

void WorkerServer::flush_report_counts() noexcept {
    // What the last second's limit held back is counted and said, never dropped in silence.
    if (suppressed_errors_ != 0 || suppressed_timeouts_ != 0) {
        std::fprintf(stderr,
                     "nexure: worker %u: %llu more handler error(s) and %llu more handler "
                     "timeout(s) in the last second, not shown one by one\n",
                     worker_.index(), static_cast<unsigned long long>(suppressed_errors_),
                     static_cast<unsigned long long>(suppressed_timeouts_));
    }
    suppressed_errors_ = suppressed_timeouts_ = 0;
    reports_this_second_ = 0;
}

void WorkerServer::on_accept_retry(void* arg) noexcept {
    static_cast<WorkerServer*>(arg)->resume_accept();
}

// ---- accept ---------------------------------------------------------------------------------

void WorkerServer::arm_accept() noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, make_tag(kAccept, 0, 0));
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
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, make_tag(kAccept, 0, 0), 0);
        io_uring_sqe_set_data64(s, kIgnoreTag);
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
    if (connections_.live() >= config_.max_connections_per_worker) pause_accept();
    c->open(fd);
    return c;
}

void WorkerServer::connection_released(Connection* c) noexcept {
    drop_held_input(c);
    connections_.release(c->slot());
    if (const int fd = pop_parked(); fd >= 0) {
        open_connection(fd);  // the freed place goes to the longest-waiting parked socket
    } else if (accept_paused_) {
        resume_accept();
    }
}

Connection* WorkerServer::lookup(uint64_t user_data) noexcept {
    const OpTag tag = OpTag::unpack(user_data);
    if (!connections_.valid(tag.slot)) return nullptr;
    Connection* c = &connections_.at(tag.slot);
    if ((c->generation() & OpTag::kGenerationMask) != tag.generation || c->fd() < 0) return nullptr;
    return c;
}

// ---- what connections share -----------------------------------------------------------------

// Output buffers circulate through a per-worker free list: a connection takes one when it has a
// response to write and gives both back once its output has drained, so an idle keep-alive
// connection holds no buffer at all while the request path still never calls malloc once the
// list holds enough buffers for the busy connections.
void WorkerServer::take_fresh_output_buffer(alloc::ByteBuffer& buffer, uint16_t& slab) noexcept {
    const uint16_t s = send_.acquire();
    if (s != alloc::SendBuffers::kNone) {
        buffer.adopt(send_.slab(s), send_.slab_size());
        slab = s;
    } else if (!spare_buffers_.empty()) {
        // Every slab is in use: a heap buffer instead (allocated here only when none is spare).
        buffer.swap(spare_buffers_.back());
        spare_buffers_.pop_back();
    }
}

void WorkerServer::give_back(alloc::ByteBuffer& buffer, uint16_t& slab) noexcept {
    if (slab != http1::kNoSlab) {
        send_.release(slab);
        slab = http1::kNoSlab;
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

http1::ResponseQueue* WorkerServer::take_queue() noexcept {
    if (!spare_queues_.empty()) {
        http1::ResponseQueue* q = spare_queues_.back();
        spare_queues_.pop_back();
        return q;
    }
    return new (std::nothrow) http1::ResponseQueue();
}

void WorkerServer::give_back(http1::ResponseQueue* queue) noexcept {
    if (spare_queues_.size() >= kSpareBuffers) {
        delete queue;
        return;
    }
    queue->reset();  // frees the places' buffers; keeps the vector's capacity
    spare_queues_.push_back(queue);
}

WorkerServer::HeldInput* WorkerServer::find_held_input(const Connection* c) noexcept {
    for (HeldInput& h : held_) {
        if (h.connection == c) return &h;
    }
    return nullptr;
}

void WorkerServer::hold_input(const Connection* c, const char* data, size_t len) noexcept {
    HeldInput* h = find_held_input(c);
    if (h == nullptr) h = &held_.emplace_back(HeldInput{c, {}, 0});
    h->bytes.append(data, len);
}

void WorkerServer::hold_input_front(const Connection* c, std::string_view bytes) {
    HeldInput* h = find_held_input(c);
    if (h == nullptr) h = &held_.emplace_back(HeldInput{c, {}, 0});
    alloc::ByteBuffer merged;
    merged.append(bytes);
    merged.append(h->bytes.view().substr(h->parsed));
    h->bytes.swap(merged);
    h->parsed = 0;
}

void WorkerServer::drop_held_input(const Connection* c) noexcept {
    HeldInput* h = find_held_input(c);
    if (h == nullptr) return;
    if (h != &held_.back()) *h = std::move(held_.back());
    held_.pop_back();
}

http::Response& WorkerServer::engine_answer(int status, AnswerCause cause,
                                            std::string_view detail) noexcept {
    // Copied first: `detail` may be the response's own error text, which the reset clears.
    if (detail.data() != detail_.data()) detail_.assign(detail.substr(0, kMaxDetail));
    http::Response& res = fresh_response();
    plain_answer(res, status);
    if (shaped_) [[unlikely]] {
        shape_answer(res, status, cause);
    }
    return res;
}

void WorkerServer::shape_answer(http::Response& res, int status, AnswerCause cause) noexcept {
    const FixedResponse* form = nullptr;
    for (const FixedResponse& f : shared_.error_forms) {
        if (f.status == status) form = &f;
    }
    auto fill_default = [&res, status, form] {
        res.reset();
        if (form == nullptr) {
            plain_answer(res, status);
            return;
        }
        res.status(status);
        if (!form->content_type.empty()) res.type(form->content_type);
        for (const auto& [name, value] : form->headers)
            res.header(name, value);
        res.body(form->body);
    };
    if (form != nullptr) fill_default();
    if (!shared_.error_responder) return;
    // The callback writes the answer from a clean start (the status only), so that it may
    // write its body as it goes (JsonWriter); no handle may be taken here (defer, stream).
    res.reset();
    res.status(status);
    res.set_responder(nullptr);
    const EngineAnswer answer{status, cause, detail_};
    std::string_view misuse;
    try {
        shared_.error_responder(answer, res);
        if (!res.error().empty()) {
            misuse = res.error();
        } else if (res.status_code() != status) {
            misuse = "it set another status";
        } else if (res.wants_close()) {
            misuse = "it asked to close the connection";
        } else if (res.body_view().empty() && res.content_type().empty() &&
                   res.header_lines().empty()) {
            fill_default();  // it wrote nothing: the default stays, no misuse
            return;
        }
    } catch (const std::exception& e) {
        report("an error_response callback threw (the default answer was sent): ", e.what());
        fill_default();
        return;
    } catch (...) {
        report(
            "an error_response callback threw a non-standard exception (the default answer "
            "was sent)");
        fill_default();
        return;
    }
    if (misuse.empty()) return;
    report("an error_response callback was ignored (the default answer was sent): ", misuse);
    fill_default();  // after the report: `misuse` may be the response's own text
}

bool WorkerServer::answered_by_hooks(const http::Request& req, AnswerCause* cause) noexcept {
    for (const RequestHook& hook : shared_.request_hooks) {
        http::Response& res = fresh_response();
        HookResult result;
        try {
            result = hook(req, res);
        } catch (const std::exception& e) {
            answer_handler_error(e.what(), "a request hook threw, answered 500: ");
            *cause = AnswerCause::kHandlerError;
            return true;
        } catch (...) {
            answer_handler_error("a non-standard exception",
                                 "a request hook threw, answered 500: ");
            *cause = AnswerCause::kHandlerError;
            return true;
        }
        if (result == HookResult::kAnswered) {
            *cause = AnswerCause::kHook;
            if (!res.error().empty()) {
                answer_handler_error(res.error(),
                                     "a request hook's answer is invalid, answered 500: ");
                *cause = AnswerCause::kHandlerError;
            }
            return true;
        }
    }
    return false;
}

void WorkerServer::tell(ResponseInfo& info) noexcept {
    info.worker = worker_.index();
    for (const ResponseHook& hook : shared_.response_hooks) {
        try {
            hook(info);
        } catch (const std::exception& e) {
            report("an after-response hook threw: ", e.what());
        } catch (...) {
            report("an after-response hook threw a non-standard exception");
        }
    }
}

void WorkerServer::run_handler(uint32_t handler, const http::Request& req,
                               http::Response& res) noexcept {
    try {
        shared_.handlers[handler](req, res);
    } catch (const std::exception& e) {
        answer_handler_error(e.what());
    } catch (...) {
        answer_handler_error("a non-standard exception");
    }
}

void WorkerServer::answer_handler_error(std::string_view what, std::string_view who) noexcept {
    report(who, what);
    ++handler_errors_;
    engine_answer(500, AnswerCause::kHandlerError, what);
}

void WorkerServer::report(std::string_view what, std::string_view detail) noexcept {
    // Logged, but at most kMaxReports lines a second: a handler failing on every request must not
    // flood the log. The rest are counted and summed up at the next second (flush_report_counts).
    if (reports_this_second_ >= kMaxReports) {
        ++suppressed_errors_;
        return;
    }
    ++reports_this_second_;
    std::fprintf(stderr, "nexure: worker %u: %.*s%.*s\n", worker_.index(),
                 static_cast<int>(what.size()), what.data(), static_cast<int>(detail.size()),
                 detail.data());
}

void WorkerServer::report_handler_timeout() noexcept {
    if (reports_this_second_ >= kMaxReports) {
        ++suppressed_timeouts_;
        return;
    }
    ++reports_this_second_;
    std::fprintf(stderr, "nexure: worker %u: a handler did not answer within %u ms, answered 503\n",
                 worker_.index(), config_.handler_timeout_ms);
}

// ---- handed-off requests (net/handoff.h) ---------------------------------------------------

http::Response& WorkerServer::response() noexcept {
    return fresh_response();
}

bool WorkerServer::complete(const Ticket& ticket) noexcept {
    Connection* c = by_ticket(ticket);  // null: closed (or closing) meanwhile, nobody to answer
    return c != nullptr && c->complete(ticket, response_);
}

void WorkerServer::body_control(const Ticket& ticket, BodyControl op, uint32_t bytes) noexcept {
    if (Connection* c = by_ticket(ticket)) c->body_control(ticket, op, bytes);
}

bool WorkerServer::endpoints(uint32_t slot, uint32_t generation, http::Endpoint* remote,
                             http::Endpoint* local) const noexcept {
    auto& pool = const_cast<alloc::Pool<Connection>&>(connections_);
    if (!pool.valid(slot)) return false;
    const Connection& c = pool.at(slot);
    if (c.generation() != generation || c.fd() < 0) return false;
    Ends fresh;
    Ends* e = &fresh;
    if (slot < ends_.size()) {
        e = &ends_[slot];
    } else {
        try {
            ends_.resize(std::min<size_t>(std::max<size_t>(slot + 1, ends_.size() * 2),
                                         pool.capacity()));
            e = &ends_[slot];
        } catch (const std::bad_alloc&) {
            // Not cached: asked again next time.
        }
    }
    if (!e->known || e->generation != generation) {
        e->remote = http::Endpoint::peer_of(c.fd());
        e->local = http::Endpoint::local_of(c.fd());
        e->generation = generation;
        e->known = true;
    }
    if (remote != nullptr) *remote = e->remote;
    if (local != nullptr) *local = e->local;
    return true;
}

bool WorkerServer::open_stream(const Ticket& ticket, uint64_t length) noexcept {
    Connection* c = by_ticket(ticket);
    if (c == nullptr) return false;
    if (!response_.error().empty()) {
        (void)c->complete(ticket, response_);  // answered 500, the cause logged
        return false;
    }
    http::BodyFraming body = http::BodyFraming::kLength;
    if (length == kUnknownLength) body = http::BodyFraming::kChunked;
    if (length == kPreframed) body = http::BodyFraming::kPreframed;
    return c->open_handed_off_stream(ticket, response_, body,
                                     body == http::BodyFraming::kLength ? length : 0);
}

Completions::Write WorkerServer::write(const Ticket& ticket, std::string_view bytes) noexcept {
    Connection* c = by_ticket(ticket);
    if (c == nullptr || !c->streaming(ticket)) return Write::kGone;
    return c->stream_write(ticket, bytes) ? Write::kAccepted : Write::kFull;
}

void WorkerServer::end(const Ticket& ticket, bool failed) noexcept {
    Connection* c = by_ticket(ticket);
    if (c == nullptr) return;
    if (failed) {
        c->stream_fail(ticket);
    } else {
        c->stream_end(ticket, {});
    }
}

Connection* WorkerServer::by_ticket(const Ticket& ticket) noexcept {
    if (!connections_.valid(ticket.slot)) return nullptr;
    Connection* c = &connections_.at(ticket.slot);
    if (c->generation() != ticket.generation || c->fd() < 0 || c->closing()) return nullptr;
    return c;
}

bool WorkerServer::respond(const Ticket& ticket,
                           UniqueFunction<void(http::Response&)>& fill) noexcept {
    Connection* c = by_ticket(ticket);
    if (c == nullptr || !c->awaiting(ticket)) return false;
    http::Response& res = fresh_response();
    AnswerCause cause = AnswerCause::kHandler;
    // A deferred answer may accept a protocol upgrade (net/ws/: an upgrade hook that decided
    // later); nothing else a handler's responder does applies here.
    struct LateUpgrade final : http::Responder {
        Later defer() noexcept override { return {}; }
        Stream stream(const http::Response&, http::BodyFraming, uint64_t) noexcept override {
            return {};
        }
        bool upgrade(const http::Response&, UniqueFunction<void(Upgraded)> fn) noexcept override {
            if (taken) return false;
            take = std::move(fn);
            taken = true;
            return true;
        }
        UniqueFunction<void(Upgraded)> take;
        bool taken = false;
    } late;
    res.set_responder(&late);
    try {
        fill(res);
    } catch (const std::exception& e) {
        late.taken = false;
        answer_handler_error(e.what());
        cause = AnswerCause::kHandlerError;
    } catch (...) {
        late.taken = false;
        answer_handler_error("a non-standard exception");
        cause = AnswerCause::kHandlerError;
    }
    res.set_responder(nullptr);
    if (late.taken) [[unlikely]] {
        if (c->complete_upgrade(ticket, res, late.take, cause)) return true;
        answer_handler_error(
            "upgrade() in a deferred answer: only the answer to an upgrade request (with an "
            "Upgrade field) whose handler deferred it can switch protocols");
        cause = AnswerCause::kHandlerError;
    }
    return c->complete(ticket, res, cause);
}

void WorkerServer::answer_dropped(const Ticket& ticket) noexcept {
    Connection* c = by_ticket(ticket);
    if (c == nullptr || !c->awaiting(ticket)) return;
    answer_handler_error("a deferred answer (Later) was destroyed without respond()");
    c->complete(ticket, response_, AnswerCause::kHandlerError);
}

bool WorkerServer::answer_wanted(const Ticket& ticket) noexcept {
    Connection* c = by_ticket(ticket);
    return c != nullptr && c->wanted(ticket);
}

Stream WorkerServer::stream_deferred(const Ticket& ticket, const http::Response& head,
                                     http::BodyFraming body, uint64_t length) noexcept {
    Connection* c = by_ticket(ticket);
    return c != nullptr ? c->stream_deferred(ticket, head, body, length) : Stream{};
}

bool WorkerServer::set_abort(const Ticket& ticket, Task& fn) noexcept {
    Connection* c = by_ticket(ticket);
    return c != nullptr && c->set_abort(ticket, fn);
}

bool WorkerServer::stream_write(const Ticket& ticket, std::string_view bytes) noexcept {
    Connection* c = by_ticket(ticket);
    return c != nullptr && c->stream_write(ticket, bytes);
}

void WorkerServer::stream_end(const Ticket& ticket, std::string_view trailer_lines) noexcept {
    if (Connection* c = by_ticket(ticket)) c->stream_end(ticket, trailer_lines);
}

bool WorkerServer::stream_splice(const Ticket& ticket, int file_fd, uint64_t offset,
                                 uint64_t length, UniqueFunction<void(int)>& done) noexcept {
    Connection* c = by_ticket(ticket);
    return c != nullptr && c->stream_splice(ticket, file_fd, offset, length, done);
}

WorkerServer::SpliceJob::~SpliceJob() {
    if (pipe[0] >= 0) ::close(pipe[0]);
    if (pipe[1] >= 0) ::close(pipe[1]);
}

WorkerServer::SpliceJob* WorkerServer::find_splice(const Connection* c) noexcept {
    for (auto& j : splices_)
        if (j->connection == c) return j.get();
    return nullptr;
}

std::unique_ptr<WorkerServer::SpliceJob> WorkerServer::take_splice(const Connection* c) noexcept {
    for (auto it = splices_.begin(); it != splices_.end(); ++it) {
        if ((*it)->connection != c) continue;
        std::unique_ptr<SpliceJob> j = std::move(*it);
        splices_.erase(it);
        return j;
    }
    return nullptr;
}

bool WorkerServer::stream_on_writable(const Ticket& ticket, Task fn) noexcept {
    Connection* c = by_ticket(ticket);
    return c != nullptr && c->stream_on_writable(ticket, std::move(fn));
}

void WorkerServer::answer_abandoned() noexcept {
    connections_.for_each_live([](Connection& c) { c.answer_abandoned(); });
}

void WorkerServer::resume_handoff_paused() noexcept {
    if (handoff_saturated()) return;
    // Resuming feeds held input, which may pause connections again and list them anew: walk a
    // copy.
    resume_scratch_.swap(handoff_paused_);
    for (const auto& [c, generation] : resume_scratch_) {
        if (c->generation() != generation || c->fd() < 0 || c->closing() || !c->handoff_paused())
            continue;
        if (handoff_saturated() || !c->resume_after_handoff()) {
            handoff_paused_.emplace_back(c, generation);  // still waiting for room
        }
    }
    resume_scratch_.clear();
}

// ---- the loop's hooks -----------------------------------------------------------------------

void WorkerServer::on_completion(const io_uring_cqe& cqe) noexcept {
    switch (static_cast<uint8_t>(cqe.user_data >> 56)) {
        case kRecv:
            if (Connection* c = lookup(cqe.user_data)) {
                c->on_recv(cqe);
            } else if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
                // A stale completion: still hand the buffer back.
                buffers_.recycle(static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
            }
            break;
        case kSend:
            if (Connection* c = lookup(cqe.user_data)) c->on_send(cqe);
            break;
        case kSpliceIn:
            if (Connection* c = lookup(cqe.user_data)) c->on_splice_in(cqe);
            break;
        case kSpliceOut:
            if (Connection* c = lookup(cqe.user_data)) c->on_splice_out(cqe);
            break;
        case kAccept:
            on_accept(cqe);
            break;
        default:
            if (outbound_->owns(static_cast<uint8_t>(cqe.user_data >> 56)))
                outbound_->on_completion(cqe);
            else if (io_ops_.owns(static_cast<uint8_t>(cqe.user_data >> 56)))
                io_ops_.on_completion(cqe);
            break;
    }
}

void WorkerServer::on_turn_end() noexcept {
    // Tasks posted from other threads (answers from a thread pool, ...) and the coroutines made
    // ready this turn run before this turn's sends; finished coroutines' frames go after.
    loop_state_->run_posted();
    if (!loop_state_->ready.empty()) loop_state_->ready.run();
    if (coroutines_.has_finished()) coroutines_.reap();
    if (handoff_) {
        if (!handoff_paused_.empty()) resume_handoff_paused();
        if (ws_hub_ && ws_hub_->has_paused()) ws_hub_->resume_paused();
        // After every submit of this turn: publishes them and takes the answers back.
        handoff_->on_turn_end(*this);
        if (stopping_ && handoff_->abandoned()) answer_abandoned();
    }
    // One send per connection per turn carries every response produced this turn.
    for (Connection* c : flush_list_)
        c->flush();
    flush_list_.clear();
    outbound_->flush();
    buffers_.publish();
    if (ws_hub_) ws_buffers_.publish();
    outbound_->rearm();
    // Stopping, every client answered: outbound sockets still open (a connection the application
    // keeps) have nobody left to serve and would only hold the drain up.
    // Adopted ones (WebSocket connections) are left to their protocol's close handshake.
    if (stopping_ && connections_.live() == 0 && outbound_->live() > outbound_->adopted())
        outbound_->close_all(false, false);
    parse_.trim();
    for (Connection* c : rearm_list_)
        c->rearm();
    rearm_list_.clear();
}

void WorkerServer::on_stop_requested() noexcept {
    stopping_ = true;
    for (int fd = pop_parked(); fd >= 0; fd = pop_parked())
        close(fd);  // never read: nothing of theirs is in flight
    worker_.timers().cancel(&accept_retry_timer_);
    if (accept_armed_) {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, make_tag(kAccept, 0, 0), 0);
        io_uring_sqe_set_data64(s, kIgnoreTag);
    } else if (listen_fd_ >= 0) {
        close(listen_fd_);
        listen_fd_ = -1;
    }
    // Idle connections close now; busy ones after their current response (which says
    // "Connection: close").
    connections_.for_each_live([](Connection& c) { c.on_stop_requested(); });
    // Idle pooled upstream connections close now; busy ones after the requests they carry.
    outbound_->stop();
    // WebSocket connections get a close frame (1001) and end when the peer answers it.
    if (ws_hub_) ws_hub_->stop();
}

bool WorkerServer::prepare_to_sleep() noexcept {
    // Coroutines made ready after this turn's run (by others that ran): turn again for them.
    if (!loop_state_->ready.empty()) return false;
    // Tasks posted meanwhile: turn again to run them (else the next post rings the doorbell).
    if (!loop_state_->posts.prepare_to_sleep()) return false;
    if (!handoff_) return true;
    // Connections paused for room the handoff now has: turn again to resume them.
    const bool paused = !handoff_paused_.empty() || (ws_hub_ && ws_hub_->has_paused());
    const bool sleep = (!paused || handoff_->saturated()) && handoff_->prepare_to_sleep();
    if (!sleep) loop_state_->posts.awake();
    return sleep;
}

void WorkerServer::awake() noexcept {
    loop_state_->posts.awake();
    if (handoff_) handoff_->awake();
}

bool WorkerServer::drained() const noexcept {
    return connections_.live() == 0 && !accept_armed_ && outbound_->live() == 0 &&
           io_ops_.live() == 0;
}

void WorkerServer::on_drain_timeout() noexcept {
    outbound_->close_all(false);
    unsigned open = 0;
    connections_.for_each_live([&open](Connection& c) {
        if (c.fd() < 0) return;
        c.shut_down_now();
        ++open;
    });
    if (open > 0) {
        std::fprintf(stderr,
                     "nexure: worker %u: drain timeout, closing %u connection(s) still busy\n",
                     worker_.index(), open);
    }
}

}  // namespace nexure::net
