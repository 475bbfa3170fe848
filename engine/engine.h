// Engine: starts one Worker thread per core, hands each to a WorkerHandler built by the module
// above (net/), and stops them gracefully on SIGINT/SIGTERM or on request.
//
// Threading: start(), run_until_signal() and wait() are called from one controlling thread (the
// main thread for a server). request_stop() may be called from any thread, including a worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "engine/cpu_topology.h"
#include "engine/ring.h"
#include "engine/worker.h"

namespace nexure::engine {

struct EngineConfig {
    unsigned threads = 0;                // 0: one per CPU the process may run on
    bool pin_threads = true;             // pin worker i to the i-th allowed CPU
    RingOptions ring;                    // per-worker ring size and mode
    uint64_t drain_timeout_ms = 10'000;  // how long a graceful stop waits for in-flight requests
};

// Builds the handler for one worker, on that worker's thread, after its ring exists. The
// handler lives until the worker's loop has returned.
using HandlerFactory = std::function<Result<std::unique_ptr<WorkerHandler>>(Worker&)>;

class Engine {
  public:
    explicit Engine(EngineConfig config);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Starts the workers and returns once every one of them is set up (or one failed, in which
    // case the others are stopped and joined and the first error is returned). Workers always
    // block SIGINT and SIGTERM; with `block_signals` the caller blocks them too, so that
    // run_until_signal() can take them.
    Result<void> start(HandlerFactory factory, bool block_signals);

    // Blocks until SIGINT/SIGTERM arrives (a second one while draining ends the drain at once)
    // or request_stop() is called, then waits for the workers to finish. Returns the signal
    // number that stopped the engine, or 0.
    int run_until_signal();

    void request_stop() noexcept;
    // Joins all workers (after request_stop()).
    void wait();

    unsigned worker_count() const noexcept { return static_cast<unsigned>(workers_.size()); }
    // The ring mode the first worker ended up with (all workers get the same).
    RingMode ring_mode() const noexcept { return ring_mode_; }

  private:
    struct Slot;
    void worker_main(Slot* slot, const HandlerFactory* factory);

    EngineConfig config_;
    std::vector<std::unique_ptr<Slot>> workers_;
    std::atomic<bool> stop_requested_{false};
    std::atomic<unsigned> exited_{0};  // workers whose loop has returned
    int stop_fd_ = -1;  // eventfd: wakes run_until_signal() on request_stop() or worker exit
    RingMode ring_mode_ = RingMode::kAuto;
};

}  // namespace nexure::engine
