// Stream: a response whose body is written in pieces after the head — a download larger than
// memory, a generated report, Server-Sent Events.
//
//   server.get("/sse/:count", [](const Request& req, Response& res) {
//       res.type("text/event-stream").header("Cache-Control", "no-cache");
//       Stream s = res.stream();                     // head now, chunked body
//       ... s.write("data: tick\n\n") from a timer; s.end() after the last event
//   });
//
// write() queues bytes and returns whether the connection is still under its high-water mark
// (ServerConfig::max_pending_output): on false, stop producing and wait for on_writable(), which
// runs once the queued output has gone to the kernel. Bytes written in one loop turn leave in
// that turn (no corking delay), so events arrive one by one. end() finishes the body (the last
// chunk, with optional trailer fields "Name: value\r\n"); with a Content-Length, fewer bytes than
// announced end the connection instead (the client must see the body was cut), and bytes beyond
// it are dropped and logged. HEAD requests and 204/304 get the head only: writes are accepted and
// discarded.
//
// Thread rules: like a handler, a Stream belongs to the request's worker. Called from another
// thread, write() and end() are posted to the worker (write() then copies the bytes and returns
// true: backpressure is only reported on the worker); on_writable() and on_abort() must be
// called on the worker.
//
// on_abort(): runs once, on the worker, when the client goes away or the send timeout ends the
// connection before end(); later writes are ignored. A Stream destroyed without end() is ended.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "net/handoff.h"
#include "net/loop.h"
#include "net/unique_function.h"

namespace nexure::net {

namespace http1 {
class Connection;
}
namespace detail {
class CoroutineHandlers;
}

class Stream {
  public:
    Stream() noexcept = default;
    Stream(Stream&& other) noexcept;
    Stream& operator=(Stream&& other) noexcept;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream();

    bool write(std::string_view bytes);
    void end(std::string_view trailer_lines = {});
    void on_writable(Task fn);
    void on_abort(Task fn);

    // Worker thread only. Sends `length` bytes of the open file `file_fd` from `offset` as the
    // body's next bytes, from the page cache to the socket without a copy through user memory
    // (IORING_OP_SPLICE file → pipe → socket, after the output queued before it has gone), then
    // calls `done(0)` — or `done(-errno)` when the file could not be read or ended early (end()
    // then closes the connection: the body was cut). `file_fd` must stay open until `done`; a
    // connection that ends first drops `done` unrun (on_abort tells). False — nothing started,
    // `done` unused — when the stream cannot take bytes this way: not a Content-Length stream,
    // HEAD, not first in its connection's order, more than the rest of the length; write them.
    bool splice(int file_fd, uint64_t offset, uint64_t length, UniqueFunction<void(int)>& done);

    // False for an empty handle, or once end() was called.
    bool open() const noexcept { return open_; }
    explicit operator bool() const noexcept { return open_; }
    const Loop& loop() const noexcept { return *loop_; }

  private:
    friend class http1::Connection;
    friend class detail::CoroutineHandlers;  // a coroutine handler's place (net/coro_handler.h)
    Stream(Loop loop, const Ticket& ticket) noexcept
        : loop_(std::move(loop)), ticket_(ticket), open_(true) {}

    std::optional<Loop> loop_;
    Ticket ticket_{};
    bool open_ = false;
};

}  // namespace nexure::net
