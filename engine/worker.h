// Worker: one pinned thread with its own io_uring, timer wheel and doorbell.
//
// The loop: one submit_and_wait per turn, then every available completion is dispatched, the
// timers advance, and the handler's on_turn_end() runs (where modules above batch their sends).
// Completions whose op is below Op::kFirstUserOp belong to the worker itself; the rest go to the
// WorkerHandler. Everything here runs on the worker's own thread except request_stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "engine/op_tag.h"
#include "engine/ring.h"
#include "engine/timer_wheel.h"

namespace nexure::engine {

// What a module above engine/ plugs into a worker. All calls come from the worker thread.
class WorkerHandler {
  public:
    virtual ~WorkerHandler() = default;
    // A completion for an op >= Op::kFirstUserOp.
    virtual void on_completion(const io_uring_cqe& cqe) noexcept = 0;
    // After all completions and timers of one loop turn; the place to queue batched sends.
    virtual void on_turn_end() noexcept = 0;
    // Shutdown began: stop accepting, let in-flight work finish. Called once.
    virtual void on_stop_requested() noexcept = 0;
    // True once nothing is in flight any more; the loop then exits.
    virtual bool drained() const noexcept = 0;
    // The drain deadline passed with work still in flight: close everything now.
    virtual void on_drain_timeout() noexcept = 0;
    // The loop is about to block in io_uring_enter. False: work arrived from another thread
    // meanwhile, so the loop turns again without blocking. True: it blocks, and whoever hands it
    // work later calls Worker::wake().
    virtual bool prepare_to_sleep() noexcept { return true; }
    // The loop woke up after prepare_to_sleep() returned true.
    virtual void awake() noexcept {}
};

class Worker {
  public:
    // `cpu` < 0: not pinned; `node` < 0: memory placed by the kernel's default policy.
    Worker(unsigned index, int cpu, int node = -1) noexcept;
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // On the worker's own thread: pins it (when cpu >= 0), makes its node the thread's preferred
    // memory node (when node >= 0), sets up the ring and the doorbell.
    Result<void> init(const RingOptions& options);

    // Runs the loop until a stop was requested and the handler is drained, or `drain_timeout_ns`
    // after the stop request. Returns when the worker may be joined.
    void run(WorkerHandler& handler, uint64_t drain_timeout_ns) noexcept;

    // Any thread: asks the loop to begin a graceful stop. Idempotent.
    void request_stop() noexcept;
    // Any thread: interrupts the loop's wait (one eventfd write), so that it turns once.
    void wake() noexcept;

    Ring& ring() noexcept { return ring_; }
    TimerWheel& timers() noexcept { return timers_; }
    unsigned index() const noexcept { return index_; }
    int cpu() const noexcept { return cpu_; }
    // The NUMA node the worker's memory goes to (-1: not placed).
    int node() const noexcept { return node_; }
    // CLOCK_MONOTONIC at the start of the current loop turn.
    uint64_t now_ns() const noexcept { return now_ns_; }
    bool stopping() const noexcept { return stopping_; }

    static uint64_t monotonic_ns() noexcept;

  private:
    void arm_doorbell() noexcept;
    static void on_drain_deadline(void* self) noexcept;

    unsigned index_;
    int cpu_;
    int node_;
    Ring ring_;
    TimerWheel timers_;
    Timer drain_timer_;
    int doorbell_fd_ = -1;
    uint64_t doorbell_value_ = 0;
    uint64_t now_ns_ = 0;
    std::atomic<bool> stop_requested_{false};
    bool stopping_ = false;
    bool drain_expired_ = false;
};

}  // namespace nexure::engine
