// TcpSocket: an outbound TCP connection on the calling worker's own io_uring — for a service that
// calls another service, Redis or a database protocol without a thread per call.
//
//   auto to = Endpoint::resolve("127.0.0.1:6379");             // at start-up (may block on DNS)
//   TcpSocket::connect(to.value(), {.connect_timeout_ms = 500},
//                      [](Result<TcpSocket> r) {
//       if (!r) { /* r.error().code: ECONNREFUSED, ETIMEDOUT, ... */ return; }
//       auto sock = std::make_shared<TcpSocket>(std::move(r.value()));
//       sock->on_data([](std::string_view bytes) { /* borrowed for the call */ });
//       sock->on_close([sock](int err) { /* 0: the peer closed; else -errno */ });
//       sock->write("PING\r\n");
//   });
//
// What it does on the ring: the connect is one IORING_OP_CONNECT with a deadline on the worker's
// timer wheel; reads are one multishot receive drawing from the worker's provided-buffer ring (the
// same buffers as the server's connections: the bytes are handed to on_data and the buffer goes
// back at once); writes are appended to the socket's output and sent once per loop turn (every
// write of a turn in one send, one send in flight, short sends resumed).
//
// Thread rules: a TcpSocket belongs to the worker that connected it. connect() and every method
// are called on that worker (in a handler, a timer, a posted task or a socket callback), and the
// callbacks run there. Like handlers, callbacks must not block; a callback that throws is a bug of
// the caller: the exception is logged and the socket closed.
//
// Lifetime: the handle owns the connection: destroying it (or close()) closes the socket; nothing
// runs after that, not even on_close. A connection the peer ends (FIN, reset) reports it once
// through on_close and then is closed; the handle stays valid (writes are dropped, open() is
// false). When the server stops, sockets still open are closed when the worker's drain ends.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "alloc/byte_buffer.h"
#include "alloc/result.h"
#include "net/unique_function.h"

namespace nexure::net::client {

namespace detail {
class Outbound;
}

// An address to connect to, resolved once.
struct Endpoint {
    sockaddr_storage address{};
    socklen_t length = 0;
    std::string text;  // "host:port", as given

    // Resolves "host:port" or "[v6]:port" (numeric addresses, or a name through getaddrinfo —
    // which blocks: call it at start-up, not in a handler). The error names what was wrong.
    static Result<Endpoint> resolve(std::string_view host_port);
};

struct TcpOptions {
    // The connect fails with ETIMEDOUT after this long (0: no limit but the kernel's).
    uint32_t connect_timeout_ms = 5'000;
    bool no_delay = true;  // TCP_NODELAY: requests leave at once, not after Nagle's wait
};

class TcpSocket {
  public:
    TcpSocket() noexcept = default;
    TcpSocket(TcpSocket&& other) noexcept = default;
    TcpSocket& operator=(TcpSocket&& other) noexcept {
        if (this != &other) {
            close();
            outbound_ = std::move(other.outbound_);
            slot_ = other.slot_;
            generation_ = other.generation_;
        }
        return *this;
    }
    TcpSocket(const TcpSocket&) = delete;
    TcpSocket& operator=(const TcpSocket&) = delete;
    ~TcpSocket() { close(); }

    // Worker thread only. Opens a connection to `to`; `done` runs on this worker with the socket
    // or the error (code: a positive errno — ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EMFILE, or
    // ESHUTDOWN when the server is stopping; message: what failed, with the address). Never runs
    // inside connect() itself.
    static void connect(const Endpoint& to, const TcpOptions& options,
                        UniqueFunction<void(Result<TcpSocket>)> done);

    // Worker thread only. Takes over `fd`, a connected TCP socket (e.g. one a protocol upgrade
    // handed over, net/upgrade.h), and starts receiving on the worker's ring: from then on the
    // handle owns it. An empty handle (and `fd` closed) off a worker thread. Adopted sockets are
    // the server's own: when the server stops they are not closed with the outbound ones, but
    // left to their protocol (which closes them) until the drain times out.
    static TcpSocket adopt(int fd);

    // Bytes as they arrive, borrowed for the call. Set it in the connect callback: bytes that
    // arrive while no callback is set are dropped.
    void on_data(UniqueFunction<void(std::string_view)> fn);
    // Runs once when the connection ends by the peer or an error: 0 for an orderly close (FIN),
    // else -errno (-ECONNRESET, ...). Not after close().
    void on_close(UniqueFunction<void(int)> fn);

    // Queues `bytes` (copied) for sending; they leave at the end of this loop turn. False when
    // the socket is closed (nothing queued).
    bool write(std::string_view bytes);
    // Room in the output for `n` bytes to write into directly (commit() what was written): no
    // copy of a request built in place. Null when the socket is closed.
    char* prepare(size_t n);
    void commit(size_t n);
    // Sends `parts` at once with a non-blocking sendmsg() when nothing is queued or being sent
    // (a large message then skips the copy into the output); returns the bytes the kernel took
    // (the caller queues the rest with write()), or 0 when something is queued, the socket's
    // buffer is full or the socket is closed.
    size_t write_now(std::span<const iovec> parts) noexcept;
    // The output itself, for code that frames into it directly (what is appended leaves at the
    // end of this loop turn, as write()'s bytes). Null when the socket is closed.
    alloc::ByteBuffer* output() noexcept;
    // Bytes queued or being sent (for backpressure: stop producing above your own bound).
    size_t buffered() const noexcept;
    // Runs after each send the kernel completed, with the bytes still queued or being sent (for
    // a producer waiting for room). Not after close().
    void on_sent(UniqueFunction<void(size_t)> fn);

    // Stops reading (the receive is cancelled: unread bytes stay in the kernel, TCP flow control
    // pushes back on the peer) until resume_reading(). Bytes already received may still arrive
    // once. For a consumer that cannot keep up (the JavaScript bridge's full ring).
    void pause_reading() noexcept;
    void resume_reading() noexcept;

    // Closes the connection now (pending output is dropped). Idempotent.
    void close() noexcept;
    // True while connected and not closed or ended by the peer.
    bool open() const noexcept;
    explicit operator bool() const noexcept { return outbound_ != nullptr; }

  private:
    friend class detail::Outbound;
    TcpSocket(std::shared_ptr<detail::Outbound> outbound, uint32_t slot,
              uint32_t generation) noexcept
        : outbound_(std::move(outbound)), slot_(slot), generation_(generation) {}

    std::shared_ptr<detail::Outbound> outbound_;
    uint32_t slot_ = 0;
    uint32_t generation_ = 0;
};

}  // namespace nexure::net::client
