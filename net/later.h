// Later: the answer to one request, given after its handler returned — from a timer on the
// worker, an outbound call, or another thread (a thread pool, a backend's callback).
//
//   server.get("/offload/:ms", [&pool](const Request& req, Response& res) {
//       Later later = res.defer();                    // the request keeps its place in order
//       pool.run([later = std::move(later)]() mutable {
//           std::string text = slow_work();           // on the pool's thread
//           later.respond([text](Response& r) { r.type("text/plain").body(text); });
//       });
//   });
//
// A Later is movable, not copyable; one thread uses it at a time. respond() may be called from
// any thread: `fill` then runs on the request's worker, with a fresh Response, and what it writes
// is sent in the request's place in its connection's order (answers given out of order wait for
// the ones before them). The answer is dropped — `fill` does not run — when it can no longer be
// given: the client left, the handler timeout (ServerConfig::handler_timeout_ms) answered 503, or
// the server's drain ended. on_abort() is how the code that would answer learns of that: its
// callback runs once, on the worker, in those cases and never after an answer was given.
//
// A Later destroyed without an answer answers 500 (a handler that forgot to answer cannot hang a
// connection until the timeout); the cause is logged.
#pragma once

#include <functional>
#include <optional>

#include "net/handoff.h"
#include "net/loop.h"
#include "net/unique_function.h"

namespace nexure::net {

namespace http {
class Response;
}
class Stream;
namespace http1 {
class Connection;
}
namespace detail {
class CoroutineHandlers;
}

class Later {
  public:
    Later() noexcept = default;
    Later(Later&& other) noexcept;
    Later& operator=(Later&& other) noexcept;
    Later(const Later&) = delete;
    Later& operator=(const Later&) = delete;
    ~Later();

    // Any thread: answers the request with what `fill` writes into a fresh Response (on the
    // worker). A handler error in `fill` (a throw, an invalid header) answers 500. After the
    // first call the handle is spent.
    void respond(UniqueFunction<void(http::Response&)> fill);

    // The request's worker thread only: answers with a body streamed in pieces (net/stream.h),
    // `length` bytes announced by Content-Length — the head (`head`'s status, type and fields) is
    // written now, in the request's place. For an answer that needed I/O before its head was known
    // (net/files/: the file's size). An empty Stream when the answer can no longer be given; a
    // `head` that is unusable (its error() set) answers 500. After the call the handle is spent.
    Stream stream(const http::Response& head, uint64_t length) noexcept;

    // The worker thread of a handed-off request (net/handoff.h), e.g. inside
    // Handoff::on_turn_end(): that request's place as a Later, for an answer the handoff gives
    // after more work on the worker (the JavaScript bridge's file answers, net/files/).
    static Later adopt(const Ticket& ticket) noexcept;

    // The request's worker thread: `fn` runs once if the answer can no longer be given (see
    // above); at once when that has already happened. Replaces an earlier callback.
    void on_abort(Task fn);

    // False for an empty handle, or once respond() was called.
    bool pending() const noexcept { return pending_; }
    explicit operator bool() const noexcept { return pending_; }
    // The loop of the request's worker (for timers there: loop().after(...)). Not for an empty
    // handle.
    const Loop& loop() const noexcept { return *loop_; }

  private:
    friend class http1::Connection;
    friend class detail::CoroutineHandlers;  // a coroutine handler's place (net/coro_handler.h)
    Later(Loop loop, const Ticket& ticket) noexcept
        : loop_(std::move(loop)), ticket_(ticket), pending_(true) {}

    std::optional<Loop> loop_;
    Ticket ticket_{};
    bool pending_ = false;
};

}  // namespace nexure::net
