// The state behind net::Loop handles: one per worker, shared by every Loop copy so that a handle
// kept on another thread stays safe to use after the worker is gone (post() then returns false).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "alloc/result.h"
#include "engine/mailbox.h"
#include "engine/timer_wheel.h"
#include "engine/worker.h"
#include "net/detail/ready_list.h"
#include "net/loop.h"
#include "net/unique_function.h"

namespace nexure::net {
class WorkerServer;
}
namespace nexure::net::client::detail {
class Outbound;
}
namespace nexure::net::detail {
class IoOps;
}

namespace nexure::net::detail {

struct LoopState {
    explicit LoopState(engine::Worker& w) noexcept : worker(&w), index(w.index()) {}

    // ---- posts: any thread produces (one at a time, under `mutex`), the worker consumes
    // Records are one Task* each, in the order posted; the worker drains them once per loop
    // turn and sleeps with the Mailbox protocol, so a post wakes it only when it is asleep.
    engine::Mailbox posts;
    std::mutex mutex;
    engine::Worker* worker;  // null once the worker's server is gone (under `mutex`)
    // Posts that found the ring full (or found others waiting here): run after the ring's.
    std::vector<Task> overflow;                // under `mutex`
    std::atomic<bool> has_overflow{false};

    // ---- the worker thread only
    const unsigned index;
    WorkerServer* server = nullptr;  // the worker's HTTP server (answers for Later and Stream)
    client::detail::Outbound* outbound = nullptr;  // its outbound connections (net/client/)
    IoOps* io = nullptr;  // the application's own io_uring operations (net/io.h)
    struct TimerSlot {
        engine::Timer timer;
        Task fn;
        uint32_t generation = 1;
        uint32_t index = 0;
        LoopState* owner = nullptr;
    };
    std::vector<std::unique_ptr<TimerSlot>> timers;
    std::vector<uint32_t> free_timers;
    std::vector<Task> running;  // overflow tasks being run (swapped out)
    // Coroutines (net/coro.h) to resume at the end of this loop turn, after the posted tasks.
    ReadyList ready;

    // Sets up the post ring on the worker's NUMA node.
    Result<void> init(int node) noexcept;
    // Runs the tasks posted since the last call (worker thread, once per loop turn).
    void run_posted() noexcept;
    // The worker is going away: later posts are refused, pending timers and tasks dropped.
    void close() noexcept;
};

// The loop of the worker thread that is running (set by its WorkerServer), or null.
const std::shared_ptr<LoopState>* current_loop() noexcept;
void set_current_loop(const std::shared_ptr<LoopState>* state) noexcept;

}  // namespace nexure::net::detail

namespace nexure::net {

template <typename Op>
void Loop::run_on_worker(Op op) const {
    if (on_worker()) {
        op(state_->server);
        return;
    }
    post([state = state_, op = std::move(op)]() mutable { op(state->server); });
}

}  // namespace nexure::net
