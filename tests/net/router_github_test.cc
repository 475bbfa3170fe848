// The GitHub REST API route set used by the router benchmarks (bench/router/): every route
// registers, and every lookup of github_lookups.txt gives its expected outcome — a hit on a
// route whose pattern, with the captured parameters put back, gives the path again; or a miss.
#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <string>

#include "bench/router/route_file.h"

namespace nexure::net::router {
namespace {

// Rebuilds a concrete path from a pattern and captured parameters (":name" and "*").
std::string fill(std::string_view pattern, const http::Param* params, uint32_t count) {
    std::string out;
    uint32_t next = 0;
    for (size_t i = 0; i < pattern.size();) {
        if (pattern[i] == ':' || pattern[i] == '*') {
            size_t j = i + 1;
            while (pattern[i] == ':' && j < pattern.size() &&
                   (std::isalnum(static_cast<unsigned char>(pattern[j])) || pattern[j] == '_')) {
                ++j;
            }
            if (next < count) out += params[next++].value;
            i = j;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

TEST(RouterGitHub, EveryLookupOfTheBenchmarkSetGivesItsExpectedOutcome) {
    const std::string dir = NEXURE_SOURCE_DIR "/bench/router/";
    const auto routes = bench::load_routes(dir + "github_routes.txt");
    const auto lookups = bench::load_lookups(dir + "github_lookups.txt");
    ASSERT_GT(routes.size(), 200u);
    Router router = bench::build_router(routes);
    ASSERT_EQ(router.route_count(), routes.size());
    std::array<http::Param, http::Request::kMaxParams> params;
    uint32_t count = 0;
    size_t hits = 0;
    for (const auto& l : lookups) {
        SCOPED_TRACE(std::string(http::method_name(l.method)) + " " + l.path);
        const RouteId id = router.find(l.method, l.path, params.data(), &count);
        if (l.kind == "miss") {
            EXPECT_EQ(id, kNoRoute);
            continue;
        }
        ASSERT_NE(id, kNoRoute);
        EXPECT_EQ(router.method(id), l.method);
        EXPECT_EQ(fill(router.pattern(id), params.data(), count), l.path);
        if (l.kind == "static") {
            EXPECT_EQ(count, 0u);
        }
        ++hits;
    }
    EXPECT_GT(hits, 200u);
}

}  // namespace
}  // namespace nexure::net::router
