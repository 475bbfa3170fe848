// nexure-bench-router: the NexureJS side of the router comparison with find-my-way
// (scripts/bench-router.sh). Same data, same method as bench/router/fmw_bench.js: register every
// route of the GitHub table, check that every lookup gives the expected outcome, then for each
// kind (static, param, miss) loop over its lookups for about a second and report ns per lookup.
//
//   nexure-bench-router [--json] [--routes FILE] [--lookups FILE] [--seconds S]
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "bench/router/route_file.h"

namespace {

using namespace nexure;
using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
    std::string dir = NEXURE_SOURCE_DIR "/bench/router/";
    std::string routes_file = dir + "github_routes.txt";
    std::string lookups_file = dir + "github_lookups.txt";
    bool json = false;
    double seconds = 1.0;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (arg == "--json") {
            json = true;
        } else if (arg == "--routes" && value) {
            routes_file = value;
            ++i;
        } else if (arg == "--lookups" && value) {
            lookups_file = value;
            ++i;
        } else if (arg == "--seconds" && value) {
            seconds = std::atof(value);
            ++i;
        } else {
            std::fprintf(stderr,
                         "usage: nexure-bench-router [--json] [--routes FILE] [--lookups FILE] "
                         "[--seconds S]\n");
            return 2;
        }
    }

    std::vector<bench::RouteLine> routes;
    std::vector<bench::Lookup> lookups;
    try {
        routes = bench::load_routes(routes_file);
        lookups = bench::load_lookups(lookups_file);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexure-bench-router: %s\n", e.what());
        return 1;
    }
    net::router::Router router;
    try {
        router = bench::build_router(routes);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexure-bench-router: %s\n", e.what());
        return 1;
    }

    std::array<net::http::Param, net::http::Request::kMaxParams> params;
    uint32_t n = 0;
    std::map<std::string, std::vector<const bench::Lookup*>> by_kind;
    for (const bench::Lookup& l : lookups) {
        const bool hit = router.find(l.method, l.path, params.data(), &n) != net::router::kNoRoute;
        if (hit != (l.kind != "miss")) {
            std::fprintf(stderr, "nexure-bench-router: %s %s should be a %s but was%s found\n",
                         std::string(net::http::method_name(l.method)).c_str(), l.path.c_str(),
                         l.kind.c_str(), hit ? "" : " not");
            return 1;
        }
        by_kind[l.kind].push_back(&l);
    }

    std::map<std::string, double> ns_per_lookup;
    uint64_t checksum = 0;
    for (auto& [kind, set] : by_kind) {
        auto pass = [&] {
            for (const bench::Lookup* l : set) {
                checksum += router.find(l->method, l->path, params.data(), &n) + n;
            }
        };
        const auto warm_end = Clock::now() + std::chrono::duration<double>(seconds / 5);
        while (Clock::now() < warm_end)
            pass();
        uint64_t done = 0;
        const auto start = Clock::now();
        const auto stop = start + std::chrono::duration<double>(seconds);
        auto now = start;
        while (now < stop) {
            pass();
            done += set.size();
            now = Clock::now();
        }
        ns_per_lookup[kind] = std::chrono::duration<double, std::nano>(now - start).count() /
                              static_cast<double>(done);
    }

    if (json) {
        std::printf("{\"router\":\"nexure\",\"routes\":%zu,\"ns_per_lookup\":{", routes.size());
        const char* sep = "";
        for (auto& [kind, ns] : ns_per_lookup) {
            std::printf("%s\"%s\":%.2f", sep, kind.c_str(), ns);
            sep = ",";
        }
        std::printf("},\"lookups\":{");
        sep = "";
        for (auto& [kind, set] : by_kind) {
            std::printf("%s\"%s\":%zu", sep, kind.c_str(), set.size());
            sep = ",";
        }
        std::printf("},\"checksum\":%llu}\n", static_cast<unsigned long long>(checksum));
    } else {
        std::printf("nexure router, %zu routes\n", routes.size());
        for (auto& [kind, ns] : ns_per_lookup) {
            std::printf("  %-7s %8.2f ns/lookup (%zu lookups)\n", kind.c_str(), ns,
                        by_kind[kind].size());
        }
    }
    return 0;
}
