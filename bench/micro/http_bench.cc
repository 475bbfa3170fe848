// Micro-benchmarks of the request path's pure-CPU parts: parsing, routing and response framing.
// Reports time per operation; asserts nothing.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "bench/load/response_parser.h"
#include "net/http/parser.h"
#include "net/router/router.h"

namespace {

using namespace nexure::net;

// The request wrk sends in the BENCHMARKING.md workloads.
const std::string kWrkRequest = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

class CountingSink final : public http::RequestSink {
  public:
    bool on_request(http::Request& r) noexcept override {
        benchmark::DoNotOptimize(r.path().data());
        ++count;
        return true;
    }
    size_t count = 0;
};

void BM_ParsePipelined16(benchmark::State& state) {
    std::string batch;
    for (int i = 0; i < 16; ++i)
        batch += kWrkRequest;
    http::ParseContext ctx{http::Limits{}};
    http::RequestParser parser;
    CountingSink sink;
    for (auto _ : state) {
        parser.feed(ctx, batch.data(), batch.size(), sink);
    }
    state.SetItemsProcessed(static_cast<int64_t>(sink.count));
}
BENCHMARK(BM_ParsePipelined16);

void BM_ParseBrowserLikeRequest(benchmark::State& state) {
    const std::string req =
        "GET /users/12345?fields=name,email HTTP/1.1\r\nHost: example.com\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
        "Connection: keep-alive\r\nCookie: session=abcdef0123456789; theme=dark\r\n\r\n";
    http::ParseContext ctx{http::Limits{}};
    http::RequestParser parser;
    CountingSink sink;
    for (auto _ : state) {
        parser.feed(ctx, req.data(), req.size(), sink);
    }
    state.SetItemsProcessed(static_cast<int64_t>(sink.count));
    state.SetBytesProcessed(static_cast<int64_t>(sink.count * req.size()));
}
BENCHMARK(BM_ParseBrowserLikeRequest);

// Requests that span reads, fed in 4 KiB pieces (the default receive buffer): the stitching cost.
// Arg: the body's length; Content-Length (whole body known ahead) or chunked (1 KiB chunks).
void feed_in_reads(benchmark::State& state, const std::string& request) {
    http::ParseContext ctx{http::Limits{}};
    http::RequestParser parser;
    CountingSink sink;
    constexpr size_t kRead = 4096;
    for (auto _ : state) {
        for (size_t at = 0; at < request.size(); at += kRead) {
            parser.feed(ctx, request.data() + at, std::min(kRead, request.size() - at), sink);
        }
    }
    state.SetItemsProcessed(static_cast<int64_t>(sink.count));
    state.SetBytesProcessed(static_cast<int64_t>(sink.count * request.size()));
}

void BM_ParseBodySpanningReads(benchmark::State& state) {
    const std::string body(static_cast<size_t>(state.range(0)), 'b');
    feed_in_reads(state, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body);
}
BENCHMARK(BM_ParseBodySpanningReads)->Arg(6 * 1024)->Arg(48 * 1024)->Arg(512 * 1024);

void BM_ParseChunkedBodySpanningReads(benchmark::State& state) {
    std::string request = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string chunk(1024, 'c');
    for (int64_t left = state.range(0); left > 0; left -= 1024)
        request += "400\r\n" + chunk + "\r\n";
    feed_in_reads(state, request + "0\r\n\r\n");
}
BENCHMARK(BM_ParseChunkedBodySpanningReads)->Arg(6 * 1024)->Arg(48 * 1024);

// nexload's response parser over 16 pipelined responses like nexure-server's (one read).
void BM_ParseResponses16(benchmark::State& state) {
    const std::string one =
        "HTTP/1.1 200 OK\r\nServer: NexureJS\r\nDate: Sat, 21 Nov 2026 10:00:00 GMT\r\n"
        "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
    std::string batch;
    for (int i = 0; i < 16; ++i)
        batch += one;
    struct Count final : nexure::load::ResponseSink {
        int64_t n = 0;
        void on_response(int, uint64_t) noexcept override { ++n; }
    } sink;
    nexure::load::ResponseParser parser;
    for (auto _ : state) {
        benchmark::DoNotOptimize(parser.feed(batch.data(), batch.size(), sink));
    }
    state.SetItemsProcessed(sink.n);
}
BENCHMARK(BM_ParseResponses16);

// Routes a parsed request through a small API table.
class RouteSink final : public http::RequestSink {
  public:
    explicit RouteSink(const router::Router& r) : router_(r) {}
    bool on_request(http::Request& r) noexcept override {
        benchmark::DoNotOptimize(router_.match(r));
        return true;
    }

  private:
    const router::Router& router_;
};

void BM_ParseAndRouteParam(benchmark::State& state) {
    router::Router r;
    const char* routes[] = {"/",
                            "/plaintext",
                            "/json",
                            "/users",
                            "/users/:id",
                            "/users/:id/posts",
                            "/users/:id/posts/:post",
                            "/echo",
                            "/health",
                            "/metrics"};
    for (const char* p : routes)
        r.add(http::Method::kGet, p);
    const std::string req = "GET /users/42/posts/7 HTTP/1.1\r\nHost: x\r\n\r\n";
    http::ParseContext ctx{http::Limits{}};
    http::RequestParser parser;
    RouteSink sink(r);
    for (auto _ : state) {
        parser.feed(ctx, req.data(), req.size(), sink);
    }
}
BENCHMARK(BM_ParseAndRouteParam);

}  // namespace

BENCHMARK_MAIN();
