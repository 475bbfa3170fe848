// A small API gateway: requests under /api/ go to one upstream through the outbound HTTP client
// on the worker's own ring (a keep-alive pool per worker), a health check answers itself.
// Build: cmake --build --preset release; run:
//   build/release/bin/nexure-example-gateway --upstream 127.0.0.1:9000 [--port 8080] [--threads N]
//
//   GET|POST /api/*      forwarded to the upstream (same path and query, end-to-end header fields
//                        both ways); 502 {"error":"bad gateway",...} when the upstream fails,
//                        504 {"error":"gateway timeout",...} when it does not answer in time
//   GET /api/_health     {"status":"ok"}, from the gateway itself
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "net/client/http_client.h"
#include "net/http/json_writer.h"
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
bool hop_by_hop(std::string_view name) {
    for (std::string_view h : {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                               "transfer-encoding", "upgrade", "host", "content-length",
                               "proxy-authenticate", "proxy-authorization"}) {
        if (http::iequals(name, h)) return true;
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

void answer_failure(Response& out, const nexure::Error& e) {
    const bool timeout = e.code == ETIMEDOUT;
    std::fprintf(stderr, "gateway: %s\n", e.message.c_str());
    http::JsonWriter json(out.status(timeout ? 504 : 502).type("application/json"));
    json.begin_object()
        .key("error")
        .value(timeout ? "gateway timeout" : "bad gateway")
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
                 "usage: nexure-example-gateway --upstream HOST:PORT [--port PORT] [--threads N]\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    ServerConfig config;
    config.port = 8080;
    std::string upstream_address;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return usage(("missing a value after " + arg).c_str());
        const std::string value = argv[++i];
        if (arg == "--upstream") {
            upstream_address = value;
        } else if (arg == "--port") {
            config.port = static_cast<uint16_t>(std::atoi(value.c_str()));
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
                                             .request_timeout_ms = 5'000,
                                             .idle_timeout_ms = 60'000,
                                             .retries = 1});

    Server server(config);
    server.fixed(Method::kGet, "/api/_health",
                 {.status = 200, .content_type = "application/json", .headers = {}, .body = R"({"status":"ok"})"});
    auto api = [&upstream](const Request& req, Response& res) { forward(upstream, req, res); };
    server.get("/api/*", api);
    server.post("/api/*", api);
    return server.run([&upstream_address](const Server& s) {
        std::printf("gateway on http://%s:%u, upstream %s\n", s.address().c_str(), s.port(),
                    upstream_address.c_str());
        std::fflush(stdout);
    });
}
