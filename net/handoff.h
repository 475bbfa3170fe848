// Handoff: routes whose answer is produced on another thread and arrives later.
//
// The JavaScript bridge (napi/) is the main user: the worker parses and routes, hands the matched
// request to the JS thread, and frames the response the JS thread gives back. A C++ service can
// use the same mechanism for work it runs elsewhere (a thread pool, a backend call).
//
//   server.handoff_route(Method::kGet, "/users/:id", 7);   // 7: the handoff's own handler id
//   server.set_handoff([](engine::Worker& w) { return make_my_handoff(w); });
//
// One Handoff per worker, created and driven on that worker's thread. The worker keeps every
// connection's responses in request order: a handed-off request holds its place, and responses
// produced after it (by later handed-off requests, C++ routes or the engine's own 404s) wait
// until it is answered. A request not answered within ServerConfig::handler_timeout_ms gets 503;
// its late answer is dropped.
//
// An answer may also stream (Completions::open_stream/write/end: a body of unknown length, a
// download, Server-Sent Events); the handoff is then told when the connection's output drained
// (Handoff::writable) so that its producer may go on, and every handed-off request whose answer
// can no longer be given is reported once (Handoff::aborted).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "alloc/result.h"
#include "net/http/request.h"
#include "net/http/response.h"

namespace nexure::engine {
class Worker;
}

namespace nexure::net {

// Where a handed-off request's answer goes: its connection and its place in that connection's
// order. Opaque to the handoff, which gives it back unchanged with the answer.
struct Ticket {
    uint32_t slot = 0;
    uint32_t generation = 0;
    uint32_t seq = 0;
    uint32_t flags = 0;
};
static_assert(sizeof(Ticket) == 16);

// Flow control of a request body streamed to the handoff (Handoff::body_data), given back
// through Completions::body_control().
enum class BodyControl : uint8_t {
    kCredit = 0,   // `bytes` of the body were consumed: that much more may be sent
    kStart = 1,    // the other side reads the body now: a held "100 Continue" goes out
    kDiscard = 2,  // the other side reads no more: the rest of the body is read and dropped
};

// The bytes of a streamed body sent to the handoff and not yet credited back, at which the
// connection stops reading (TCP then pushes back on the client).
inline constexpr uint32_t kBodyWindow = 1024 * 1024;

// Implemented by the worker: how a handoff delivers answers (from Handoff::on_turn_end only).
class Completions {
  public:
    // The response to fill for the next complete(), already reset.
    virtual http::Response& response() noexcept = 0;
    // Sends response() as the answer to `ticket`, in its connection's order. False when the
    // answer is dropped: the connection has closed, the request timed out (503) or the ticket is
    // not one this worker issued. A response whose error() is set is answered 500 (and logged).
    virtual bool complete(const Ticket& ticket) noexcept = 0;
    // Flow control for the streamed body of the request `ticket` names (see BodyControl); a
    // stale ticket, or a body that has ended, is ignored.
    virtual void body_control(const Ticket& ticket, BodyControl op, uint32_t bytes) noexcept {
        (void)ticket, (void)op, (void)bytes;
    }

    // Streamed answers. open_stream() sends response() as the head of a streamed answer to
    // `ticket` (in its connection's order): with `length` == kUnknownLength the body is chunked
    // (close-delimited for an HTTP/1.0 client), else it has that Content-Length; HEAD, 204 and
    // 304 get the head only (writes are accepted and discarded). False when the answer is
    // dropped, as for complete(). A head whose error() is set is answered 500 instead (false).
    // With `length` == kPreframed the writes are the response as it goes on the wire, its head
    // and body framing included (the head in response() is not sent; its status is what the
    // after-response hooks see): the engine adds nothing, and ends the exchange at end(). The
    // producer decides keep-alive by the response's close() as usual.
    static constexpr uint64_t kUnknownLength = UINT64_MAX;
    static constexpr uint64_t kPreframed = UINT64_MAX - 1;
    virtual bool open_stream(const Ticket& ticket, uint64_t length) noexcept = 0;
    // Appends body bytes (copied). kFull: taken, but the connection's output is over its
    // high-water mark (ServerConfig::max_pending_output): Handoff::writable(ticket) follows once
    // it drained. kGone: the stream is no more (closed, aborted, ended); nothing was taken.
    enum class Write : uint8_t { kAccepted, kFull, kGone };
    virtual Write write(const Ticket& ticket, std::string_view bytes) noexcept = 0;
    // Ends the body. With `failed`, the stream is cut instead: the connection closes after the
    // bytes written so far, without the body's proper end (no last chunk), so that the client
    // sees the body was cut. No-op for a stream that is gone.
    virtual void end(const Ticket& ticket, bool failed) noexcept = 0;

  protected:
    ~Completions() = default;
};

class Handoff {
  public:
    virtual ~Handoff() = default;

    // A request for a route registered with Server::handoff_route(..., id). The request's views
    // are valid only during the call: copy what the other side needs. This cannot refuse: when
    // there is no room, the handoff keeps the request in a bounded overflow and reports
    // saturated() until it has room again.
    virtual void submit(const http::Request& request, uint32_t id, const Ticket& ticket) noexcept = 0;

    // An answer the engine would have given itself to a request whose path has routes (405 for
    // a method the path does not take, 204 + Allow for an OPTIONS without a route, 413 for a
    // body over the limit: `status` says which), handed over instead because the server asked
    // for it (Server::handoff_engine_answers(id)): the other side answers it like any handed-off
    // request, e.g. through the application's error handler and hooks. The request carries no
    // body (a 413's body is never read; the connection closes after the answer). The default
    // treats it as an ordinary request for `id`.
    virtual void submit_engine_answer(const http::Request& request, uint32_t id, uint16_t status,
                                      const Ticket& ticket) noexcept {
        (void)status;
        submit(request, id, ticket);
    }

    // A request of a handoff route that streams its body (Server::handoff_route with
    // RouteOptions::stream_body), at its head: like submit(), and then its body follows, in
    // order — body_data() for each piece (borrowed for the call), then body_end() or
    // body_error() once. At most kBodyWindow bytes are sent beyond what came back as
    // BodyControl::kCredit; an answer given before the end (complete()) drops the rest of the
    // body. False: this handoff does not take streamed bodies (the request is answered 500).
    virtual bool submit_streaming(const http::Request& request, uint32_t id,
                                  const Ticket& ticket) noexcept {
        (void)request, (void)id, (void)ticket;
        return false;
    }
    virtual void body_data(const Ticket& ticket, std::string_view bytes) noexcept {
        (void)ticket, (void)bytes;
    }
    virtual void body_end(const Ticket& ticket) noexcept { (void)ticket; }
    // The body cannot complete: `status` is what the engine answers in the request's place (400
    // the client left or broke the framing, 408 too slow, 413 over the route's limit).
    virtual void body_error(const Ticket& ticket, int status, std::string_view reason) noexcept {
        (void)ticket, (void)status, (void)reason;
    }

    // True while the handoff should be given no more requests: the worker stops reading from
    // connections that hand requests off until it turns false (backpressure into TCP).
    virtual bool saturated() const noexcept = 0;

    // Once per loop turn, after the turn's requests were submitted: make them visible to the
    // other side (and wake it), and deliver the answers that came back through `done`.
    virtual void on_turn_end(Completions& done) noexcept = 0;

    // The worker is about to block waiting for I/O or a timer. True: it may sleep, and the other
    // side will wake it (engine::Worker::wake()) when it has answers or room for it. False:
    // there is something to do already; the worker turns again without blocking.
    virtual bool prepare_to_sleep() noexcept = 0;
    // The worker woke up after prepare_to_sleep() returned true.
    virtual void awake() noexcept = 0;

    // True once the other side will answer nothing more (it is being torn down). While the
    // server stops, the worker then answers every waiting request 503 at once, instead of
    // keeping its connections until the drain timeout.
    virtual bool abandoned() const noexcept { return false; }

    // The answer to handed-off request `ticket` can no longer be given, or its client left: the
    // connection closed (reset, send error, timeout, the drain), the handler timeout answered it
    // 503, an earlier answer closed the connection, or the client shut its side (FIN: it may
    // still read an answer, which the worker still takes, but it most likely left — as Node's
    // http server treats it). Called once per request, on the worker, possibly from inside a
    // Completions call made by on_turn_end() or from submit()'s caller; it must only record the
    // fact (no Completions call from here). Not called for requests already answered in full.
    virtual void aborted(const Ticket& ticket) noexcept { (void)ticket; }
    // The streamed answer `ticket` (open_stream) found the output full (Write::kFull) and the
    // output has now drained: its producer may write again. Same rules as aborted().
    virtual void writable(const Ticket& ticket) noexcept { (void)ticket; }
};

// Builds the handoff of one worker, on that worker's thread (before it accepts connections). An
// error stops the server from starting, with its message.
using HandoffFactory = std::function<Result<std::unique_ptr<Handoff>>(engine::Worker&)>;

}  // namespace nexure::net
