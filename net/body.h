// BodyReader: a request body taken as it arrives, for routes registered with
// RouteOptions::stream_body — an upload larger than memory, streamed to a file or another
// service.
//
//   server.route(Method::kPost, "/upload", [](const Request& req, Response& res) {
//       auto file = std::make_shared<File>(...);
//       BodyReader body = req.body_stream();
//       body.on_data([file](std::string_view bytes) { file->write(bytes); });
//       body.on_end([file, later = res.defer()]() mutable { later.respond(...); });
//   }, RouteOptions{.stream_body = true, .max_body_size = 0});
//
// The handler runs as soon as the request's head is complete, and registers its callbacks
// there; they run on the worker, in order: on_data for each piece as it is read (the bytes are
// borrowed for the call), then on_end once the whole body (and any trailer section) is in.
// Flow control: pause() stops reading from the connection after the bytes already read (at most
// one receive buffer more arrives), resume() goes on; meanwhile the body's minimum-rate deadline
// does not run. on_abort runs once if the connection ends before on_end. A route's
// max_body_size (0: none) is enforced while the body streams: 413 by Content-Length before the
// body, or when a chunk would pass it. A body nobody reads (no body_stream(), or no on_data) is
// read and dropped.
//
// 100-continue: the client is told to send the body only when the handler took it
// (body_stream()); a handler that answers at once without it gets its answer sent instead, and
// the connection then closes.
//
// Threads: the callbacks run on the request's worker; pause() and resume() may be called from
// any thread (posted there); on_data/on_end/on_abort are set in the handler.
#pragma once

#include <optional>
#include <string_view>

#include "net/handoff.h"
#include "net/loop.h"
#include "net/unique_function.h"

namespace nexure::net {

namespace http1 {
class Connection;
}

class BodyReader {
  public:
    BodyReader() noexcept = default;
    BodyReader(BodyReader&&) noexcept = default;
    BodyReader& operator=(BodyReader&&) noexcept = default;
    BodyReader(const BodyReader&) = delete;
    BodyReader& operator=(const BodyReader&) = delete;

    void on_data(UniqueFunction<void(std::string_view)> fn);
    void on_end(Task fn);
    void on_abort(Task fn);
    void pause();
    void resume();

    // False for an empty reader (not a streaming route, or taken already).
    explicit operator bool() const noexcept { return loop_.has_value(); }
    const Loop& loop() const noexcept { return *loop_; }

  private:
    friend class http1::Connection;
    BodyReader(Loop loop, const Ticket& ticket) noexcept
        : loop_(std::move(loop)), ticket_(ticket) {}
    // Runs `op` with the request's connection on its worker (posted when called elsewhere).
    template <typename Op>
    void on_worker(Op op);

    std::optional<Loop> loop_;
    Ticket ticket_{};
};

}  // namespace nexure::net
