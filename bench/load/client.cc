#include "bench/load/client.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "alloc/buffer_ring.h"
#include "bench/load/response_parser.h"
#include "engine/cpu_topology.h"
#include "engine/op_tag.h"
#include "engine/ring.h"

namespace nexure::load {

namespace {

using engine::OpTag;

constexpr uint8_t kOpConnect = static_cast<uint8_t>(engine::Op::kFirstUserOp);
constexpr uint8_t kOpRecv = kOpConnect + 1;
constexpr uint8_t kOpSend = kOpConnect + 2;
constexpr uint8_t kOpIgnore = static_cast<uint8_t>(engine::Op::kIgnore);

constexpr uint16_t kBufferGroup = 0;
constexpr unsigned kRecvBufferSize = 16 * 1024;
constexpr uint64_t kReconnectDelayNs = 10'000'000;  // after a failed connect
constexpr uint64_t kTickNs = 10'000'000;            // timeouts, reconnects, progress

uint64_t now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

unsigned round_up_pow2(unsigned v) noexcept {
    unsigned p = 1;
    while (p < v) p <<= 1;
    return p;
}

struct Conn {
    enum class State : uint8_t { kClosed, kConnecting, kOpen };

    explicit Conn(bool head_requests) : parser(head_requests) {}

    ResponseParser parser;
    int fd = -1;
    uint32_t gen = 0;
    State state = State::kClosed;
    bool sending = false;
    bool closing = false;  // the server said it closes after a response: no more requests here
    uint32_t outstanding = 0;  // requests sent (or being sent) whose response has not arrived
    uint32_t head = 0;         // the oldest outstanding request's slot in the time FIFOs
    size_t send_off = 0;       // the current send: bytes of the batch buffer written so far
    size_t send_len = 0;       //   and in all
    uint64_t reconnect_at = 0;
    uint64_t connect_started = 0;
    uint64_t next_index = 0;  // constant rate: this connection's next request number
};

// Shared between run_load() and its threads: the start signal and the common time base.
struct Start {
    explicit Start(unsigned threads) : ready(threads) {}
    std::latch ready;  // every thread has set up (or failed to)
    std::mutex mutex;
    std::condition_variable cv;
    bool go = false;
    bool abort = false;
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;
};

class LoadThread final : public ResponseSink {
  public:
    LoadThread(const LoadOptions& options, unsigned index, int cpu, unsigned connections,
               uint64_t budget, const std::string& request, Progress* progress)
        : options_(options),
          schedule_(options, index),
          index_(index),
          cpu_(cpu),
          budget_(budget),
          to_send_(budget),
          rate_mode_(options.rate > 0),
          head_requests_(options.method == "HEAD"),
          pipeline_(options.pipeline),
          request_len_(request.size()),
          progress_(progress) {
        batch_.reserve(request.size() * pipeline_);
        for (unsigned i = 0; i < pipeline_; ++i) batch_ += request;
        conns_.reserve(connections);
        for (unsigned i = 0; i < connections; ++i) conns_.emplace_back(head_requests_);
        // A connect that hangs (a host that drops SYNs) ends after --timeout as -ECANCELED.
        connect_timeout_.tv_sec = static_cast<int64_t>(options.timeout_s);
        connect_timeout_.tv_nsec = static_cast<long long>(
            (options.timeout_s - static_cast<double>(connect_timeout_.tv_sec)) * 1e9);
        sent_at_.assign(static_cast<size_t>(connections) * pipeline_, 0);
        if (rate_mode_) {
            intended_at_.assign(sent_at_.size(), 0);
            report_.corrected = std::make_unique<LatencyHistogram>();
        }
    }

    Report& report() noexcept { return report_; }
    const Error* error() const noexcept { return error_.message.empty() ? nullptr : &error_; }

    void run(Start* start) {
        setup();
        start->ready.count_down();
        {
            std::unique_lock lock(start->mutex);
            start->cv.wait(lock, [&] { return start->go; });
            if (start->abort || error() != nullptr) return;
            start_ns_ = start->start_ns;
            end_ns_ = start->end_ns;
        }
        loop();
        shutdown_all();
    }

  private:
    void setup() {
        if (options_.pin && cpu_ >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(static_cast<unsigned>(cpu_), &set);
            if (const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set); rc != 0) {
                error_ = Error{rc, "cannot pin load thread " + std::to_string(index_) +
                                       " to CPU " + std::to_string(cpu_) + ": " +
                                       std::strerror(rc) + " (use --no-pin)"};
                return;
            }
        }
        const unsigned conns = static_cast<unsigned>(conns_.size());
        engine::RingOptions ro;
        ro.sq_entries = std::clamp(round_up_pow2(4 * conns), 256u, 32768u);
        ro.cq_entries = ro.sq_entries * 4;
        if (auto r = ring_.init(ro); !r) {
            error_ = r.error();
            return;
        }
        const unsigned buffers = std::clamp(round_up_pow2(2 * conns), 256u, 2048u);
        if (auto r = buffers_.init(ring_.raw(), kBufferGroup, buffers, kRecvBufferSize); !r) {
            error_ = r.error();
            return;
        }
    }

    void loop() {
        uint64_t now = now_ns();
        now_ = now;
        for (Conn& c : conns_) open(c, now);
        uint64_t next_tick = now + kTickNs;
        uint64_t reported_requests = 0;
        uint64_t reported_errors = 0;
        if (budget_ == 0) {  // -n smaller than -t: nothing for this thread to do
            finished_ = true;
            last_response_ns_ = start_ns_;
        }
        while (!finished_) {
            uint64_t wake = std::min(end_ns_, next_tick);
            if (rate_mode_) wake = std::min(wake, next_due_);
            const int64_t wait = wake > now ? static_cast<int64_t>(wake - now) : 0;
            const int rc = ring_.submit_and_wait(wait);
            if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
                error_ = Error{-rc, std::string("io_uring_enter failed: ") + std::strerror(-rc)};
                break;
            }
            harvest();
            buffers_.publish();
            now = now_ns();
            now_ = now;
            if (now >= end_ns_) break;
            if (rate_mode_) send_due_all(now);
            if (now >= next_tick) {
                next_tick = now + kTickNs;
                if (progress_ != nullptr && progress_->stop.load(std::memory_order_relaxed)) break;
                tick(now);
                if (progress_ != nullptr) {
                    progress_->requests.fetch_add(report_.requests - reported_requests,
                                                  std::memory_order_relaxed);
                    progress_->errors.fetch_add(report_.errors.total() - reported_errors,
                                                std::memory_order_relaxed);
                    reported_requests = report_.requests;
                    reported_errors = report_.errors.total();
                }
            }
        }
        stop_ns_ = std::min(now, end_ns_);
        if (finished_) stop_ns_ = last_response_ns_;
        report_.duration_s = static_cast<double>(stop_ns_ - start_ns_) / 1e9;
        if (progress_ != nullptr) {
            progress_->requests.fetch_add(report_.requests - reported_requests,
                                          std::memory_order_relaxed);
            progress_->errors.fetch_add(report_.errors.total() - reported_errors,
                                        std::memory_order_relaxed);
        }
    }

    void harvest() {
        io_uring* ring = ring_.raw();
        io_uring_cqe* cqe = nullptr;
        unsigned head = 0;
        unsigned seen = 0;
        io_uring_for_each_cqe(ring, head, cqe) {
            ++seen;
            complete(cqe->user_data, cqe->res, cqe->flags);
        }
        io_uring_cq_advance(ring, seen);
    }

    void complete(uint64_t user_data, int res, unsigned flags) {
        const OpTag tag = OpTag::unpack(user_data);
        const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
        const auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        if (tag.op == kOpIgnore || tag.slot >= conns_.size()) {
            if (has_buffer) buffers_.recycle(bid);
            return;
        }
        Conn& c = conns_[tag.slot];
        const bool stale = tag.generation != (c.gen & OpTag::kGenerationMask);
        if (stale) {
            if (has_buffer) buffers_.recycle(bid);
            return;
        }
        switch (tag.op) {
            case kOpConnect:
                on_connect(c, res);
                break;
            case kOpRecv:
                on_recv(c, res, flags, has_buffer, bid);
                break;
            case kOpSend:
                on_send(c, res);
                break;
            default:
                if (has_buffer) buffers_.recycle(bid);
                break;
        }
    }

    uint32_t slot_of(const Conn& c) const noexcept {
        return static_cast<uint32_t>(&c - conns_.data());
    }
    uint64_t tag_of(uint8_t op, const Conn& c) const noexcept {
        return engine::make_tag(op, c.gen, slot_of(c));
    }

    void open(Conn& c, uint64_t now) {
        const auto* addr = reinterpret_cast<const sockaddr*>(&options_.target.addr);
        c.fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {  // out of descriptors: counted, and tried again later
            ++report_.errors.connect;
            note_error(std::string("connect: socket: ") + std::strerror(errno));
            c.state = Conn::State::kClosed;
            c.reconnect_at = now + kReconnectDelayNs;
            return;
        }
        const int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.state = Conn::State::kConnecting;
        c.connect_started = now;
        io_uring_sqe* sqe = ring_.get_sqe();
        io_uring_prep_connect(sqe, c.fd, addr, options_.target.addr_len);
        io_uring_sqe_set_data64(sqe, tag_of(kOpConnect, c));
        sqe->flags |= IOSQE_IO_LINK;
        io_uring_sqe* link = ring_.get_sqe();
        io_uring_prep_link_timeout(link, &connect_timeout_, 0);
        io_uring_sqe_set_data64(link, engine::make_tag(kOpIgnore, 0, 0));
    }

    // Closes the connection (a closed multishot receive ends by itself); requests outstanding on
    // it go back to the -n budget. It is opened again at `reopen_at`.
    void close(Conn& c, uint64_t reopen_at) {
        if (c.fd >= 0) {
            ::shutdown(c.fd, SHUT_RDWR);
            ::close(c.fd);
        }
        c.fd = -1;
        ++c.gen;
        c.state = Conn::State::kClosed;
        if (budget_ != kNoLimit) to_send_ += c.outstanding;
        c.outstanding = 0;
        c.head = 0;
        c.sending = false;
        c.closing = false;
        c.send_off = c.send_len = 0;
        c.parser = ResponseParser(head_requests_);
        c.reconnect_at = reopen_at;
        if (reopen_at <= now_) open(c, now_);
    }

    void arm_recv(Conn& c) {
        io_uring_sqe* sqe = ring_.get_sqe();
        io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = kBufferGroup;
        io_uring_sqe_set_data64(sqe, tag_of(kOpRecv, c));
    }

    void submit_send(Conn& c) {
        io_uring_sqe* sqe = ring_.get_sqe();
        io_uring_prep_send(sqe, c.fd, batch_.data() + c.send_off, c.send_len - c.send_off,
                           MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, tag_of(kOpSend, c));
    }

    // Writes `count` requests (a prefix of the batch buffer) and notes their times.
    void send(Conn& c, uint32_t count, uint64_t now) {
        const size_t base = static_cast<size_t>(slot_of(c)) * pipeline_;
        for (uint32_t i = 0; i < count; ++i) {
            const size_t slot = base + (c.head + c.outstanding + i) % pipeline_;
            sent_at_[slot] = now;
            if (rate_mode_) {
                intended_at_[slot] = intended(c, c.next_index + i);
            }
        }
        if (rate_mode_) c.next_index += count;
        c.outstanding += count;
        to_send_ -= count;
        c.sending = true;
        c.send_off = 0;
        c.send_len = request_len_ * count;
        submit_send(c);
    }

    // Closed loop: the next batch once the last one is answered and written.
    void send_batch(Conn& c, uint64_t now) {
        if (c.state != Conn::State::kOpen || c.sending || c.closing || c.outstanding != 0) return;
        const auto count = static_cast<uint32_t>(std::min<uint64_t>(pipeline_, to_send_));
        if (count != 0) send(c, count, now);
    }

    // Constant rate: the time request `m` of connection `c` is due.
    uint64_t intended(const Conn& c, uint64_t m) const noexcept {
        return start_ns_ + schedule_.due_ns(slot_of(c), m);
    }

    void send_due_all(uint64_t now) {
        uint64_t next = UINT64_MAX;
        for (Conn& c : conns_) {
            if (c.state != Conn::State::kOpen || c.sending || c.closing ||
                c.outstanding >= pipeline_) {
                continue;
            }
            uint32_t count = 0;
            while (c.outstanding + count < pipeline_ && count < to_send_ &&
                   intended(c, c.next_index + count) <= now) {
                ++count;
            }
            if (count != 0) send(c, count, now);
            if (!c.sending) next = std::min(next, intended(c, c.next_index));
        }
        next_due_ = next;
    }

    void on_connect(Conn& c, int res) {
        const uint64_t now = now_;
        if (res < 0) {
            ++report_.errors.connect;
            note_error(res == -ECANCELED ? "connect: no answer within --timeout"
                                         : std::string("connect: ") + std::strerror(-res));
            close(c, now + kReconnectDelayNs);
            return;
        }
        c.state = Conn::State::kOpen;
        arm_recv(c);
        if (rate_mode_) {
            next_due_ = 0;  // look at the schedule again this turn
        } else {
            send_batch(c, now);
        }
    }

    void on_send(Conn& c, int res) {
        if (res < 0) {
            ++report_.errors.write;
            note_error(std::string("write: ") + std::strerror(-res));
            close(c, now_);
            return;
        }
        c.send_off += static_cast<size_t>(res);
        if (c.send_off < c.send_len) {
            submit_send(c);  // a short send: write the rest
            return;
        }
        c.sending = false;
        if (rate_mode_) {
            next_due_ = 0;
        } else {
            send_batch(c, now_);
        }
    }

    void on_recv(Conn& c, int res, unsigned flags, bool has_buffer, uint16_t bid) {
        if (res > 0) {
            const uint64_t now = now_ns();
            now_ = now;
            report_.bytes += static_cast<uint64_t>(res);
            current_ = &c;
            unexpected_ = false;
            const bool ok = c.parser.feed(buffers_.buffer(bid), static_cast<size_t>(res), *this);
            buffers_.recycle(bid);
            if (!ok || unexpected_) {
                ++report_.errors.parse;
                note_error(unexpected_ ? "parse: a response arrived without a request"
                                       : "parse: " + c.parser.error());
                close(c, now);
                return;
            }
            if (finished_) return;
            if (c.closing) {
                // The server announced its close: requests written after that response will not
                // be answered (with -n they are sent again); open a new connection now.
                close(c, now);
                return;
            }
            if ((flags & IORING_CQE_F_MORE) == 0) arm_recv(c);
            if (!rate_mode_) send_batch(c, now);
            return;
        }
        if (has_buffer) buffers_.recycle(bid);
        if (res == -ENOBUFS) {  // every buffer was in use: they are handed back this turn
            arm_recv(c);
            return;
        }
        // End of stream or an error: a close that leaves requests unanswered is a read error.
        bool complete = res == 0;
        if (res == 0) {
            current_ = &c;
            unexpected_ = false;
            complete = c.parser.finish(*this) && !unexpected_;
        }
        if (c.outstanding != 0 || !complete) {
            ++report_.errors.read;
            note_error(res == 0 ? "read: the server closed the connection with " +
                                      std::to_string(c.outstanding) + " request(s) unanswered"
                                : std::string("read: ") + std::strerror(-res));
        }
        close(c, now_);
    }

    // ResponseSink: one complete response on the connection being fed.
    void on_response(int status, uint64_t bytes) noexcept override {
        (void)bytes;
        Conn& c = *current_;
        if (status < 200 && status != 101) {  // interim: the final response is still to come
            ++report_.status[0];
            return;
        }
        if (c.outstanding == 0) {
            unexpected_ = true;
            return;
        }
        if (c.parser.closes()) c.closing = true;
        const size_t slot = static_cast<size_t>(slot_of(c)) * pipeline_ + c.head;
        c.head = (c.head + 1) % pipeline_;
        --c.outstanding;
        const uint64_t now = now_;
        report_.latency->record((now - sent_at_[slot]) / 1000);
        if (rate_mode_) {
            const uint64_t due = intended_at_[slot];
            report_.corrected->record(now > due ? (now - due) / 1000 : 0);
        }
        ++report_.requests;
        ++report_.status[static_cast<size_t>(std::clamp(status / 100, 1, 5) - 1)];
        if (report_.requests >= budget_) {
            finished_ = true;
            last_response_ns_ = now;
        }
    }

    // Every 10 ms: responses overdue, connects to retry.
    void tick(uint64_t now) {
        const auto timeout = static_cast<uint64_t>(options_.timeout_s * 1e9);
        for (Conn& c : conns_) {
            if (c.state == Conn::State::kOpen && c.outstanding != 0) {
                const size_t slot = static_cast<size_t>(slot_of(c)) * pipeline_ + c.head;
                if (now - sent_at_[slot] > timeout) {
                    report_.errors.timeout += c.outstanding;
                    note_error("timeout: no response within --timeout");
                    c.outstanding = 0;  // given up, not sent again
                    close(c, now);
                }
            }
            if (c.state == Conn::State::kClosed && now >= c.reconnect_at) open(c, now);
        }
    }

    void note_error(std::string what) {
        if (report_.first_error.empty()) report_.first_error = std::move(what);
    }

    void shutdown_all() {
        for (Conn& c : conns_) {
            if (c.fd >= 0) {
                ::shutdown(c.fd, SHUT_RDWR);
                ::close(c.fd);
                c.fd = -1;
                ++c.gen;
            }
        }
    }

    const LoadOptions& options_;
    const RateSchedule schedule_;  // constant rate only
    const unsigned index_;
    const int cpu_;
    static constexpr uint64_t kNoLimit = UINT64_MAX;
    const uint64_t budget_;  // responses this thread waits for (kNoLimit: no limit)
    uint64_t to_send_;       // requests this thread may still write
    const bool rate_mode_;
    const bool head_requests_;  // responses carry no body (ResponseParser's HEAD mode)
    const uint32_t pipeline_;
    const size_t request_len_;
    Progress* const progress_;

    std::string batch_;  // the request, --pipeline times
    std::vector<Conn> conns_;
    std::vector<uint64_t> sent_at_;      // per connection, --pipeline slots: when each was sent
    std::vector<uint64_t> intended_at_;  //   and (constant rate) when it was due
    uint64_t next_due_ = 0;
    __kernel_timespec connect_timeout_{};  // --timeout, for the timeout linked to each connect

    engine::Ring ring_;         // destroyed after the buffer ring registered with it
    alloc::BufferRing buffers_;

    Report report_;
    Error error_;
    Conn* current_ = nullptr;
    bool unexpected_ = false;
    bool finished_ = false;
    uint64_t now_ = 0;
    uint64_t start_ns_ = 0;
    uint64_t end_ns_ = 0;
    uint64_t stop_ns_ = 0;
    uint64_t last_response_ns_ = 0;
};

}  // namespace

unsigned connections_of_thread(const LoadOptions& options, unsigned thread) noexcept {
    return options.connections / options.threads +
           (thread < options.connections % options.threads ? 1 : 0);
}

RateSchedule::RateSchedule(const LoadOptions& options, unsigned thread) noexcept
    : connections_(connections_of_thread(options, thread)),
      interval_ns_(options.rate > 0 ? 1e9 * options.threads / options.rate : 0) {}

Result<Report> run_load(const LoadOptions& options, Progress* progress) {
    if (options.threads == 0 || options.connections < options.threads || options.pipeline == 0) {
        return Error{EINVAL, "need at least one thread, one connection per thread and a pipeline "
                             "depth of at least 1"};
    }
    const std::string request = build_request(options);
    const engine::CpuTopology topology = engine::CpuTopology::detect();
    std::vector<std::unique_ptr<LoadThread>> threads;
    threads.reserve(options.threads);
    for (unsigned i = 0; i < options.threads; ++i) {
        const unsigned conns = connections_of_thread(options, i);
        uint64_t budget = UINT64_MAX;
        if (options.max_requests != 0) {
            budget = options.max_requests / options.threads +
                     (i < options.max_requests % options.threads ? 1 : 0);
        }
        threads.push_back(std::make_unique<LoadThread>(
            options, i, options.pin ? topology.cpu_for_worker(i) : -1, conns, budget, request,
            progress));
    }

    Start start(options.threads);
    std::vector<std::thread> running;
    running.reserve(options.threads);
    for (auto& t : threads) {
        LoadThread* thread = t.get();
        running.emplace_back([thread, &start] { thread->run(&start); });
    }
    start.ready.wait();
    const Error* failed = nullptr;
    for (auto& t : threads) {
        if (failed == nullptr) failed = t->error();
    }
    {
        std::lock_guard lock(start.mutex);
        start.go = true;
        start.abort = failed != nullptr;
        start.start_ns = now_ns();
        start.end_ns = start.start_ns + static_cast<uint64_t>(options.duration_s * 1e9);
    }
    start.cv.notify_all();
    for (std::thread& t : running) t.join();
    if (failed != nullptr) return *failed;
    for (auto& t : threads) {
        if (const Error* e = t->error(); e != nullptr) return *e;
    }

    std::vector<Report> reports;
    reports.reserve(threads.size());
    for (auto& t : threads) reports.push_back(std::move(t->report()));
    return merge_reports(reports);
}

}  // namespace nexure::load
