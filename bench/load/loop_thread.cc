#include "bench/load/loop_thread.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

namespace nexure::load {

namespace {

using engine::OpTag;

constexpr uint8_t kOpIgnore = static_cast<uint8_t>(engine::Op::kIgnore);
constexpr uint16_t kBufferGroup = 0;
constexpr unsigned kRecvBufferSize = 16 * 1024;

unsigned round_up_pow2(unsigned v) noexcept {
    unsigned p = 1;
    while (p < v) p <<= 1;
    return p;
}

}  // namespace

uint64_t now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

LoopThread::LoopThread(const LoadOptions& options, unsigned index, int cpu, Progress* progress)
    : options_(options), index_(index), progress_(progress), cpu_(cpu) {
    // A connect that hangs (a host that drops SYNs) ends after --timeout as -ECANCELED.
    connect_timeout_.tv_sec = static_cast<int64_t>(options.timeout_s);
    connect_timeout_.tv_nsec = static_cast<long long>(
        (options.timeout_s - static_cast<double>(connect_timeout_.tv_sec)) * 1e9);
}

void LoopThread::run(Start* start) {
    setup();
    start->ready.count_down();
    {
        std::unique_lock lock(start->mutex);
        start->cv.wait(lock, [&] { return start->go; });
        if (start->abort || error() != nullptr) return;
        start_ns_ = start->start_ns;
        end_ns_ = start->end_ns;
    }
    measure_from_ns_ = start_ns_;
    loop();
    end();
}

void LoopThread::setup() {
    if (options_.pin && cpu_ >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(static_cast<unsigned>(cpu_), &set);
        if (const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set); rc != 0) {
            error_ = Error{rc, "cannot pin load thread " + std::to_string(index_) + " to CPU " +
                                   std::to_string(cpu_) + ": " + std::strerror(rc) +
                                   " (use --no-pin)"};
            return;
        }
    }
    const unsigned conns = socket_count();
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

void LoopThread::loop() {
    uint64_t now = now_ns();
    now_ = now;
    begin(now);
    uint64_t next_tick = now + kTickNs;
    uint64_t next_due = 0;
    uint64_t reported_requests = 0;
    uint64_t reported_errors = 0;
    const auto report_progress = [&] {
        if (progress_ == nullptr) return;
        progress_->requests.fetch_add(report_.requests - reported_requests,
                                      std::memory_order_relaxed);
        progress_->errors.fetch_add(report_.errors.total() - reported_errors,
                                    std::memory_order_relaxed);
        reported_requests = report_.requests;
        reported_errors = report_.errors.total();
    };
    while (!finished_) {
        const uint64_t wake = std::min({end_ns_, next_tick, next_due});
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
        next_due = after_turn(now);
        if (now >= next_tick) {
            next_tick = now + kTickNs;
            if (progress_ != nullptr && progress_->stop.load(std::memory_order_relaxed)) break;
            on_tick(now);
            report_progress();
        }
    }
    uint64_t stop = std::min(now, end_ns_);
    if (finished_) stop = last_response_ns_;
    const uint64_t from = std::min(measure_from_ns_, stop);
    report_.duration_s = static_cast<double>(stop - from) / 1e9;
    report_progress();
}

void LoopThread::harvest() {
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

void LoopThread::complete(uint64_t user_data, int res, unsigned flags) {
    const OpTag tag = OpTag::unpack(user_data);
    const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
    const auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    const bool stale = tag.op == kOpIgnore || tag.slot >= socket_count() ||
                       tag.generation != (socket(tag.slot).gen & OpTag::kGenerationMask);
    if (stale) {
        if (has_buffer) buffers_.recycle(bid);
        return;
    }
    switch (tag.op) {
        case kOpConnect:
            on_connect(tag.slot, res);
            break;
        case kOpRecv:
            on_recv(tag.slot, res, flags, has_buffer, bid);
            break;
        case kOpSend:
            on_send(tag.slot, res);
            break;
        default:
            if (has_buffer) buffers_.recycle(bid);
            break;
    }
}

bool LoopThread::open_socket(Socket& s, uint32_t slot, uint64_t now) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&options_.target.addr);
    s.fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {  // out of descriptors: counted, and tried again later
        ++report_.errors.connect;
        note_error(std::string("connect: socket: ") + std::strerror(errno));
        s.state = Socket::State::kClosed;
        s.reconnect_at = now + kReconnectDelayNs;
        return false;
    }
    const int one = 1;
    ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s.state = Socket::State::kConnecting;
    s.connect_started = now;
    io_uring_sqe* sqe = ring_.get_sqe();
    io_uring_prep_connect(sqe, s.fd, addr, options_.target.addr_len);
    io_uring_sqe_set_data64(sqe, engine::make_tag(kOpConnect, s.gen, slot));
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe* link = ring_.get_sqe();
    io_uring_prep_link_timeout(link, &connect_timeout_, 0);
    io_uring_sqe_set_data64(link, engine::make_tag(kOpIgnore, 0, 0));
    return true;
}

void LoopThread::close_socket(Socket& s) noexcept {
    if (s.fd >= 0) {
        ::shutdown(s.fd, SHUT_RDWR);
        ::close(s.fd);
    }
    s.fd = -1;
    ++s.gen;  // a closed multishot receive ends by itself; what is still pending is stale now
    s.state = Socket::State::kClosed;
}

void LoopThread::arm_recv(const Socket& s, uint32_t slot) {
    io_uring_sqe* sqe = ring_.get_sqe();
    io_uring_prep_recv_multishot(sqe, s.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, engine::make_tag(kOpRecv, s.gen, slot));
}

void LoopThread::send_bytes(const Socket& s, uint32_t slot, const char* data, size_t len) {
    io_uring_sqe* sqe = ring_.get_sqe();
    io_uring_prep_send(sqe, s.fd, data, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, engine::make_tag(kOpSend, s.gen, slot));
}

void LoopThread::note_error(std::string what) {
    if (report_.first_error.empty()) report_.first_error = std::move(what);
}

Result<Report> run_threads(const LoadOptions& options,
                           std::vector<std::unique_ptr<LoopThread>>& threads) {
    Start start(static_cast<unsigned>(threads.size()));
    std::vector<std::thread> running;
    running.reserve(threads.size());
    for (auto& t : threads) {
        LoopThread* thread = t.get();
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
