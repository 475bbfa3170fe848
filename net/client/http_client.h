// HttpClient: HTTP/1.1 requests to one upstream, from a handler, on the worker's own ring, over a
// keep-alive connection pool that each worker keeps for itself (no locks, no thread per call).
//
//   static client::HttpClient users(client::Endpoint::resolve("10.0.0.7:8080").value(),
//                                   {.max_connections = 64, .request_timeout_ms = 2'000});
//   server.get("/users/:id", [](const Request& req, Response& res) {
//       Later later = res.defer();
//       users.request({.method = "GET", .target = "/v1/users/42"},
//                     [later = std::move(later)](Result<ClientResponse> r) mutable {
//           later.respond([r = std::move(r)](Response& out) {
//               if (!r) { out.status(r.error().code == ETIMEDOUT ? 504 : 502); return; }
//               out.status(r.value().status()).type("application/json").body(r.value().body());
//           });
//       });
//   });
//
// One HttpClient is shared by every worker (build it before the server starts, keep it until the
// server has stopped); each worker that uses it gets its own pool of at most max_connections
// connections, which lives as long as the worker — so make one client per upstream, not one per
// request. request() is called on a worker thread and `done` runs on that worker, exactly once,
// never inside request() itself.
//
// The pool: an idle connection is reused (the most recently used first); with none idle and fewer
// than max_connections open, a new one is opened; otherwise the request waits (at most
// max_waiting of them per worker, EBUSY beyond) — or, with max_pipeline > 1, a GET or HEAD is
// pipelined behind others on a connection that carries only GETs and HEADs. With max_pipeline > 1
// the GETs and HEADs of one loop turn also go on one connection first (up to max_pipeline): one
// send carries them and their answers come back together. A connection the
// upstream closes or says "Connection: close" on leaves the pool; an idle one is closed after
// idle_timeout_ms.
//
// Errors (Result's code, a positive errno; the message says what happened, with the address):
//   ECONNREFUSED, ENETUNREACH, ... the connect failed        ETIMEDOUT   no complete response
//   ECONNRESET  the connection broke before the response        within request_timeout_ms (or
//   EPROTO      the response was malformed                      the connect timed out)
//   EMSGSIZE    the response was over max_response_size      EBUSY       max_waiting reached
//   EINVAL      the request is invalid (a header with CR/LF, a field the client sets itself)
//   ESHUTDOWN   the server is stopping and the connection was closed
// Retries are explicit: with retries = N, a GET, HEAD, OPTIONS, PUT or DELETE that failed before
// any byte of its response arrived (connect failure, reset, closed) is sent again, up to N times,
// within the same request_timeout_ms; other methods only when they were never sent (the connect
// failed). Requests pipelined behind a response that closed the connection were not processed by
// the upstream and are sent again without counting as a retry.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "alloc/result.h"
#include "net/client/response.h"
#include "net/coro.h"
#include "net/client/socket.h"
#include "net/http/request.h"
#include "net/unique_function.h"

namespace nexure::net::client {

namespace detail {
struct HttpClientConfig;
}

struct HttpClientOptions {
    // Connections to the upstream per worker (open or opening).
    uint32_t max_connections = 32;
    // Requests in flight per connection: 1 sends one request at a time; above 1, GETs and HEADs
    // may be pipelined (only on connections that carry nothing else), and those of one loop turn
    // are batched on one connection. Only for upstreams that handle pipelining (most servers do;
    // a slow request then delays the ones behind it on its connection).
    uint32_t max_pipeline = 1;
    uint32_t connect_timeout_ms = 2'000;
    // From request() to the whole response (waiting for a connection and retries included).
    uint32_t request_timeout_ms = 10'000;
    // A pooled connection unused for this long is closed (keep it below the upstream's own
    // keep-alive timeout: nginx's is 75 s).
    uint32_t idle_timeout_ms = 30'000;
    // Requests waiting for a connection, per worker (EBUSY beyond).
    uint32_t max_waiting = 4096;
    // A response's header fields and body together (EMSGSIZE beyond).
    size_t max_response_size = 16 * 1024 * 1024;
    unsigned retries = 0;
    // The Host field sent; empty: the endpoint's "host:port" text.
    std::string host = {};
};

struct ClientRequest {
    std::string_view method = "GET";
    std::string_view target = "/";  // origin-form: "/path?query"
    // Header fields to send. Host, Content-Length, Transfer-Encoding and Connection are the
    // client's own (EINVAL if given).
    std::span<const http::Header> headers = {};
    std::string_view body = {};
};

class HttpClient {
  public:
    using Callback = UniqueFunction<void(Result<ClientResponse>)>;

    explicit HttpClient(Endpoint upstream, HttpClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Worker thread only: sends `request` (copied) and calls `done` with the response or error.
    void request(const ClientRequest& request, Callback done);

    // In a coroutine handler (net/coro.h), the same request as an awaitable:
    //   Result<ClientResponse> r = co_await users.fetch({.target = "/v1/users/42"});
    // `request`'s views need only last until the co_await begins (they are copied then).
    auto fetch(const ClientRequest& request) {
        return callback<Result<ClientResponse>>([this, &request](Resolver<Result<ClientResponse>> done) {
            this->request(request, [done = std::move(done)](Result<ClientResponse> r) mutable {
                done(std::move(r));
            });
        });
    }

    // This worker's pool (worker thread only), for metrics and tests.
    struct Stats {
        uint32_t connections = 0;  // open or opening
        uint32_t idle = 0;
        uint32_t in_flight = 0;  // requests sent or being sent, not yet answered
        uint32_t waiting = 0;    // requests waiting for a connection
        uint64_t requests = 0;   // request() calls
        uint64_t connects = 0;   // connections opened (attempts)
        uint64_t reused = 0;     // requests placed on a connection that had answered or carried others
        uint64_t retries = 0;
        uint64_t failures = 0;   // requests answered with an error
    };
    Stats stats() const;

    const Endpoint& upstream() const noexcept;

  private:
    std::shared_ptr<const detail::HttpClientConfig> config_;
};

}  // namespace nexure::net::client
