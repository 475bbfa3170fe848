#include "net/router/router.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "net/http/parser.h"

namespace nexure::net::router {
namespace {

using http::Method;

struct Routed {
    Match::Kind kind = Match::Kind::kNotFound;
    RouteId route = kNoRoute;
    uint16_t allowed = 0;
    std::vector<std::pair<std::string, std::string>> params;
    bool params_point_into_path = true;
    bool parsed = false;
};

// Requests only come from the parser, so the tests build them the way the server does: parse a
// request line, then match it from inside the sink while the Request is alive.
class MatchingSink final : public http::RequestSink {
  public:
    explicit MatchingSink(const Router& router) : router_(router) {}
    Routed result;

    bool on_request(http::Request& r) noexcept override {
        const Match m = router_.match(r);
        result.parsed = true;
        result.kind = m.kind;
        result.route = m.route;
        result.allowed = m.allowed;
        const std::string_view path = r.path();
        for (const http::Param& p : r.params()) {
            result.params.emplace_back(std::string(p.name), std::string(p.value));
            if (p.value.data() < path.data() ||
                p.value.data() + p.value.size() > path.data() + path.size()) {
                result.params_point_into_path = false;
            }
            if (r.param(p.name) != p.value) result.params_point_into_path = false;
        }
        return true;
    }

  private:
    const Router& router_;
};

Routed route(const Router& router, std::string_view method, std::string_view target) {
    const std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n\r\n";
    http::Limits limits;
    limits.max_target_size = 1 << 20;
    limits.max_head_size = 1 << 21;
    http::ParseContext ctx(limits);
    http::RequestParser parser;
    MatchingSink sink(router);
    const auto r = parser.feed(ctx, text.data(), text.size(), sink);
    EXPECT_EQ(r.outcome, http::RequestParser::Outcome::kNeedMore) << "could not parse " << text;
    EXPECT_TRUE(sink.result.parsed) << text;
    return sink.result;
}

uint16_t bit(Method m) {
    return static_cast<uint16_t>(1u << static_cast<unsigned>(m));
}

using Params = std::vector<std::pair<std::string, std::string>>;

TEST(Router, StaticRoutesMatchExactly) {
    Router router;
    router.add(Method::kGet, "/", 1);
    router.add(Method::kGet, "/plaintext", 2);
    router.add(Method::kGet, "/api/v1/status", 3);
    EXPECT_EQ(router.route_count(), 3u);

    EXPECT_EQ(route(router, "GET", "/").route, 1u);
    EXPECT_EQ(route(router, "GET", "/plaintext").route, 2u);
    const Routed r = route(router, "GET", "/api/v1/status");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, 3u);
    EXPECT_TRUE(r.params.empty());
    EXPECT_EQ(route(router, "GET", "/api/v1").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/api/v1/status/more").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/plain").kind, Match::Kind::kNotFound);
}

TEST(Router, MatchingIsCaseSensitive) {
    Router router;
    router.add(Method::kGet, "/Users", 1);
    EXPECT_EQ(route(router, "GET", "/Users").kind, Match::Kind::kFound);
    EXPECT_EQ(route(router, "GET", "/users").kind, Match::Kind::kNotFound);
}

TEST(Router, ParamCapturesTheSegmentAsAViewIntoThePath) {
    Router router;
    router.add(Method::kGet, "/users/:id", 7);
    const Routed r = route(router, "GET", "/users/42");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, 7u);
    EXPECT_EQ(r.params, (Params{{"id", "42"}}));
    EXPECT_TRUE(r.params_point_into_path);
}

TEST(Router, ParamValueIsRawAndExcludesTheQuery) {
    Router router;
    router.add(Method::kGet, "/files/:name", 1);
    const Routed r = route(router, "GET", "/files/a%20b.txt?download=1");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.params, (Params{{"name", "a%20b.txt"}}));
    EXPECT_TRUE(r.params_point_into_path);
}

TEST(Router, SeveralParamsAreCapturedInOrder) {
    Router router;
    router.add(Method::kGet, "/users/:uid/posts/:pid", 1);
    const Routed r = route(router, "GET", "/users/ann/posts/99");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.params, (Params{{"uid", "ann"}, {"pid", "99"}}));
    EXPECT_TRUE(r.params_point_into_path);
}

TEST(Router, ParamDoesNotMatchAnEmptySegment) {
    Router router;
    router.add(Method::kGet, "/users/:id", 1);
    EXPECT_EQ(route(router, "GET", "/users/").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/users").kind, Match::Kind::kNotFound);
}

TEST(Router, StaticSegmentBeatsParam) {
    Router router;
    router.add(Method::kGet, "/users/:id", 1);
    router.add(Method::kGet, "/users/me", 2);
    const Routed me = route(router, "GET", "/users/me");
    EXPECT_EQ(me.route, 2u);
    EXPECT_TRUE(me.params.empty());
    const Routed other = route(router, "GET", "/users/you");
    EXPECT_EQ(other.route, 1u);
    EXPECT_EQ(other.params, (Params{{"id", "you"}}));
}

TEST(Router, BacktracksFromADeadEndStaticBranchToTheParam) {
    Router router;
    router.add(Method::kGet, "/users/me", 1);
    router.add(Method::kGet, "/users/:id/x", 2);
    const Routed r = route(router, "GET", "/users/me/x");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, 2u);
    EXPECT_EQ(r.params, (Params{{"id", "me"}})) << "no stale parameter from the abandoned branch";
    EXPECT_EQ(route(router, "GET", "/users/me").route, 1u);
}

TEST(Router, BacktrackingDropsParamsOfTheAbandonedBranch) {
    Router router;
    router.add(Method::kGet, "/a/:p/c", 1);
    router.add(Method::kGet, "/:q/b/d", 2);
    const Routed r = route(router, "GET", "/a/b/d");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, 2u);
    EXPECT_EQ(r.params, (Params{{"q", "a"}}));
}

TEST(Router, BacktrackingHonoursTheMethod) {
    Router router;
    router.add(Method::kPost, "/items/new", 1);
    router.add(Method::kGet, "/items/:id", 2);
    EXPECT_EQ(route(router, "POST", "/items/new").route, 1u);
    const Routed r = route(router, "GET", "/items/new");
    EXPECT_EQ(r.kind, Match::Kind::kFound) << "the static node lacks GET; the param route has it";
    EXPECT_EQ(r.route, 2u);
    EXPECT_EQ(r.params, (Params{{"id", "new"}}));
}

TEST(Router, UnknownPathIsNotFound) {
    Router router;
    router.add(Method::kGet, "/json", 1);
    const Routed r = route(router, "GET", "/nope");
    EXPECT_EQ(r.kind, Match::Kind::kNotFound);
    EXPECT_EQ(r.route, kNoRoute);
    EXPECT_EQ(r.allowed, 0);
    EXPECT_TRUE(r.params.empty());
}

TEST(Router, WrongMethodIsMethodNotAllowedWithTheAllowedMask) {
    Router router;
    router.add(Method::kGet, "/json", 1);
    const Routed r = route(router, "DELETE", "/json");
    EXPECT_EQ(r.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(r.allowed, bit(Method::kGet));
    EXPECT_EQ(Router::allow_header(r.allowed), "GET, HEAD");

    router.add(Method::kPost, "/json", 2);
    const Routed both = route(router, "PUT", "/json");
    EXPECT_EQ(both.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(both.allowed, bit(Method::kGet) | bit(Method::kPost));
    EXPECT_EQ(Router::allow_header(both.allowed), "GET, HEAD, POST");
}

TEST(Router, MethodNotAllowedMaskCoversParamRoutes) {
    Router router;
    router.add(Method::kPut, "/users/:id", 1);
    router.add(Method::kDelete, "/users/:id", 2);
    const Routed r = route(router, "GET", "/users/5");
    EXPECT_EQ(r.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(Router::allow_header(r.allowed), "PUT, DELETE");
    EXPECT_TRUE(r.params.empty()) << "no parameters are reported without a match";
}

TEST(Router, AllowHeaderListsMethodsInAFixedOrder) {
    EXPECT_EQ(Router::allow_header(0), "");
    EXPECT_EQ(Router::allow_header(bit(Method::kPost)), "POST");
    EXPECT_EQ(Router::allow_header(bit(Method::kHead)), "HEAD");
    EXPECT_EQ(Router::allow_header(bit(Method::kPatch) | bit(Method::kGet) | bit(Method::kOptions)),
              "GET, HEAD, OPTIONS, PATCH");
    uint16_t all = 0;
    for (unsigned i = 0; i < http::kRoutableMethods; ++i)
        all |= static_cast<uint16_t>(1u << i);
    EXPECT_EQ(Router::allow_header(all),
              "GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH");
}

TEST(Router, HeadFallsBackToGet) {
    Router router;
    router.add(Method::kGet, "/users/:id", 4);
    const Routed r = route(router, "HEAD", "/users/9");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, 4u);
    EXPECT_EQ(r.params, (Params{{"id", "9"}}));
}

TEST(Router, ExplicitHeadRouteWinsOverGet) {
    Router router;
    router.add(Method::kGet, "/x", 1);
    router.add(Method::kHead, "/x", 2);
    EXPECT_EQ(route(router, "HEAD", "/x").route, 2u);
    EXPECT_EQ(route(router, "GET", "/x").route, 1u);
}

TEST(Router, HeadWithoutGetIsMethodNotAllowed) {
    Router router;
    router.add(Method::kPost, "/form", 1);
    const Routed r = route(router, "HEAD", "/form");
    EXPECT_EQ(r.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(Router::allow_header(r.allowed), "POST");
}

TEST(Router, TrailingSlashIsStrict) {
    Router router;
    router.add(Method::kGet, "/a", 1);
    router.add(Method::kGet, "/b/", 2);
    EXPECT_EQ(route(router, "GET", "/a").route, 1u);
    EXPECT_EQ(route(router, "GET", "/a/").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/b/").route, 2u);
    EXPECT_EQ(route(router, "GET", "/b").kind, Match::Kind::kNotFound);
}

TEST(Router, QueryStringIsNotPartOfTheMatch) {
    Router router;
    router.add(Method::kGet, "/search", 1);
    EXPECT_EQ(route(router, "GET", "/search?q=a/b").route, 1u);
    EXPECT_EQ(route(router, "GET", "/search?").route, 1u);
    EXPECT_EQ(route(router, "GET", "/?x=1").kind, Match::Kind::kNotFound);
}

TEST(Router, NonStandardMethodIsNotImplemented) {
    Router router;
    router.add(Method::kGet, "/dav", 1);
    EXPECT_EQ(route(router, "PROPFIND", "/dav").kind, Match::Kind::kNotImplemented);
    EXPECT_EQ(route(router, "PROPFIND", "/nowhere").kind, Match::Kind::kNotImplemented);
}

TEST(Router, SamePatternForDifferentMethods) {
    Router router;
    router.add(Method::kGet, "/r/:id", 1);
    router.add(Method::kPost, "/r/:id", 2);
    router.add(Method::kPatch, "/r/:id", 3);
    EXPECT_EQ(route(router, "GET", "/r/1").route, 1u);
    EXPECT_EQ(route(router, "POST", "/r/1").route, 2u);
    EXPECT_EQ(route(router, "PATCH", "/r/1").route, 3u);
    EXPECT_EQ(router.route_count(), 3u);
}

// Registration errors: each throws std::invalid_argument naming the route.
void expect_rejected(Router& router, Method method, std::string_view pattern,
                     std::string_view why) {
    try {
        router.add(method, pattern, 99);
        ADD_FAILURE() << "'" << pattern << "' was accepted";
    } catch (const std::invalid_argument& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(std::string(pattern)), std::string::npos) << msg;
        EXPECT_NE(msg.find(std::string(why)), std::string::npos) << msg;
    }
}

TEST(Router, DuplicateRouteIsRejected) {
    Router router;
    router.add(Method::kGet, "/users/:id", 1);
    expect_rejected(router, Method::kGet, "/users/:id", "already registered");
    EXPECT_EQ(router.route_count(), 1u);
    EXPECT_EQ(route(router, "GET", "/users/1").route, 1u) << "the first registration stays";
}

TEST(Router, ConflictingParamNamesAtOnePositionAreRejected) {
    Router router;
    router.add(Method::kGet, "/users/:id", 1);
    expect_rejected(router, Method::kPost, "/users/:name", "conflicts");
    expect_rejected(router, Method::kGet, "/users/:uid/posts", "conflicts");
}

TEST(Router, PatternWithoutLeadingSlashIsRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "users", "must start with '/'");
    expect_rejected(router, Method::kGet, "", "must start with '/'");
}

TEST(Router, InvalidCharactersAreRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "/files/*", "not allowed");
    expect_rejected(router, Method::kGet, "/with space", "not allowed");
    expect_rejected(router, Method::kGet, "/q?x=1", "not allowed");
    expect_rejected(router, Method::kGet, "/hash#frag", "not allowed");
    EXPECT_EQ(router.route_count(), 0u);
}

TEST(Router, EmptyOrInvalidParamNameIsRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "/users/:", "parameter name");
    expect_rejected(router, Method::kGet, "/users/:a-b", "parameter name");
}

TEST(Router, MoreThanSixteenParamsAreRejected) {
    Router router;
    std::string ok;
    for (int i = 0; i < 16; ++i)
        ok += "/:p" + std::to_string(i);
    router.add(Method::kGet, ok, 1);
    std::string too_many = ok + "/:p16";
    // Registered under another method so that only the count can be wrong.
    expect_rejected(router, Method::kPost, too_many, "more than 16");
}

TEST(Router, NonStandardMethodCannotBeRouted) {
    Router router;
    EXPECT_THROW(router.add(Method::kOther, "/x", 1), std::invalid_argument);
}

TEST(Router, SixteenParamsAreAllCaptured) {
    Router router;
    std::string pattern;
    std::string path;
    Params expected;
    for (int i = 0; i < 16; ++i) {
        pattern += "/s" + std::to_string(i) + "/:p" + std::to_string(i);
        path += "/s" + std::to_string(i) + "/v" + std::to_string(i);
        expected.emplace_back("p" + std::to_string(i), "v" + std::to_string(i));
    }
    router.add(Method::kGet, pattern, 5);
    const Routed r = route(router, "GET", path);
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, 5u);
    EXPECT_EQ(r.params, expected);
    EXPECT_TRUE(r.params_point_into_path);
}

TEST(Router, RouteWithManySegmentsMatches) {
    Router router;
    std::string pattern;
    for (int i = 0; i < 64; ++i)
        pattern += "/seg" + std::to_string(i);
    router.add(Method::kGet, pattern, 3);
    EXPECT_EQ(route(router, "GET", pattern).route, 3u);
    EXPECT_EQ(route(router, "GET", pattern + "/extra").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", pattern.substr(0, pattern.size() - 1)).kind,
              Match::Kind::kNotFound);
}

TEST(Router, VeryLongPathsAreHandled) {
    Router router;
    router.add(Method::kGet, "/files/:name", 1);
    router.add(Method::kGet, "/a/b", 2);
    const std::string long_name(100'000, 'x');
    const Routed r = route(router, "GET", "/files/" + long_name);
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    ASSERT_EQ(r.params.size(), 1u);
    EXPECT_EQ(r.params[0].second, long_name);

    std::string deep;
    for (int i = 0; i < 20'000; ++i)
        deep += "/a";
    EXPECT_EQ(route(router, "GET", deep).kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/" + std::string(100'000, 'y')).kind, Match::Kind::kNotFound);
}

TEST(Router, RouterCanBeMoved) {
    Router a;
    a.add(Method::kGet, "/moved", 8);
    Router b(std::move(a));
    EXPECT_EQ(route(b, "GET", "/moved").route, 8u);
    Router c;
    c = std::move(b);
    EXPECT_EQ(route(c, "GET", "/moved").route, 8u);
    EXPECT_EQ(c.route_count(), 1u);
}

}  // namespace
}  // namespace nexure::net::router
