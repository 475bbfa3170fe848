// Loop: what a handler may ask of the worker it runs on — timers on the worker's own clock, and
// work posted to the worker from any thread.
//
//   server.get("/delay/:ms", [](const Request& req, Response& res) {
//       Later later = res.defer();
//       Loop::current().after(250, [later = std::move(later)]() mutable {
//           later.respond([](Response& r) { r.type("text/plain").body("late\n"); });
//       });
//   });
//
// A Loop is a small copyable handle (it shares its worker's state): copy it anywhere, keep it as
// long as you like. Thread rules:
// - after() and cancel() are called on the loop's own worker thread (inside a handler, a timer
//   callback or a posted task); the callback runs there too.
// - post() may be called from any thread; the task runs on the worker, in its next loop turn, in
//   the order posted. After the server has stopped, post() returns false and drops the task.
// Timers and tasks never block the worker: a callback runs to completion like a handler, and a
// callback that throws is logged and the worker goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include "net/unique_function.h"

namespace nexure::net {

class WorkerServer;

namespace detail {
struct LoopState;
}

// A timer set with Loop::after(), for cancel(). Zero is never a valid id.
using TimerId = uint64_t;

class Loop {
  public:
    // The loop of the calling worker thread. Fatal (NEXURE_CHECK) on any other thread: call it in
    // a handler, a timer callback or a posted task, and keep a copy for other threads.
    static Loop current();

    // Worker thread only: runs `fn` on this worker in `ms` milliseconds (at the first turn after
    // the deadline; the wheel's resolution is 1 ms). Timers still pending when the server stops
    // are dropped without running.
    TimerId after(uint64_t ms, Task fn);
    // Worker thread only: a pending timer does not run. False when it already ran, was cancelled
    // or is not this loop's.
    bool cancel(TimerId id) noexcept;

    // Any thread: runs `fn` on this worker at its next loop turn. False when the server has
    // stopped (the task is dropped without running).
    bool post(Task fn) const;

    // The worker's index (0 .. threads-1).
    unsigned index() const noexcept;
    // True on this loop's own worker thread.
    bool on_worker() const noexcept;

  private:
    // Runs op(server) on the loop's worker — at once when called there, else posted — with its
    // WorkerServer, or null when that is gone. (A post refused after the stop does not run op.)
    // Defined in net/detail/loop_state.h, for Later, Stream and BodyReader.
    template <typename Op>
    void run_on_worker(Op op) const;

    friend class WorkerServer;
    friend class Later;
    friend class Stream;
    friend class BodyReader;
    explicit Loop(std::shared_ptr<detail::LoopState> state) noexcept : state_(std::move(state)) {}
    std::shared_ptr<detail::LoopState> state_;
};

}  // namespace nexure::net
