#include "engine/worker.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "alloc/numa.h"

namespace nexure::engine {

namespace {
constexpr uint64_t kTickNs = 1'000'000;  // 1 ms timer resolution
}

uint64_t Worker::monotonic_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

Worker::Worker(unsigned index, int cpu, int node) noexcept
    : index_(index),
      cpu_(cpu),
      node_(node),
      timers_(kTickNs, monotonic_ns()),
      drain_timer_(on_drain_deadline, this) {
    now_ns_ = monotonic_ns();
}

Worker::~Worker() {
    if (doorbell_fd_ >= 0) close(doorbell_fd_);
}

Result<void> Worker::init(const RingOptions& options) {
    if (cpu_ >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu_, &set);
        const int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        if (rc != 0) {
            return Error{rc, "cannot pin worker " + std::to_string(index_) + " to CPU " +
                                 std::to_string(cpu_) + ": " + std::strerror(rc)};
        }
    }
    if (node_ >= 0) {
        // Whatever this thread allocates from here on (the ring, malloc's pages) prefers the
        // worker's node; the pools and buffers bind their memory to it explicitly as well.
        // Best-effort: without NUMA support there is nothing to prefer.
        (void)alloc::numa_prefer_node(node_);
    }
    Result<void> ring = ring_.init(options);
    if (!ring) return ring;
    doorbell_fd_ = eventfd(0, EFD_CLOEXEC);
    if (doorbell_fd_ < 0) {
        return Error{errno, std::string("eventfd failed: ") + std::strerror(errno)};
    }
    arm_doorbell();
    return {};
}

void Worker::arm_doorbell() noexcept {
    io_uring_sqe* sqe = ring_.get_sqe();
    io_uring_prep_read(sqe, doorbell_fd_, &doorbell_value_, sizeof(doorbell_value_), 0);
    io_uring_sqe_set_data64(sqe, make_tag(static_cast<uint8_t>(Op::kWake), 0, 0));
}

void Worker::request_stop() noexcept {
    if (stop_requested_.exchange(true, std::memory_order_acq_rel)) return;
    wake();
}

void Worker::wake() noexcept {
    const uint64_t one = 1;
    // Fails only when the counter would overflow, i.e. a wake-up is pending anyway.
    (void)!write(doorbell_fd_, &one, sizeof(one));
}

void Worker::on_drain_deadline(void* self) noexcept {
    static_cast<Worker*>(self)->drain_expired_ = true;
}

void Worker::run(WorkerHandler& handler, uint64_t drain_timeout_ns) noexcept {
    io_uring* ring = ring_.raw();
    for (;;) {
        if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) {
            stopping_ = true;
            timers_.schedule(&drain_timer_, now_ns_ + drain_timeout_ns);
            handler.on_stop_requested();
        }
        if (stopping_) {
            if (handler.drained()) break;
            if (drain_expired_) {
                handler.on_drain_timeout();
                break;
            }
        }

        // now_ns_ was read at the end of the previous turn, just before on_turn_end(), and is read
        // again below after a wait.
        const bool sleep = handler.prepare_to_sleep();
        const int rc = ring_.submit_and_wait(sleep ? timers_.ns_until_next(now_ns_) : 0);
        if (sleep) {
            // The wait may have lasted until the next timer (up to a second): the completions
            // that woke us are handled at the time they arrived, not at the time we fell asleep
            // (a request stamped with the old time would look idle for that long, and a timer
            // set in its handler would fire that much early).
            now_ns_ = monotonic_ns();
            handler.awake();
        }
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            std::fprintf(stderr, "nexure: worker %u: io_uring_enter failed: %s\n", index_,
                         std::strerror(-rc));
            NEXURE_CHECK(rc >= 0);
        }

        unsigned seen = 0;
        unsigned head;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(ring, head, cqe) {
            ++seen;
            const uint8_t op = static_cast<uint8_t>(cqe->user_data >> 56);
            if (op >= static_cast<uint8_t>(Op::kFirstUserOp)) {
                handler.on_completion(*cqe);
            } else if (op == static_cast<uint8_t>(Op::kWake)) {
                arm_doorbell();  // a wake only interrupts the wait; the flag says why
            }
        }
        io_uring_cq_advance(ring, seen);

        now_ns_ = monotonic_ns();
        timers_.advance(now_ns_);
        handler.on_turn_end();
    }
    timers_.cancel(&drain_timer_);
    io_uring_submit(ring);  // hand over the last closes the handler queued
}

}  // namespace nexure::engine
