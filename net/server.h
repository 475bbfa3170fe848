// Server: the C++ API of NexureJS.
//
//   nexure::net::Server server({.port = 8080});
//   server.get("/users/:id", [](const Request& req, Response& res) {
//       res.type("application/json").body(...req.param("id")...);
//   });
//   server.get("/later", [](Request& req, Response& res) -> Async<void> {   // a coroutine
//       co_await sleep(10);
//       res.type("text/plain").body("done");
//   });
//   return server.run();  // until SIGINT/SIGTERM, then drains and returns 0
//
// Routes are registered before start(); handlers then run on the worker threads, several at once
// (one per worker), so they must be thread-safe with respect to any state they share. A plain
// handler runs to completion on its worker: a slow handler delays the other connections of that
// worker. Request views are valid only during the handler call (see net/http/request.h). A
// coroutine handler (net/coro.h) may suspend instead: its request and response stay valid until
// it finishes (net/README.md, "Coroutine handlers").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "alloc/result.h"
#include "engine/ring_mode.h"
#include "net/body.h"
#include "net/handoff.h"
#include "net/hooks.h"
#include "net/http/compression.h"
#include "net/http/limits.h"
#include "net/http/method.h"
#include "net/http/request.h"
#include "net/http/response.h"
#include "net/coro.h"
#include "net/coro_handler.h"
#include "net/later.h"
#include "net/loop.h"
#include "net/router/router.h"
#include "net/stream.h"
#include "net/upgrade.h"

namespace nexure::net {

struct WsBehaviour;  // net/ws/websocket.h

using http::Method;
using http::Request;
using http::Response;

// A plain handler: answers before it returns (or takes its answer away with res.defer() or
// res.stream()). Made from any callable taking (const Request&, Response&); a coroutine (one
// that returns Async) is refused with a compile-time message — its result would be dropped —
// and is registered with Server::route/get/post/... directly instead.
class Handler : public std::function<void(const Request&, Response&)> {
    using Base = std::function<void(const Request&, Response&)>;

  public:
    Handler() noexcept = default;
    Handler(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
    // clang-format off
    template <typename F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, Handler> &&
                 std::is_invocable_v<std::decay_t<F>&, const Request&, Response&>)
    Handler(F&& f) : Base(std::forward<F>(f)) {  // NOLINT(google-explicit-constructor)
        // clang-format on
        static_assert(!detail::returns_async<std::decay_t<F>>(),
                      "a coroutine handler (returning Async<void>) is not a plain Handler, which "
                      "would drop its result: give it to Server::route/get/post/... directly");
    }
};

// A response the engine serves by itself, the same for every request of its route (health
// checks, static answers): no handler runs. The engine adds Date, Server, Content-Length and
// Connection as for any response; HEAD gets the head only.
struct FixedResponse {
    int status = 200;
    std::string content_type;  // empty: no Content-Type
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

struct ServerConfig {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;  // 0: the kernel picks a free port; see Server::port()
    unsigned threads = 0;  // engine workers; 0: one per CPU the process may use
    bool pin_threads = true;
    http::Limits limits;
    // Routing: strict trailing slash and case-sensitive by default (net/router/README.md).
    router::RouterOptions routing;
    // Connections one worker holds at once. At the cap the worker stops accepting (new
    // connections wait in the listen backlog) until one of its connections closes.
    uint32_t max_connections_per_worker = 16384;
    // Timeouts (0 turns one off). A connection with no bytes received for this long, and no
    // output waiting for the peer, is closed (408 if mid-request). (nginx keepalive_timeout 75 s)
    uint32_t idle_timeout_ms = 60'000;
    // An absolute deadline for a request's head, from its first byte: a client that sends its
    // header fields slowly (slowloris) gets 408 and is closed after this long, however steadily
    // it trickles. (Apache RequestReadTimeout header=20)
    uint32_t request_head_timeout_ms = 20'000;
    // A request body must arrive within body_timeout_ms plus one second for every
    // min_body_rate bytes received (so a large upload at a reasonable rate always finishes, a
    // trickle does not); 408 and close otherwise. (Apache RequestReadTimeout body=20,MinRate=500)
    uint32_t body_timeout_ms = 20'000;
    uint32_t min_body_rate = 500;  // bytes per second; 0: no minimum rate
    // A peer that takes none of our output for this long is closed (it stopped reading).
    // (nginx send_timeout 60 s)
    uint32_t send_timeout_ms = 60'000;
    // After the last response of a closing connection, how long to wait for the peer's FIN
    // before closing anyway (so an unread request does not turn the close into a reset).
    uint32_t linger_timeout_ms = 2'000;
    // A handed-off (net/handoff.h) or deferred (net/later.h) request not answered within this
    // long is answered 503 and its late answer dropped; the connection stays open. For a route
    // that streams its body the time starts when the body is in. 0: no limit.
    uint32_t handler_timeout_ms = 30'000;
    // How long SIGINT/SIGTERM waits for in-flight requests before closing what is left.
    uint32_t drain_timeout_ms = 10'000;
    // Unsent response bytes per connection above which the server stops reading from it until
    // the peer has read them (backpressure: a client that pipelines without reading cannot grow
    // the server's memory without bound).
    size_t max_pending_output = 1024 * 1024;
    // Responses answered on a connection but not yet all sent, above which the server stops
    // reading from it until they are (the pipelining queue per connection; one receive buffer
    // of requests beyond it may be answered before reading stops). At most 65535.
    uint32_t max_unsent_responses = 1024;
    // Provided receive buffers per worker (a power of two; 0: sized from the connection budget,
    // see recv_buffers()) and their size in bytes. The kernel takes them in ring order, so every
    // buffer of the pool is touched in turn: a pool on one transparent huge page (512 x 4 KiB =
    // 2 MiB) costs measurably less per request than a large one on 4 KiB pages (see
    // alloc/README.md). Requests larger than one buffer are stitched.
    unsigned recv_buffer_count = 0;
    unsigned recv_buffer_size = 4 * 1024;
    // WebSocket connections (Server::ws) receive from a ring of their own, made only for a server
    // with WebSocket routes: `count` buffers (a power of two) of `size` bytes per worker (4 MiB by
    // default). A frame that fits one buffer is read in place; a larger one is copied once into
    // its message.
    unsigned ws_recv_buffer_count = 128;
    unsigned ws_recv_buffer_size = 32 * 1024;
    // Send slabs per worker (0: sized from the connection budget, see send_buffers()) and their
    // size (a multiple of 64, at least 1 KiB). Responses are written into a slab; output that
    // outgrows its slab, or finds none free, moves to the heap (alloc/README.md).
    unsigned send_buffer_count = 0;
    unsigned send_buffer_size = 16 * 1024;
    // Register the send slabs and use fixed-buffer sends where the kernel supports them.
    bool fixed_sends = true;
    int listen_backlog = 4096;
    // Response compression on the workers (net/http/compression.h): off unless enabled here or
    // on a route (RouteOptions::compression).
    http::CompressionConfig compression{};
    engine::RingMode ring_mode = engine::RingMode::kAuto;

    // The receive buffer count in effect: recv_buffer_count, or when 0 one buffer per 32
    // connections of the budget, as a power of two from 64 to 4096 (512 for the default 16384).
    // A buffer is held only from a receive's completion until its bytes are parsed, in the same
    // loop turn, so this bounds receives completing per turn, not connections; when more
    // complete at once, the rest wait one turn (ENOBUFS, re-armed), they are not lost.
    unsigned recv_buffers() const noexcept;
    // The send slab count in effect: send_buffer_count, or when 0 one slab per 64 connections of
    // the budget, as a power of two from 32 to 4096 (256 x 16 KiB = 4 MiB for the default). A
    // connection holds a slab only while it has output queued or in flight.
    unsigned send_buffers() const noexcept;
};

// How a route takes its request body.
struct RouteOptions {
    // Give the handler the body as it arrives (Request::body_stream(), net/body.h) instead of
    // collecting it first: the handler runs as soon as the head is complete.
    bool stream_body = false;
    // With stream_body: the most body bytes (413 beyond), 0 for no limit. Collected bodies are
    // bounded by ServerConfig::limits.max_body_size.
    uint64_t max_body_size = 0;
    // Whether and how this route's answers are compressed (net/http/compression.h); by default
    // as ServerConfig::compression says.
    http::RouteCompression compression{};
};

class Server {
  public:
    explicit Server(ServerConfig config = {});
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Registers `handler` for `method` and `path` ("/users/:id"): a plain handler, callable as
    // (const Request&, Response&), or a coroutine handler, callable as (Request&, Response&) (or
    // const Request&) and returning Async<void> (net/coro.h). Anything else does not compile,
    // with a message saying why. Throws std::invalid_argument for an invalid or duplicate route
    // or an empty handler, and std::logic_error once the server has started.
    template <typename F>
    Server& route(Method method, std::string_view path, F&& handler, RouteOptions options = {}) {
        using Fn = std::decay_t<F>;
        if constexpr (detail::returns_async<Fn>()) {
            detail::check_coroutine_handler<Fn>();
            return add_route(method, path,
                             Handler(detail::CoroutineRoute<Fn>{std::forward<F>(handler)}),
                             options);
        } else {
            static_assert(std::is_invocable_v<Fn&, const Request&, Response&>,
                          "a route handler is callable as (const Request&, Response&), or is a "
                          "coroutine callable as (Request&, Response&) returning Async<void>");
            return add_route(method, path, Handler(std::forward<F>(handler)), options);
        }
    }
    template <typename F>
    Server& get(std::string_view path, F&& h) {
        return route(Method::kGet, path, std::forward<F>(h));
    }
    template <typename F>
    Server& head(std::string_view path, F&& h) {
        return route(Method::kHead, path, std::forward<F>(h));
    }
    template <typename F>
    Server& post(std::string_view path, F&& h) {
        return route(Method::kPost, path, std::forward<F>(h));
    }
    template <typename F>
    Server& put(std::string_view path, F&& h) {
        return route(Method::kPut, path, std::forward<F>(h));
    }
    template <typename F>
    Server& patch(std::string_view path, F&& h) {
        return route(Method::kPatch, path, std::forward<F>(h));
    }
    template <typename F>
    Server& del(std::string_view path, F&& h) {
        return route(Method::kDelete, path, std::forward<F>(h));
    }
    template <typename F>
    Server& options(std::string_view path, F&& h) {
        return route(Method::kOptions, path, std::forward<F>(h));
    }

    // Serves `response` for `method` and `path` from the engine itself. Throws
    // std::invalid_argument for an invalid route or response (the message names the field).
    Server& fixed(Method method, std::string_view path, const FixedResponse& response);

    // Registers a route answered through the handoff (net/handoff.h): its requests go to
    // Handoff::submit() with `id`. Needs set_handoff() before start(). With
    // `options.stream_body` the request goes to Handoff::submit_streaming() at its head and its
    // body follows piece by piece (bounded by `options.max_body_size`, 0: none; 413 beyond).
    // `options.compression`: how its answers are compressed (the default: as the server says).
    Server& handoff_route(Method method, std::string_view path, uint32_t id,
                          RouteOptions options = {});
    // The factory that builds each worker's handoff.
    Server& set_handoff(HandoffFactory factory);
    // The engine's own answers to requests whose path has routes — 405 (the path exists under
    // other methods), 204 + Allow (OPTIONS without an OPTIONS route), 413 (a Content-Length over
    // the body limit, found at the head) — go to Handoff::submit_engine_answer() with `id`
    // instead of being framed by the engine (the JavaScript bridge runs the application's error
    // handler and hooks on them). Needs set_handoff(). Answers given before a request is routed
    // (400, 414, 431, ...) stay the engine's. Every request with a body is then routed at its
    // head (an extra route lookup for those).
    Server& handoff_engine_answers(uint32_t id);

    // Hooks (net/hooks.h), registered before start() like routes (std::logic_error after).
    // A before-route hook: runs for every request that reaches routing, in registration order,
    // before any route of any kind (C++, fixed, handed off); one that answers ends the chain and
    // no route runs. std::invalid_argument for an empty hook.
    Server& on_request(RequestHook hook);
    // An after-response hook: told of every answer when it is framed, the engine's own included
    // (status, cause, bytes, time). Several run in registration order.
    Server& on_response(ResponseHook hook);
    // The bodies of the engine's own answers (404, 405, 408, 413, 414, 431, 400, 417, 500, 501,
    // 503, 505): `fill` may set their Content-Type, header fields and body; the status and the
    // connection's handling stay the engine's. A second call replaces the first.
    Server& error_response(ErrorResponder fill);
    // A fixed form for the engine's answers of one status (form.status, 400..599): its
    // content type, header fields and body replace the default text (validated now, like
    // fixed(); std::invalid_argument names the bad field). An error_response callback, if any,
    // starts from it. A second form for a status replaces the first.
    Server& error_response(const FixedResponse& form);

    // A WebSocket route (include "net/ws/websocket.h"): GET `path` with a valid handshake is
    // upgraded and runs with `behaviour`'s callbacks on the worker that accepted it; a GET
    // without "Upgrade: websocket" gets 426, a malformed handshake 400. Throws like route().
    Server& ws(std::string_view path, WsBehaviour behaviour);
    // Sends `message` to every subscriber of `topic` on every worker (WebSocket::subscribe). Any
    // thread; false when the server is not running or has no WebSocket routes.
    bool publish(std::string_view topic, std::string_view message, bool binary = false,
                 bool compress = true);
    // Bytes published (this publish(), WebSocket::publish()) that some worker has not delivered
    // to its subscribers yet — each message's topic and payload, once. Any thread. A loop that
    // publishes faster than the workers deliver sees it grow: check it to bound what waits.
    uint64_t publish_backlog() const noexcept;

    // Binds the listeners and starts the workers; returns once they accept connections. The
    // error message names the cause (port in use, io_uring unavailable, ...) and the fix.
    Result<void> start();

    // Blocks SIGINT/SIGTERM in the calling thread, start()s, calls `on_ready` (if given) once the
    // server accepts connections, then serves until SIGINT or SIGTERM and drains (a second
    // signal stops at once). Prints start-up errors to stderr. Returns a process exit code: 0
    // after a clean stop, 1 if the server could not start. Call it instead of start(), not after.
    int run(const std::function<void(const Server&)>& on_ready = {});

    // Any thread: begin a graceful stop (stop accepting, finish in-flight requests).
    void stop() noexcept;
    // Waits until all workers have finished after stop().
    void wait();

    // The port actually bound (after start()).
    uint16_t port() const noexcept;
    const std::string& address() const noexcept;
    unsigned threads() const noexcept;
    engine::RingMode ring_mode() const noexcept;
    const ServerConfig& config() const noexcept;

  private:
    Server& add_route(Method method, std::string_view path, Handler handler, RouteOptions options);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nexure::net
