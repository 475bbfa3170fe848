// Router lookups on three tables (a small API, the GitHub REST API, thousands of static paths):
// nanoseconds per lookup for hits on static routes, hits on parameter routes, and misses.
// Reports only; asserts nothing (a lookup that does not give the expected outcome aborts the run
// with a message, since the figure would be meaningless).
#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "bench/router/route_file.h"

namespace {

using namespace nexure;
using net::router::kNoRoute;

struct Table {
    net::router::Router router;
    std::vector<bench::Lookup> lookups;
};

void check(const Table& t) {
    std::array<net::http::Param, net::http::Request::kMaxParams> params;
    uint32_t n = 0;
    for (const bench::Lookup& l : t.lookups) {
        const bool hit = t.router.find(l.method, l.path, params.data(), &n) != kNoRoute;
        if (hit != (l.kind != "miss")) {
            std::fprintf(stderr, "router_bench: %s %s should be a %s\n",
                         std::string(net::http::method_name(l.method)).c_str(), l.path.c_str(),
                         l.kind.c_str());
            std::exit(1);
        }
    }
}

const Table& small_api() {
    static const Table t = [] {
        Table x{bench::build_router(bench::small_api_routes()), {}};
        using M = net::http::Method;
        x.lookups = {{M::kGet, "/", "static"},
                     {M::kGet, "/health", "static"},
                     {M::kGet, "/users", "static"},
                     {M::kGet, "/users/42", "param"},
                     {M::kGet, "/users/42/posts", "param"},
                     {M::kGet, "/users/42/posts/7", "param"},
                     {M::kGet, "/static/css/app.css", "param"},
                     {M::kGet, "/nope", "miss"},
                     {M::kGet, "/users/42/likes", "miss"},
                     {M::kPost, "/users/42", "miss"}};
        check(x);
        return x;
    }();
    return t;
}

const Table& github() {
    static const Table t = [] {
        const std::string dir = NEXURE_SOURCE_DIR "/bench/router/";
        Table x{bench::build_router(bench::load_routes(dir + "github_routes.txt")),
                bench::load_lookups(dir + "github_lookups.txt")};
        check(x);
        return x;
    }();
    return t;
}

const Table& static_heavy() {
    static const Table t = [] {
        Table x{bench::build_router(bench::static_heavy_routes(50, 100)), {}};
        for (int s = 0; s < 50; s += 7) {
            for (int p = 0; p < 100; p += 13) {
                x.lookups.push_back({net::http::Method::kGet,
                                     "/docs/s" + std::to_string(s) + "/page-" + std::to_string(p),
                                     "static"});
                x.lookups.push_back(
                    {net::http::Method::kGet,
                     "/docs/s" + std::to_string(s) + "/page-" + std::to_string(p + 100), "miss"});
            }
        }
        check(x);
        return x;
    }();
    return t;
}

void run(benchmark::State& state, const Table& t, const char* kind) {
    std::vector<const bench::Lookup*> set;
    for (const bench::Lookup& l : t.lookups) {
        if (l.kind == kind) set.push_back(&l);
    }
    std::array<net::http::Param, net::http::Request::kMaxParams> params;
    uint32_t n = 0;
    size_t i = 0;
    for (auto _ : state) {
        const bench::Lookup& l = *set[i];
        benchmark::DoNotOptimize(t.router.find(l.method, l.path, params.data(), &n));
        if (++i == set.size()) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["routes"] = static_cast<double>(t.router.route_count());
}

// Two threads looking up parameter routes of the GitHub table: in one shared Router (what the
// engine does) or in a copy per thread (built from the same routes). Shows whether sharing one
// read-only tree costs anything across cores.
void GitHub_param_shared_router(benchmark::State& state) {
    run(state, github(), "param");
}

void GitHub_param_router_per_thread(benchmark::State& state) {
    thread_local Table own{
        [] {
            const std::string dir = NEXURE_SOURCE_DIR "/bench/router/";
            return bench::build_router(bench::load_routes(dir + "github_routes.txt"));
        }(),
        github().lookups};
    run(state, own, "param");
}

}  // namespace

BENCHMARK(GitHub_param_shared_router)->Threads(2)->UseRealTime();
BENCHMARK(GitHub_param_router_per_thread)->Threads(2)->UseRealTime();

BENCHMARK_CAPTURE(run, SmallApi_static, small_api(), "static");
BENCHMARK_CAPTURE(run, SmallApi_param, small_api(), "param");
BENCHMARK_CAPTURE(run, SmallApi_miss, small_api(), "miss");
BENCHMARK_CAPTURE(run, GitHub_static, github(), "static");
BENCHMARK_CAPTURE(run, GitHub_param, github(), "param");
BENCHMARK_CAPTURE(run, GitHub_miss, github(), "miss");
BENCHMARK_CAPTURE(run, StaticHeavy_static, static_heavy(), "static");
BENCHMARK_CAPTURE(run, StaticHeavy_miss, static_heavy(), "miss");

BENCHMARK_MAIN();
