// A small API gateway: requests under /api/ go to one upstream through the outbound HTTP client
// on the worker's own ring (a keep-alive pool per worker), a health check answers itself.
// Build: cmake --build --preset release; run:
//   build/release/bin/nexure-example-gateway --upstream 127.0.0.1:9000 [--port 8080] [--threads N]
//                                            [--timeout-ms 5000]
//
//   GET|POST /api/*      forwarded to the upstream (same path and query, end-to-end header fields
//                        both ways); 502 {"error":"bad gateway",...} when the upstream fails,
//                        504 {"error":"gateway timeout",...} when it does not answer in time,
//                        503 {"error":"service unavailable",...} when too many requests wait for
//                        an upstream connection
//   GET /api/_health     {"status":"ok"}, from the gateway itself
//   POST /echo-json      the JSON body validated and written back (simdjson, JsonWriter); 400
//                        {"error":"invalid JSON","message":...,"position":N} when it is not JSON
//   GET /_stats          {"responses":{"200":N,"404":N,...},"total":N}: every answer counted by
//                        status, the engine's own (404, 405, 413, 408, ...) included
#include <atomic>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/client/http_client.h"
#include "net/http/json_writer.h"
#include "net/json/body.h"
#include "net/server.h"

using nexure::Result;
using nexure::net::Later;
using nexure::net::Method;
using nexure::net::Request;
using nexure::net::Response;
using nexure::net::Server;
using nexure::net::ServerConfig;
namespace client = nexure::net::client;
namespace http = nexure::net::http;

namespace {

// Hop-by-hop fields (RFC 9110 7.6.1) and the ones each side writes itself: not forwarded.
constexpr std::string_view kHopByHop[] = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "host", "content-length", "proxy-authenticate", "proxy-authorization"};
bool hop_by_hop(std::string_view name) {
    for (std::string_view h : kHopByHop) {
        if (name.size() == h.size() && http::iequals(name, h)) return true;
    }
    return false;
}
bool written_by_us(std::string_view name) {
    return hop_by_hop(name) || http::iequals(name, "date") || http::iequals(name, "server") ||
           http::iequals(name, "content-type");
}

// A short cause for a failed upstream call (the detailed message names internal addresses: it is
// logged, not sent).
const char* cause(int code) {
    switch (code) {
        case ECONNREFUSED: return "connection refused";
        case ETIMEDOUT: return "upstream timed out";
        case ECONNRESET: return "connection reset";
        case EPROTO: return "malformed response";
        case EMSGSIZE: return "response too large";
        case EBUSY: return "too many requests waiting";
        case ESHUTDOWN: return "shutting down";
        default: return "upstream unreachable";
    }
}

// At most 10 lines a second per worker: an upstream that is down must not flood the log; the
// lines held back are counted and reported with the next one.
void log_failure(const std::string& message) {
    thread_local time_t second = 0;
    thread_local unsigned lines = 0;
    thread_local unsigned long held_back = 0;
    const time_t now = std::time(nullptr);
    if (now != second) {
        second = now;
        lines = 0;
    }
    if (++lines > 10) {
        ++held_back;
        return;
    }
    if (held_back != 0) {
        std::fprintf(stderr, "gateway: (%lu more upstream failures not logged)\n", held_back);
        held_back = 0;
    }
    std::fprintf(stderr, "gateway: %s\n", message.c_str());
}

void answer_failure(Response& out, const nexure::Error& e) {
    const bool timeout = e.code == ETIMEDOUT;
    // Too many requests already wait for an upstream connection: the gateway is overloaded, the
    // upstream is not at fault (503, and the client may retry later).
    const bool overloaded = e.code == EBUSY;
    log_failure(e.message);
    http::JsonWriter json(
        out.status(timeout ? 504 : overloaded ? 503 : 502).type("application/json"));
    json.begin_object()
        .key("error")
        .value(timeout ? "gateway timeout" : overloaded ? "service unavailable" : "bad gateway")
        .key("cause")
        .value(cause(e.code))
        .end_object();
}

void copy_answer(Response& out, const client::ClientResponse& r) {
    out.status(r.status());
    if (auto type = r.header("content-type")) out.type(*type);
    for (size_t i = 0; i < r.header_count(); ++i) {
        if (!written_by_us(r.header_name(i))) out.header(r.header_name(i), r.header_value(i));
    }
    out.body(r.body());
}

// Answers by status, one row per worker: each worker writes only its own row (no contended
// atomics on the request path), /_stats adds the rows up.
class StatusCounts {
  public:
    explicit StatusCounts(unsigned workers) : rows_(workers) {}
    void count(unsigned worker, int status) {
        if (worker >= rows_.size() || status < 100 || status > 599) return;
        std::atomic<uint64_t>& c = rows_[worker].by_status[status - 100];
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // one writer
    }
    void write(Response& res) const {
        http::JsonWriter json(res.type("application/json"));
        json.begin_object().key("responses").begin_object();
        uint64_t total = 0;
        for (int status = 100; status <= 599; ++status) {
            uint64_t n = 0;
            for (const Row& row : rows_)
                n += row.by_status[status - 100].load(std::memory_order_relaxed);
            if (n == 0) continue;
            json.key(std::to_string(status)).value(n);
            total += n;
        }
        json.end_object().key("total").value(total).end_object();
    }

  private:
    struct alignas(64) Row {
        std::atomic<uint64_t> by_status[500] = {};
    };
    std::vector<Row> rows_;
};

void forward(client::HttpClient& upstream, const Request& req, Response& res) {
    // The request's end-to-end fields, as views: the client copies them before request() returns.
    constexpr size_t kMaxFields = 100;
    http::Header fields[kMaxFields];
    size_t n = 0;
    for (const http::Header& h : req.headers()) {
        if (!hop_by_hop(h.name) && n < kMaxFields) fields[n++] = h;
    }
    upstream.request({.method = req.method_name(),
                      .target = req.target(),
                      .headers = {fields, n},
                      .body = req.body()},
                     [later = res.defer()](Result<client::ClientResponse> r) mutable {
                         later.respond([r = std::move(r)](Response& out) {
                             if (r) {
                                 copy_answer(out, r.value());
                             } else {
                                 answer_failure(out, r.error());
                             }
                         });
                     });
}

int usage(const char* why) {
    std::fprintf(stderr,
                 "nexure-example-gateway: %s\n"
                 "usage: nexure-example-gateway --upstream HOST:PORT [--port PORT] [--threads N]\n"
                 "                              [--timeout-ms MS]  (the upstream's answer: 504 after)\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    ServerConfig config;
    config.port = 8080;
    std::string upstream_address;
    uint32_t timeout_ms = 5'000;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage("an API gateway in front of one upstream");
            return 0;
        }
        if (i + 1 >= argc) return usage(("missing a value after " + arg).c_str());
        const std::string value = argv[++i];
        if (arg == "--upstream") {
            upstream_address = value;
        } else if (arg == "--port") {
            config.port = static_cast<uint16_t>(std::atoi(value.c_str()));
        } else if (arg == "--timeout-ms") {
            timeout_ms = static_cast<uint32_t>(std::atoi(value.c_str()));
            if (timeout_ms == 0) return usage("--timeout-ms must be a positive number");
        } else if (arg == "--threads") {
            config.threads = static_cast<unsigned>(std::atoi(value.c_str()));
        } else {
            return usage(("unknown option " + arg).c_str());
        }
    }
    if (upstream_address.empty()) return usage("--upstream HOST:PORT is required");
    Result<client::Endpoint> to = client::Endpoint::resolve(upstream_address);
    if (!to) return usage(to.error().message.c_str());

    // One client for every worker; each worker keeps its own pool of keep-alive connections.
    // GETs are pipelined: those of one loop turn share a connection and a send (net/client/).
    client::HttpClient upstream(to.value(), {.max_connections = 256,
                                             .max_pipeline = 16,
                                             .connect_timeout_ms = 1'000,
                                             .request_timeout_ms = timeout_ms,
                                             .idle_timeout_ms = 60'000,
                                             .retries = 1});

    Server server(config);
    // Every answer is counted, the engine's own included; the row is the answering worker's.
    StatusCounts counts(std::max(config.threads, std::max(1u, std::thread::hardware_concurrency())));
    server.on_response(
        [&counts](const nexure::net::ResponseInfo& info) { counts.count(info.worker, info.status); });
    server.get("/_stats", [&counts](const Request&, Response& res) { counts.write(res); });
    server.post("/echo-json", [](const Request& req, Response& res) {
        nexure::net::json::Body body(req);
        http::JsonWriter out(res.type("application/json"));
        if (nexure::net::json::Error e = body.write_to(out)) nexure::net::json::write_error(res, e);
    });
    server.fixed(Method::kGet, "/api/_health",
                 {.status = 200, .content_type = "application/json", .headers = {}, .body = R"({"status":"ok"})"});
    auto api = [&upstream](const Request& req, Response& res) { forward(upstream, req, res); };
    server.get("/api/*", api);
    server.post("/api/*", api);
    return server.run([&upstream_address](const Server& s) {
        std::printf("listening on http://%s:%u, upstream %s\n", s.address().c_str(), s.port(),
                    upstream_address.c_str());
        std::fflush(stdout);
    });
}
