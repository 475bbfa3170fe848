// Router: registration rules, matching priority, method handling and parameter capture of the
// radix-tree router (net/router/router.h). Requests are built the way the server builds them:
// real request bytes through http::RequestParser, matched from inside the sink while the Request
// is alive.
#include "net/router/router.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/http/parser.h"
#include "net/http/percent.h"

namespace nexure::net::router {
namespace {

using http::Method;
using Params = std::vector<std::pair<std::string, std::string>>;

struct Routed {
    Match::Kind kind = Match::Kind::kNotFound;
    RouteId route = kNoRoute;
    uint16_t allowed = 0;
    Params params;
    // Request::param_decoded for each captured parameter, in order: {succeeded, value}.
    std::vector<std::pair<bool, std::string>> decoded;
    bool params_point_into_path = true;
    bool parsed = false;
};

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
            // A parameter is a view into the request's own path bytes, never a copy.
            if (p.value.data() < path.data() ||
                p.value.data() + p.value.size() > path.data() + path.size()) {
                result.params_point_into_path = false;
            }
            if (r.param(p.name) != p.value) result.params_point_into_path = false;
            const std::optional<std::string_view> d = r.param_decoded(p.name);
            result.decoded.emplace_back(d.has_value(), d ? std::string(*d) : std::string());
        }
        return true;
    }

  private:
    const Router& router_;
};

Routed route(const Router& router, std::string_view method, std::string_view target) {
    const std::string text =
        std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    http::Limits limits;
    limits.max_target_size = 1 << 20;
    limits.max_head_size = 1 << 21;
    http::ParseContext ctx(limits);
    http::RequestParser parser;
    MatchingSink sink(router);
    const auto r = parser.feed(ctx, text.data(), text.size(), sink);
    EXPECT_EQ(r.outcome, http::RequestParser::Outcome::kNeedMore)
        << "could not parse " << text.substr(0, 200);
    EXPECT_TRUE(sink.result.parsed) << text.substr(0, 200);
    return sink.result;
}

// find() without a Request: the route id and the captured parameters.
struct Found {
    RouteId route = kNoRoute;
    Params params;
};

Found find(const Router& router, Method method, std::string_view path) {
    std::array<http::Param, http::Request::kMaxParams> params{};
    uint32_t count = 0;
    Found f;
    f.route = router.find(method, path, params.data(), &count);
    for (uint32_t i = 0; i < count; ++i) {
        f.params.emplace_back(std::string(params[i].name), std::string(params[i].value));
    }
    return f;
}

uint16_t bit(Method m) {
    return static_cast<uint16_t>(1u << static_cast<unsigned>(m));
}

// Registration errors: each throws std::invalid_argument whose message names the pattern and
// contains `why`.
void expect_rejected(Router& router, Method method, std::string_view pattern,
                     std::string_view why) {
    try {
        router.add(method, pattern);
        ADD_FAILURE() << "'" << pattern << "' was accepted";
    } catch (const std::invalid_argument& e) {
        const std::string msg = e.what();
        // Control and non-ASCII bytes are shown escaped (\xHH): look for the pattern up to the
        // first such byte.
        size_t printable = 0;
        while (printable < pattern.size() &&
               static_cast<unsigned char>(pattern[printable]) >= 0x20 &&
               static_cast<unsigned char>(pattern[printable]) < 0x7f) {
            ++printable;
        }
        EXPECT_NE(msg.find(std::string(pattern.substr(0, printable))), std::string::npos) << msg;
        EXPECT_NE(msg.find(std::string(why)), std::string::npos)
            << "'" << msg << "' does not say '" << why << "'";
    }
}

// ---- Ids and metadata ----

TEST(Router, AddReturnsDenseIdsFromZeroAcrossMethods) {
    Router router;
    EXPECT_EQ(router.route_count(), 0u);
    EXPECT_EQ(router.add(Method::kGet, "/a"), 0u);
    EXPECT_EQ(router.add(Method::kPost, "/a"), 1u);
    EXPECT_EQ(router.add(Method::kGet, "/b/:id"), 2u);
    EXPECT_EQ(router.add(Method::kDelete, "/*"), 3u);
    EXPECT_EQ(router.route_count(), 4u);
}

TEST(Router, RejectedRegistrationDoesNotConsumeAnId) {
    Router router;
    EXPECT_EQ(router.add(Method::kGet, "/users/:id"), 0u);
    EXPECT_THROW(router.add(Method::kGet, "/users/:id"), std::invalid_argument);
    EXPECT_THROW(router.add(Method::kGet, "/users/:name"), std::invalid_argument);
    EXPECT_THROW(router.add(Method::kGet, "bad"), std::invalid_argument);
    EXPECT_EQ(router.route_count(), 1u);
    EXPECT_EQ(router.add(Method::kGet, "/next"), 1u);
    EXPECT_EQ(route(router, "GET", "/users/7").route, 0u) << "the first registration stays";
    EXPECT_EQ(route(router, "GET", "/next").route, 1u);
}

TEST(Router, MetaPatternAndMethodReturnWhatWasRegistered) {
    Router router;
    const RouteId a = router.add(Method::kGet, "/users/:id", RouteMeta{7, HandlerKind::kNative, 3});
    const RouteId b = router.add(Method::kPatch, "/files/*", RouteMeta{1, HandlerKind::kFixed, 0});
    EXPECT_EQ(router.meta(a).handler, 7u);
    EXPECT_EQ(router.meta(a).kind, HandlerKind::kNative);
    EXPECT_EQ(router.meta(a).options, 3u);
    EXPECT_EQ(router.pattern(a), "/users/:id");
    EXPECT_EQ(router.method(a), Method::kGet);
    EXPECT_EQ(router.meta(b).handler, 1u);
    EXPECT_EQ(router.pattern(b), "/files/*");
    EXPECT_EQ(router.method(b), Method::kPatch);
}

TEST(Router, DefaultMetaIsNativeHandlerZero) {
    Router router;
    const RouteId id = router.add(Method::kGet, "/");
    EXPECT_EQ(router.meta(id).handler, 0u);
    EXPECT_EQ(router.meta(id).kind, HandlerKind::kNative);
    EXPECT_EQ(router.meta(id).options, 0u);
}

TEST(Router, EveryHandlerKindRoundTripsWithItsHandlerAndOptions) {
    Router router;
    const std::array<HandlerKind, 3> kinds = {HandlerKind::kNative, HandlerKind::kJavaScript,
                                              HandlerKind::kFixed};
    std::vector<RouteId> ids;
    for (size_t i = 0; i < kinds.size(); ++i) {
        const RouteMeta meta{static_cast<uint32_t>(0xFFFFFFF0u + i), kinds[i],
                             static_cast<uint32_t>(100 + i)};
        ids.push_back(router.add(Method::kGet, "/k" + std::to_string(i), meta));
    }
    for (size_t i = 0; i < kinds.size(); ++i) {
        const Routed r = route(router, "GET", "/k" + std::to_string(i));
        ASSERT_EQ(r.kind, Match::Kind::kFound);
        ASSERT_EQ(r.route, ids[i]);
        EXPECT_EQ(router.meta(r.route).kind, kinds[i]);
        EXPECT_EQ(router.meta(r.route).handler, 0xFFFFFFF0u + i);
        EXPECT_EQ(router.meta(r.route).options, 100 + i);
    }
}

TEST(Router, PatternIsKeptAsWrittenEvenWhenNormalised) {
    Router router(RouterOptions{.ignore_trailing_slash = true, .case_insensitive = true});
    const RouteId id = router.add(Method::kGet, "/Docs/");
    EXPECT_EQ(router.pattern(id), "/Docs/");
    EXPECT_TRUE(router.options().ignore_trailing_slash);
    EXPECT_TRUE(router.options().case_insensitive);
}

// ---- Static routes and the radix tree ----

TEST(Router, StaticRoutesMatchExactly) {
    Router router;
    const RouteId plain = router.add(Method::kGet, "/plaintext");
    const RouteId status = router.add(Method::kGet, "/api/v1/status");
    EXPECT_EQ(route(router, "GET", "/plaintext").route, plain);
    const Routed r = route(router, "GET", "/api/v1/status");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, status);
    EXPECT_TRUE(r.params.empty());
    EXPECT_EQ(route(router, "GET", "/api/v1").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/api/v1/status/more").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/plain").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/plaintextx").kind, Match::Kind::kNotFound);
}

TEST(Router, RootRouteMatchesOnlyTheRoot) {
    Router router;
    const RouteId root = router.add(Method::kGet, "/");
    router.add(Method::kGet, "/x");
    const Routed r = route(router, "GET", "/");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, root);
    EXPECT_EQ(route(router, "GET", "/y").kind, Match::Kind::kNotFound);

    Router without_root;
    without_root.add(Method::kGet, "/x");
    EXPECT_EQ(route(without_root, "GET", "/").kind, Match::Kind::kNotFound);
}

TEST(Router, RadixSplitKeepsEveryPrefixRouteReachable) {
    // Registered longest first and shortest first: each order splits the shared prefix differently.
    for (const bool longest_first : {true, false}) {
        Router router;
        std::vector<std::string> patterns = {"/abc", "/abd", "/ab", "/a"};
        if (!longest_first) patterns = {"/a", "/ab", "/abd", "/abc"};
        std::vector<RouteId> ids;
        for (const std::string& p : patterns)
            ids.push_back(router.add(Method::kGet, p));
        for (size_t i = 0; i < patterns.size(); ++i) {
            EXPECT_EQ(route(router, "GET", patterns[i]).route, ids[i])
                << patterns[i] << (longest_first ? " (longest first)" : " (shortest first)");
        }
        for (const char* miss : {"/abx", "/abcd", "/", "/b", "/abc/", "/aa", "/abdc"}) {
            EXPECT_EQ(route(router, "GET", miss).kind, Match::Kind::kNotFound) << miss;
        }
    }
}

// The static chars a pattern may hold (RFC 3986 pchar plus '/'); ':' is written "::".
std::string allowed_static_bytes() {
    std::string out;
    for (int c = 'a'; c <= 'z'; ++c)
        out += static_cast<char>(c);
    for (int c = 'A'; c <= 'Z'; ++c)
        out += static_cast<char>(c);
    for (int c = '0'; c <= '9'; ++c)
        out += static_cast<char>(c);
    out += "-._~!$&'()+,;=:@%/";
    return out;
}

TEST(Router, ChildBitmapFindsAChildForEveryAllowedFirstByte) {
    Router router;
    const std::string bytes = allowed_static_bytes();
    std::array<RouteId, 256> ids;
    ids.fill(kNoRoute);
    for (const char c : bytes) {
        const std::string pattern = c == ':' ? std::string("/x::") : std::string("/x") + c;
        ids[static_cast<unsigned char>(c)] = router.add(Method::kGet, pattern);
    }
    EXPECT_EQ(router.route_count(), bytes.size());
    for (unsigned c = 0; c < 256; ++c) {
        const std::string path = std::string("/x") + static_cast<char>(c);
        EXPECT_EQ(find(router, Method::kGet, path).route, ids[c]) << "byte " << c;
    }
    // Through the parser as well, for the bytes a request-target may carry verbatim.
    EXPECT_EQ(route(router, "GET", "/x~").route, ids['~']);
    EXPECT_EQ(route(router, "GET", "/x%").route, ids['%']);
    EXPECT_EQ(route(router, "GET", "/xZ").route, ids['Z']);
    EXPECT_EQ(route(router, "GET", "/x").kind, Match::Kind::kNotFound);
}

// ---- Parameters ----

TEST(Router, ParamCapturesTheSegmentAsAViewIntoThePath) {
    Router router;
    const RouteId id = router.add(Method::kGet, "/users/:id");
    const Routed r = route(router, "GET", "/users/42");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, id);
    EXPECT_EQ(r.params, (Params{{"id", "42"}}));
    EXPECT_TRUE(r.params_point_into_path);
}

TEST(Router, ParamDoesNotMatchAnEmptySegmentOrCrossASlash) {
    Router router;
    router.add(Method::kGet, "/users/:id");
    EXPECT_EQ(route(router, "GET", "/users/").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/users").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/users/1/2").kind, Match::Kind::kNotFound);
}

TEST(Router, SeveralParamsInSeparateSegmentsAreCapturedInOrder) {
    Router router;
    router.add(Method::kGet, "/users/:uid/posts/:pid");
    const Routed r = route(router, "GET", "/users/ann/posts/99");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.params, (Params{{"uid", "ann"}, {"pid", "99"}}));
    EXPECT_TRUE(r.params_point_into_path);
}

TEST(Router, StaticSegmentBeatsParam) {
    Router router;
    const RouteId param = router.add(Method::kGet, "/users/:id");
    const RouteId me = router.add(Method::kGet, "/users/me");
    const Routed r = route(router, "GET", "/users/me");
    EXPECT_EQ(r.route, me);
    EXPECT_TRUE(r.params.empty());
    const Routed other = route(router, "GET", "/users/mex");
    EXPECT_EQ(other.route, param) << "a static prefix of the segment is not a static match";
    EXPECT_EQ(other.params, (Params{{"id", "mex"}}));
}

TEST(Router, BacktracksFromADeadEndStaticBranchToTheParam) {
    Router router;
    const RouteId me = router.add(Method::kGet, "/users/me");
    const RouteId x = router.add(Method::kGet, "/users/:id/x");
    const Routed r = route(router, "GET", "/users/me/x");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, x);
    EXPECT_EQ(r.params, (Params{{"id", "me"}}));
    EXPECT_EQ(route(router, "GET", "/users/me").route, me);
    EXPECT_EQ(route(router, "GET", "/users/me/y").kind, Match::Kind::kNotFound);
}

TEST(Router, BacktrackingDropsParamsOfTheAbandonedBranch) {
    Router router;
    router.add(Method::kGet, "/a/:p/c");
    const RouteId q = router.add(Method::kGet, "/:q/b/d");
    const Routed r = route(router, "GET", "/a/b/d");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, q);
    EXPECT_EQ(r.params, (Params{{"q", "a"}})) << "no stale ':p' from the abandoned branch";
}

TEST(Router, ParamBeatsCatchAllForASingleSegment) {
    Router router;
    const RouteId file = router.add(Method::kGet, "/static/:file");
    const RouteId rest = router.add(Method::kGet, "/static/*");
    const Routed one = route(router, "GET", "/static/app.js");
    EXPECT_EQ(one.route, file);
    EXPECT_EQ(one.params, (Params{{"file", "app.js"}}));
    const Routed deep = route(router, "GET", "/static/css/app.css");
    EXPECT_EQ(deep.route, rest) << "the param cannot take two segments; the catch-all can";
    EXPECT_EQ(deep.params, (Params{{"*", "css/app.css"}}));
}

TEST(Router, CatchAllCapturesTheRestOfThePathIncludingNothing) {
    Router router;
    const RouteId id = router.add(Method::kGet, "/static/*");
    const Routed r = route(router, "GET", "/static/css/app.css");
    EXPECT_EQ(r.route, id);
    EXPECT_EQ(r.params, (Params{{"*", "css/app.css"}}));
    EXPECT_TRUE(r.params_point_into_path);
    const Routed empty = route(router, "GET", "/static/");
    EXPECT_EQ(empty.route, id);
    EXPECT_EQ(empty.params, (Params{{"*", ""}}));
    EXPECT_EQ(route(router, "GET", "/static").kind, Match::Kind::kNotFound)
        << "the '/' before '*' is static text";
    EXPECT_EQ(route(router, "GET", "/staticx").kind, Match::Kind::kNotFound);
}

TEST(Router, CatchAllAtTheRootTakesEveryPathNotRoutedOtherwise) {
    Router router;
    const RouteId all = router.add(Method::kGet, "/*");
    const RouteId api = router.add(Method::kGet, "/api/:v");
    EXPECT_EQ(route(router, "GET", "/").params, (Params{{"*", ""}}));
    EXPECT_EQ(route(router, "GET", "/a/b/c").params, (Params{{"*", "a/b/c"}}));
    EXPECT_EQ(route(router, "GET", "/api/2").route, api);
    const Routed fallback = route(router, "GET", "/api/2/more");
    EXPECT_EQ(fallback.route, all) << "backtracks out of the static and param branches";
    EXPECT_EQ(fallback.params, (Params{{"*", "api/2/more"}}));
}

TEST(Router, ParamWithStaticSuffixEndsWhereTheSuffixStarts) {
    Router router;
    const RouteId json = router.add(Method::kGet, "/files/:name.json");
    const Routed r = route(router, "GET", "/files/report.json");
    EXPECT_EQ(r.route, json);
    EXPECT_EQ(r.params, (Params{{"name", "report"}}));
    EXPECT_TRUE(r.params_point_into_path);
    EXPECT_EQ(route(router, "GET", "/files/a.b.json").params, (Params{{"name", "a.b"}}));
    EXPECT_EQ(route(router, "GET", "/files/report.json.json").params,
              (Params{{"name", "report.json"}}));
    EXPECT_EQ(route(router, "GET", "/files/report.xml").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/files/.json").kind, Match::Kind::kNotFound)
        << "the parameter needs at least one byte";
    EXPECT_EQ(route(router, "GET", "/files/report.json/").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/files/report").kind, Match::Kind::kNotFound);
}

TEST(Router, SuffixParamAndPlainParamShareAPosition) {
    Router router;
    const RouteId json = router.add(Method::kGet, "/files/:name.json");
    const RouteId xml = router.add(Method::kGet, "/files/:name.xml");
    const RouteId plain = router.add(Method::kGet, "/files/:name");
    const RouteId meta = router.add(Method::kGet, "/files/:name/meta");
    EXPECT_EQ(route(router, "GET", "/files/report.json").route, json);
    EXPECT_EQ(route(router, "GET", "/files/report.xml").route, xml);
    const Routed other = route(router, "GET", "/files/report.csv");
    EXPECT_EQ(other.route, plain);
    EXPECT_EQ(other.params, (Params{{"name", "report.csv"}}));
    const Routed m = route(router, "GET", "/files/a.json/meta");
    EXPECT_EQ(m.route, meta);
    EXPECT_EQ(m.params, (Params{{"name", "a.json"}}));
}

// The parameter child learns that its parameter may end inside the segment when a suffix
// route arrives, whichever order the routes are registered in.
TEST(Router, SuffixRouteAddedAfterASlashRouteStillMatches) {
    Router router;
    const RouteId meta = router.add(Method::kGet, "/files/:name/meta");
    const RouteId plain = router.add(Method::kGet, "/files/:name");
    const RouteId jpg = router.add(Method::kGet, "/files/:name.jpg");
    const RouteId json = router.add(Method::kGet, "/files/:name.json");
    EXPECT_EQ(route(router, "GET", "/files/a.b.jpg").params, (Params{{"name", "a.b"}}));
    EXPECT_EQ(route(router, "GET", "/files/a.jpg").route, jpg);
    EXPECT_EQ(route(router, "GET", "/files/a.json").route, json);
    EXPECT_EQ(route(router, "GET", "/files/a.jpeg").route, plain);
    EXPECT_EQ(route(router, "GET", "/files/a.jpg/meta").route, meta);
}

// With several parameters in one segment the first one ends at the FIRST occurrence of the
// separator that leads to a route (shortest first): in "1.5--2" the first '-' ends :lat, so
// :lng is "-2" (a negative longitude keeps its sign).
TEST(Router, SeveralParamsInOneSegmentSplitAtTheFirstSeparatorThatLeadsToARoute) {
    Router router;
    const RouteId geo = router.add(Method::kGet, "/geo/:lat-:lng");
    const Routed r = route(router, "GET", "/geo/1.5--2");
    EXPECT_EQ(r.route, geo);
    EXPECT_EQ(r.params, (Params{{"lat", "1.5"}, {"lng", "-2"}}));
    EXPECT_TRUE(r.params_point_into_path);
    EXPECT_EQ(route(router, "GET", "/geo/a-b-c").params, (Params{{"lat", "a"}, {"lng", "b-c"}}));
    EXPECT_EQ(route(router, "GET", "/geo/1-2").params, (Params{{"lat", "1"}, {"lng", "2"}}));
    EXPECT_EQ(route(router, "GET", "/geo/12").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/geo/1-").kind, Match::Kind::kNotFound)
        << ":lng needs at least one byte";
    EXPECT_EQ(route(router, "GET", "/geo/-2").kind, Match::Kind::kNotFound)
        << ":lat needs at least one byte, and no later '-' leaves one for :lng";
}

TEST(Router, DoubleColonIsALiteralColon) {
    Router router;
    const RouteId lit = router.add(Method::kGet, "/a::b");
    const RouteId action = router.add(Method::kPost, "/v1/:name::undelete");
    EXPECT_EQ(route(router, "GET", "/a:b").route, lit);
    EXPECT_EQ(route(router, "GET", "/a::b").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/ab").kind, Match::Kind::kNotFound);
    const Routed r = route(router, "POST", "/v1/shelf:undelete");
    EXPECT_EQ(r.route, action);
    EXPECT_EQ(r.params, (Params{{"name", "shelf"}}));
    EXPECT_EQ(router.pattern(lit), "/a::b");
}

// ---- Methods ----

TEST(Router, SamePathUnderDifferentMethodsGetsDifferentRoutes) {
    Router router;
    const RouteId get = router.add(Method::kGet, "/r/:id");
    const RouteId post = router.add(Method::kPost, "/r/:id");
    const RouteId patch = router.add(Method::kPatch, "/r/:id");
    EXPECT_NE(get, post);
    EXPECT_NE(post, patch);
    EXPECT_EQ(route(router, "GET", "/r/1").route, get);
    EXPECT_EQ(route(router, "POST", "/r/1").route, post);
    EXPECT_EQ(route(router, "PATCH", "/r/1").route, patch);
    EXPECT_EQ(route(router, "PUT", "/r/1").kind, Match::Kind::kMethodNotAllowed);
}

TEST(Router, ParamNamesMayDifferBetweenMethods) {
    Router router;
    router.add(Method::kGet, "/users/:id");
    EXPECT_NO_THROW(router.add(Method::kPost, "/users/:name"));
    EXPECT_EQ(route(router, "GET", "/users/1").params, (Params{{"id", "1"}}));
    EXPECT_EQ(route(router, "POST", "/users/1").params, (Params{{"name", "1"}}));
}

// find-my-way allows it and ported apps rely on it: the parameter node is shared, the names
// are each route's own.
TEST(Router, RoutesNameASharedParamPositionEachTheirOwnWay) {
    Router router;
    const RouteId user = router.add(Method::kGet, "/users/:id");
    const RouteId todos = router.add(Method::kGet, "/users/:userId/todos");
    const RouteId todo = router.add(Method::kGet, "/users/:owner/todos/:todoId");
    const RouteId file = router.add(Method::kGet, "/users/:who/files/*");
    const Routed a = route(router, "GET", "/users/7");
    EXPECT_EQ(a.route, user);
    EXPECT_EQ(a.params, (Params{{"id", "7"}}));
    EXPECT_TRUE(a.params_point_into_path);
    const Routed b = route(router, "GET", "/users/7/todos");
    EXPECT_EQ(b.route, todos);
    EXPECT_EQ(b.params, (Params{{"userId", "7"}}));
    const Routed c = route(router, "GET", "/users/7/todos/42");
    EXPECT_EQ(c.route, todo);
    EXPECT_EQ(c.params, (Params{{"owner", "7"}, {"todoId", "42"}}));
    const Routed d = route(router, "GET", "/users/7/files/a/b.txt");
    EXPECT_EQ(d.route, file);
    EXPECT_EQ(d.params, (Params{{"who", "7"}, {"*", "a/b.txt"}}));
    // Request::param() looks names up as the matched route spells them.
    EXPECT_EQ(route(router, "GET", "/users/7/todos/9").params.size(), 2u);
    EXPECT_EQ(find(router, Method::kGet, "/users/x/todos").params, (Params{{"userId", "x"}}));
}

TEST(Router, BacktrackingAcrossDifferentlyNamedParamsReportsTheWinnersNames) {
    Router router;
    // "/a/:x/c" fails on "/a/b/d" after its parameter took "b"; the route reached through the
    // other branch names its parameters itself.
    router.add(Method::kGet, "/a/:x/c");
    const RouteId q = router.add(Method::kGet, "/:first/:second/d");
    EXPECT_EQ(find(router, Method::kGet, "/a/b/d").route, q);
    EXPECT_EQ(find(router, Method::kGet, "/a/b/d").params,
              (Params{{"first", "a"}, {"second", "b"}}));
}

TEST(Router, SuffixParamsNameASharedPositionPerRoute) {
    Router router;
    const RouteId json = router.add(Method::kGet, "/files/:name.json");
    const RouteId geo = router.add(Method::kGet, "/files/:lat-:lng");
    const RouteId plain = router.add(Method::kGet, "/files/:fileId");
    EXPECT_EQ(find(router, Method::kGet, "/files/a.json").route, json);
    EXPECT_EQ(find(router, Method::kGet, "/files/a.json").params, (Params{{"name", "a"}}));
    EXPECT_EQ(find(router, Method::kGet, "/files/1-2").route, geo);
    EXPECT_EQ(find(router, Method::kGet, "/files/1-2").params, (Params{{"lat", "1"}, {"lng", "2"}}));
    EXPECT_EQ(find(router, Method::kGet, "/files/abc").route, plain);
    EXPECT_EQ(find(router, Method::kGet, "/files/abc").params, (Params{{"fileId", "abc"}}));
}

TEST(Router, PathRegisteredOnlyUnderPostIsMethodNotAllowedForGet) {
    Router router;
    router.add(Method::kPost, "/form");
    const Routed r = route(router, "GET", "/form");
    EXPECT_EQ(r.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(r.route, kNoRoute);
    EXPECT_EQ(r.allowed, bit(Method::kPost));
    EXPECT_EQ(Router::allow_header(r.allowed), "POST, OPTIONS");
}

TEST(Router, StaticNodeUnderAnotherMethodDoesNotHideTheParamRoute) {
    Router router;
    router.add(Method::kPost, "/items/new");
    const RouteId get = router.add(Method::kGet, "/items/:id");
    const Routed r = route(router, "GET", "/items/new");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, get);
    EXPECT_EQ(r.params, (Params{{"id", "new"}}));
}

TEST(Router, UnknownPathIsNotFound) {
    Router router;
    router.add(Method::kGet, "/json");
    router.add(Method::kPost, "/form");
    const Routed r = route(router, "GET", "/nope");
    EXPECT_EQ(r.kind, Match::Kind::kNotFound);
    EXPECT_EQ(r.route, kNoRoute);
    EXPECT_EQ(r.allowed, 0);
    EXPECT_TRUE(r.params.empty());
    EXPECT_EQ(route(router, "DELETE", "/nope").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(Router(), "GET", "/").kind, Match::Kind::kNotFound) << "an empty router";
}

TEST(Router, WrongMethodIsMethodNotAllowedWithTheAllowedMaskAndHeader) {
    Router router;
    router.add(Method::kGet, "/json");
    const Routed r = route(router, "DELETE", "/json");
    EXPECT_EQ(r.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(r.allowed, bit(Method::kGet));
    EXPECT_EQ(Router::allow_header(r.allowed), "GET, HEAD, OPTIONS");

    router.add(Method::kPost, "/json");
    const Routed both = route(router, "PUT", "/json");
    EXPECT_EQ(both.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(both.allowed, bit(Method::kGet) | bit(Method::kPost));
    EXPECT_EQ(Router::allow_header(both.allowed), "GET, HEAD, POST, OPTIONS");
}

TEST(Router, MethodNotAllowedMaskCoversParamAndCatchAllRoutes) {
    Router router;
    router.add(Method::kPut, "/users/:id");
    router.add(Method::kDelete, "/users/*");
    const Routed r = route(router, "GET", "/users/5");
    EXPECT_EQ(r.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(r.allowed, bit(Method::kPut) | bit(Method::kDelete));
    EXPECT_EQ(Router::allow_header(r.allowed), "PUT, DELETE, OPTIONS");
    EXPECT_TRUE(r.params.empty()) << "no parameters are reported without a match";
    EXPECT_EQ(route(router, "GET", "/users/5/6").allowed, bit(Method::kDelete));
}

TEST(Router, AllowHeaderListsHeadWithGetAndAlwaysOptionsInAFixedOrder) {
    EXPECT_EQ(Router::allow_header(0), "OPTIONS");
    EXPECT_EQ(Router::allow_header(bit(Method::kPost)), "POST, OPTIONS");
    EXPECT_EQ(Router::allow_header(bit(Method::kGet)), "GET, HEAD, OPTIONS");
    EXPECT_EQ(Router::allow_header(bit(Method::kHead)), "HEAD, OPTIONS");
    EXPECT_EQ(Router::allow_header(bit(Method::kOptions)), "OPTIONS") << "listed once";
    EXPECT_EQ(Router::allow_header(bit(Method::kPatch) | bit(Method::kGet)),
              "GET, HEAD, OPTIONS, PATCH");
    uint16_t all = 0;
    for (unsigned i = 0; i < http::kRoutableMethods; ++i)
        all |= static_cast<uint16_t>(1u << i);
    EXPECT_EQ(Router::allow_header(all),
              "GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH");
}

TEST(Router, HeadFallsBackToGet) {
    Router router;
    const RouteId get = router.add(Method::kGet, "/users/:id");
    const Routed r = route(router, "HEAD", "/users/9");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, get);
    EXPECT_EQ(r.params, (Params{{"id", "9"}}));
}

TEST(Router, ExplicitHeadRouteWinsOverGet) {
    Router router;
    const RouteId get = router.add(Method::kGet, "/x");
    const RouteId head = router.add(Method::kHead, "/x");
    EXPECT_EQ(route(router, "HEAD", "/x").route, head);
    EXPECT_EQ(route(router, "GET", "/x").route, get);
}

TEST(Router, HeadWithoutGetIsMethodNotAllowed) {
    Router router;
    router.add(Method::kPost, "/form");
    const Routed r = route(router, "HEAD", "/form");
    EXPECT_EQ(r.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(Router::allow_header(r.allowed), "POST, OPTIONS");
}

TEST(Router, FindDoesNotFallBackFromHeadToGet) {
    Router router;
    router.add(Method::kGet, "/x");
    EXPECT_EQ(find(router, Method::kHead, "/x").route, kNoRoute)
        << "the fallback belongs to match()";
}

TEST(Router, OptionsWithoutAnOptionsRouteReportsTheAllowedMethods) {
    Router router;
    router.add(Method::kGet, "/users/:id");
    router.add(Method::kPost, "/users/:id");
    const Routed r = route(router, "OPTIONS", "/users/3");
    EXPECT_EQ(r.kind, Match::Kind::kOptions);
    EXPECT_EQ(r.route, kNoRoute);
    EXPECT_EQ(r.allowed, bit(Method::kGet) | bit(Method::kPost));
    EXPECT_TRUE(r.params.empty());
    EXPECT_EQ(Router::allow_header(r.allowed), "GET, HEAD, POST, OPTIONS");
}

TEST(Router, OptionsRouteIsFoundLikeAnyOther) {
    Router router;
    router.add(Method::kGet, "/cors/:id");
    const RouteId options = router.add(Method::kOptions, "/cors/:id");
    const Routed r = route(router, "OPTIONS", "/cors/1");
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, options);
    EXPECT_EQ(r.params, (Params{{"id", "1"}}));
}

TEST(Router, OptionsOnAnUnknownPathIsNotFound) {
    Router router;
    router.add(Method::kGet, "/x");
    EXPECT_EQ(route(router, "OPTIONS", "/y").kind, Match::Kind::kNotFound);
}

TEST(Router, OptionsAsteriskListsEveryMethodWithARoute) {
    Router router;
    router.add(Method::kGet, "/a");
    router.add(Method::kPut, "/b/:id");
    router.add(Method::kPatch, "/c/*");
    const Routed r = route(router, "OPTIONS", "*");
    EXPECT_EQ(r.kind, Match::Kind::kOptions);
    EXPECT_EQ(r.allowed, bit(Method::kGet) | bit(Method::kPut) | bit(Method::kPatch));
    EXPECT_EQ(Router::allow_header(r.allowed), "GET, HEAD, PUT, OPTIONS, PATCH");
    EXPECT_EQ(route(Router(), "OPTIONS", "*").kind, Match::Kind::kNotFound) << "no routes at all";
}

// RFC 9110 15.5.6: a 405 says the request's method is not supported by the target, and Allow
// lists the ones that are; listing the request's own method contradicts the status. The
// asterisk-form target "*" is meaningful for OPTIONS only (RFC 9112 3.2.4).
TEST(Router, MethodNotAllowedNeverListsTheRequestedMethod) {
    Router router;
    router.add(Method::kGet, "/a");
    router.add(Method::kPost, "/b");
    const Routed put = route(router, "PUT", "/a");
    EXPECT_EQ(put.kind, Match::Kind::kMethodNotAllowed);
    EXPECT_EQ(put.allowed & bit(Method::kPut), 0);
    // A "*" target with another method than OPTIONS is answered 400 by the parser and never
    // routed (tests/conformance/cases/rl-asterisk-form-get.case); the router finds no route for
    // it either.
    for (const Method m : {Method::kGet, Method::kHead, Method::kPost}) {
        EXPECT_EQ(find(router, m, "*").route, kNoRoute) << method_name(m) << " *";
    }
}

TEST(Router, AllowedMethodsListsTheMethodsWithARouteForThePath) {
    Router router;
    router.add(Method::kGet, "/users/:id");
    router.add(Method::kDelete, "/users/:id");
    router.add(Method::kPost, "/users");
    EXPECT_EQ(router.allowed_methods("/users/1"), bit(Method::kGet) | bit(Method::kDelete));
    EXPECT_EQ(router.allowed_methods("/users"), bit(Method::kPost));
    EXPECT_EQ(router.allowed_methods("/nope"), 0);
    EXPECT_EQ(router.allowed_methods("*"),
              bit(Method::kGet) | bit(Method::kDelete) | bit(Method::kPost));
}

TEST(Router, UnroutableMethodIsNotImplemented) {
    Router router;
    router.add(Method::kGet, "/dav");
    const Routed r = route(router, "PROPFIND", "/dav");
    EXPECT_EQ(r.kind, Match::Kind::kNotImplemented);
    EXPECT_EQ(r.route, kNoRoute);
    EXPECT_EQ(route(router, "PROPFIND", "/nowhere").kind, Match::Kind::kNotImplemented);
    EXPECT_EQ(find(router, Method::kOther, "/dav").route, kNoRoute);
}

TEST(Router, ARouteForOtherMethodsTakesEveryMethodTheEngineDoesNotName) {
    Router router;
    const RouteId get = router.add(Method::kGet, "/dav/*");
    const RouteId other = router.add(Method::kOther, "/dav/*");
    const Routed propfind = route(router, "PROPFIND", "/dav/a/b");
    EXPECT_EQ(propfind.kind, Match::Kind::kFound);
    EXPECT_EQ(propfind.route, other);
    EXPECT_EQ(route(router, "MKCOL", "/dav/x").route, other);
    EXPECT_EQ(route(router, "GET", "/dav/x").route, get);
    // Elsewhere the path has no route for it: as for a method without a route, 404.
    EXPECT_EQ(route(router, "PROPFIND", "/elsewhere").kind, Match::Kind::kNotFound);
    // Other methods are never listed in Allow.
    EXPECT_EQ(router.allowed_methods("/dav/x"), bit(Method::kGet));
}

// ---- Options: trailing slash and case ----

TEST(Router, TrailingSlashIsStrictByDefault) {
    Router router;
    const RouteId a = router.add(Method::kGet, "/a");
    const RouteId a_slash = router.add(Method::kGet, "/a/");
    const RouteId b_slash = router.add(Method::kGet, "/b/");
    EXPECT_NE(a, a_slash);
    EXPECT_EQ(route(router, "GET", "/a").route, a);
    EXPECT_EQ(route(router, "GET", "/a/").route, a_slash);
    EXPECT_EQ(route(router, "GET", "/b/").route, b_slash);
    EXPECT_EQ(route(router, "GET", "/b").kind, Match::Kind::kNotFound);
}

TEST(Router, IgnoreTrailingSlashMatchesBothForms) {
    Router router(RouterOptions{.ignore_trailing_slash = true});
    const RouteId a = router.add(Method::kGet, "/a");
    const RouteId b = router.add(Method::kGet, "/b/");
    const RouteId user = router.add(Method::kGet, "/users/:id");
    EXPECT_EQ(route(router, "GET", "/a").route, a);
    EXPECT_EQ(route(router, "GET", "/a/").route, a);
    EXPECT_EQ(route(router, "GET", "/b").route, b);
    EXPECT_EQ(route(router, "GET", "/b/").route, b);
    const Routed r = route(router, "GET", "/users/5/");
    EXPECT_EQ(r.route, user);
    EXPECT_EQ(r.params, (Params{{"id", "5"}})) << "the dropped '/' is not part of the value";
    EXPECT_EQ(route(router, "GET", "/a//").kind, Match::Kind::kNotFound) << "only one '/'";
}

TEST(Router, IgnoreTrailingSlashMakesBothFormsADuplicate) {
    Router router(RouterOptions{.ignore_trailing_slash = true});
    router.add(Method::kGet, "/a");
    expect_rejected(router, Method::kGet, "/a/", "already registered");
    router.add(Method::kGet, "/b/");
    expect_rejected(router, Method::kGet, "/b", "already registered");
    EXPECT_EQ(router.route_count(), 2u);
}

TEST(Router, IgnoreTrailingSlashKeepsTheRootRoute) {
    Router router(RouterOptions{.ignore_trailing_slash = true});
    const RouteId root = router.add(Method::kGet, "/");
    EXPECT_EQ(route(router, "GET", "/").route, root);
}

// "/static/" matches "/static/*" (with "" captured) under the default options; making trailing
// slashes optional must not take that match away.
TEST(Router, IgnoreTrailingSlashStillMatchesTheCatchAllBase) {
    Router router(RouterOptions{.ignore_trailing_slash = true});
    const RouteId id = router.add(Method::kGet, "/static/*");
    EXPECT_EQ(route(router, "GET", "/static/css/app.css").route, id);
    const Routed base = route(router, "GET", "/static/");
    EXPECT_EQ(base.kind, Match::Kind::kFound);
    EXPECT_EQ(base.route, id);
    EXPECT_EQ(base.params, (Params{{"*", ""}}));
}

TEST(Router, MatchingIsCaseSensitiveByDefault) {
    Router router;
    const RouteId upper = router.add(Method::kGet, "/Users");
    const RouteId lower = router.add(Method::kGet, "/users");
    EXPECT_NE(upper, lower);
    EXPECT_EQ(route(router, "GET", "/Users").route, upper);
    EXPECT_EQ(route(router, "GET", "/users").route, lower);
    EXPECT_EQ(route(router, "GET", "/USERS").kind, Match::Kind::kNotFound);
}

TEST(Router, CaseInsensitiveMatchesStaticTextInAnyCaseAndKeepsParamCase) {
    Router router(RouterOptions{.case_insensitive = true});
    const RouteId profile = router.add(Method::kGet, "/Users/:id/Profile");
    const RouteId json = router.add(Method::kGet, "/files/:name.JSON");
    for (const char* path : {"/users/AbC/profile", "/USERS/AbC/PROFILE", "/uSeRs/AbC/pRoFiLe"}) {
        const Routed r = route(router, "GET", path);
        EXPECT_EQ(r.route, profile) << path;
        EXPECT_EQ(r.params, (Params{{"id", "AbC"}})) << path;
        EXPECT_TRUE(r.params_point_into_path);
    }
    const Routed f = route(router, "GET", "/Files/Report.json");
    EXPECT_EQ(f.route, json);
    EXPECT_EQ(f.params, (Params{{"name", "Report"}}));
    EXPECT_EQ(route(router, "GET", "/users/x/profil").kind, Match::Kind::kNotFound);
}

TEST(Router, CaseInsensitiveRoutesDifferingOnlyInCaseAreDuplicates) {
    Router router(RouterOptions{.case_insensitive = true});
    router.add(Method::kGet, "/About");
    expect_rejected(router, Method::kGet, "/about", "already registered");
}

// ---- The path: query, percent-encoding, size ----

TEST(Router, QueryStringIsNotPartOfTheMatch) {
    Router router;
    const RouteId search = router.add(Method::kGet, "/search");
    const RouteId file = router.add(Method::kGet, "/files/:name");
    EXPECT_EQ(route(router, "GET", "/search?q=a/b").route, search);
    EXPECT_EQ(route(router, "GET", "/search?").route, search);
    const Routed r = route(router, "GET", "/files/a.txt?download=1");
    EXPECT_EQ(r.route, file);
    EXPECT_EQ(r.params, (Params{{"name", "a.txt"}}));
    EXPECT_EQ(route(router, "GET", "/?x=1").kind, Match::Kind::kNotFound);
}

TEST(Router, PercentEncodedPathsAreMatchedRaw) {
    Router router;
    const RouteId cafe = router.add(Method::kGet, "/caf%C3%A9");
    EXPECT_EQ(route(router, "GET", "/caf%C3%A9").route, cafe);
    EXPECT_EQ(find(router, Method::kGet, "/caf\xC3\xA9").route, kNoRoute)
        << "the path is not decoded before matching";
    EXPECT_EQ(route(router, "GET", "/caf%c3%a9").kind, Match::Kind::kNotFound)
        << "escapes are compared byte for byte";
}

TEST(Router, ParamValuesAreRawAndParamDecodedDecodesThem) {
    Router router;
    router.add(Method::kGet, "/files/:name");
    const Routed r = route(router, "GET", "/files/a%20b%2Fc%C3%A9");
    EXPECT_EQ(r.params, (Params{{"name", "a%20b%2Fc%C3%A9"}}));
    ASSERT_EQ(r.decoded.size(), 1u);
    EXPECT_TRUE(r.decoded[0].first);
    EXPECT_EQ(r.decoded[0].second, "a b/c\xC3\xA9") << "%2F decodes to '/' inside the value";
}

TEST(Router, ParamDecodedFailsOnAMalformedEscape) {
    Router router;
    router.add(Method::kGet, "/files/:name");
    const Routed r = route(router, "GET", "/files/%G1");
    ASSERT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.params, (Params{{"name", "%G1"}})) << "matching itself does not decode";
    ASSERT_EQ(r.decoded.size(), 1u);
    EXPECT_FALSE(r.decoded[0].first);
}

TEST(Router, ParamDecodedIsFalseForAParameterTheRouteDoesNotHave) {
    Router router;
    router.add(Method::kGet, "/files/:name");
    bool checked = false;
    class Sink final : public http::RequestSink {
      public:
        Sink(const Router& r, bool* checked) : router_(r), checked_(checked) {}
        bool on_request(http::Request& req) noexcept override {
            router_.match(req);
            EXPECT_FALSE(req.param_decoded("other").has_value());
            EXPECT_EQ(req.param("other"), "");
            *checked_ = true;
            return true;
        }

      private:
        const Router& router_;
        bool* checked_;
    } sink(router, &checked);
    const std::string text = "GET /files/x HTTP/1.1\r\nHost: x\r\n\r\n";
    const http::Limits limits;
    http::ParseContext ctx(limits);
    http::RequestParser parser;
    parser.feed(ctx, text.data(), text.size(), sink);
    EXPECT_TRUE(checked);
}

TEST(Router, PercentDecodeDecodesValidEscapes) {
    std::string out;
    EXPECT_TRUE(http::percent_decode("a%20b", &out));
    EXPECT_EQ(out, "a b");
    EXPECT_TRUE(http::percent_decode("caf%C3%A9", &out));
    EXPECT_EQ(out, "caf\xC3\xA9");
    EXPECT_TRUE(http::percent_decode("%c3%a9", &out));
    EXPECT_EQ(out, "\xC3\xA9") << "lower-case hex digits";
    EXPECT_TRUE(http::percent_decode("a+b", &out));
    EXPECT_EQ(out, "a+b") << "'+' is not a space in a path";
    EXPECT_TRUE(http::percent_decode("%25", &out));
    EXPECT_EQ(out, "%");
    EXPECT_TRUE(http::percent_decode("%00", &out));
    EXPECT_EQ(out, std::string(1, '\0'));
    EXPECT_TRUE(http::percent_decode("", &out));
    EXPECT_EQ(out, "");
}

TEST(Router, PercentDecodeKeepsAnEncodedSlashAsASlash) {
    std::string out;
    EXPECT_TRUE(http::percent_decode("a%2Fb%2fc", &out));
    EXPECT_EQ(out, "a/b/c");
}

TEST(Router, PercentDecodeRejectsMalformedEscapes) {
    std::string out;
    for (const char* bad : {"%G1", "%1G", "%2", "%", "a%", "ab%2", "%%", "%%41", "% 1"}) {
        EXPECT_FALSE(http::percent_decode(bad, &out)) << bad;
    }
}

TEST(Router, VeryLongPathMissesWithoutCrashing) {
    Router router;
    router.add(Method::kGet, "/files/:name.json");
    router.add(Method::kGet, "/a/b");
    const std::string long_path = "/" + std::string(64 * 1024, 'y');
    EXPECT_EQ(route(router, "GET", long_path).kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", "/files/" + std::string(64 * 1024, '.')).kind,
              Match::Kind::kNotFound)
        << "a suffix parameter tries every '.' of the segment";
    std::string deep;
    while (deep.size() < 64 * 1024)
        deep += "/a";
    EXPECT_EQ(route(router, "GET", deep).kind, Match::Kind::kNotFound);
}

TEST(Router, CatchAllCapturesAVeryLongPathWhole) {
    Router router;
    router.add(Method::kGet, "/dl/*");
    std::string rest;
    while (rest.size() < 64 * 1024)
        rest += "segment/";
    const Routed r = route(router, "GET", "/dl/" + rest);
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    ASSERT_EQ(r.params.size(), 1u);
    EXPECT_EQ(r.params[0].second, rest);
    EXPECT_TRUE(r.params_point_into_path);
}

TEST(Router, RouteWithTwoHundredSegmentsMatches) {
    Router router;
    std::string pattern;
    for (int i = 0; i < 200; ++i)
        pattern += "/seg" + std::to_string(i);
    const RouteId id = router.add(Method::kGet, pattern);
    EXPECT_EQ(route(router, "GET", pattern).route, id);
    EXPECT_EQ(route(router, "GET", pattern + "/extra").kind, Match::Kind::kNotFound);
    EXPECT_EQ(route(router, "GET", pattern.substr(0, pattern.size() - 1)).kind,
              Match::Kind::kNotFound);
}

TEST(Router, SixteenParamsAreAllCapturedInOrder) {
    Router router;
    std::string pattern;
    std::string path;
    Params expected;
    for (int i = 0; i < 16; ++i) {
        pattern += "/s" + std::to_string(i) + "/:p" + std::to_string(i);
        path += "/s" + std::to_string(i) + "/v" + std::to_string(i);
        expected.emplace_back("p" + std::to_string(i), "v" + std::to_string(i));
    }
    const RouteId id = router.add(Method::kGet, pattern);
    const Routed r = route(router, "GET", path);
    EXPECT_EQ(r.kind, Match::Kind::kFound);
    EXPECT_EQ(r.route, id);
    EXPECT_EQ(r.params, expected);
    EXPECT_TRUE(r.params_point_into_path);
    EXPECT_EQ(find(router, Method::kGet, path).params, expected);
}

// Several parameters in one segment try every split point of the segment, and the splits of
// each parameter multiply: a failing path must not make the work grow as length^(params-1).
// The match runs in a child process so that a runaway search is killed at the deadline rather
// than hanging the test binary; a linear matcher needs well under a millisecond here.
TEST(Router, ManyParamsInOneSegmentDoNotCauseRunawayBacktracking) {
    Router router;
    router.add(Method::kGet, "/at/:year-:month-:day-:hour-:minute-:second/events");
    std::string path = "/at/";
    for (int i = 0; i < 200; ++i)
        path += "1-";
    path += "1/nope";  // 406 bytes, well under the default 8 KiB target limit
    const pid_t child = fork();
    ASSERT_GE(child, 0) << "fork failed";
    if (child == 0) {
        const RouteId r = find(router, Method::kGet, path).route;
        _exit(r == kNoRoute ? 0 : 1);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(child, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (done == 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        FAIL() << "matching a " << path.size() << "-byte path against a six-parameter segment "
               << "did not finish within 10 s";
    }
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "the path must not match";
}

// ---- Registration errors ----

TEST(Router, DuplicateRouteIsRejected) {
    Router router;
    router.add(Method::kGet, "/users/:id");
    router.add(Method::kGet, "/static/*");
    expect_rejected(router, Method::kGet, "/users/:id", "already registered");
    expect_rejected(router, Method::kGet, "/static/*", "already registered");
    EXPECT_EQ(router.route_count(), 2u);
}

TEST(Router, SamePathWithAnotherParamNameIsADuplicate) {
    Router router;
    router.add(Method::kGet, "/users/:id");
    expect_rejected(router, Method::kGet, "/users/:name", "already registered");
    EXPECT_EQ(router.route_count(), 1u);
}

TEST(Router, SameParamNameTwiceInOnePatternIsRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "/a/:id/b/:id", "':id' appears twice");
}

TEST(Router, CatchAllMustBeTheLastCharacter) {
    Router router;
    expect_rejected(router, Method::kGet, "/a/*/b", "must be the last");
    expect_rejected(router, Method::kGet, "/a*b", "must be the last");
    expect_rejected(router, Method::kGet, "/**", "must be the last");
}

TEST(Router, CatchAllDirectlyAfterAParamIsRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "/:name*", "directly follows a parameter");
}

TEST(Router, ParamDirectlyAfterAParamIsRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "/:a:b", "directly follows another parameter");
}

TEST(Router, EmptyParamNameIsRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "/:", "needs a name");
    expect_rejected(router, Method::kGet, "/:/x", "needs a name");
    expect_rejected(router, Method::kGet, "/users/:-x", "needs a name");
}

TEST(Router, InvalidCharactersAreRejected) {
    Router router;
    for (const std::string& pattern :
         {std::string("/with space"), std::string("/q?x=1"), std::string("/hash#frag"),
          std::string("/quote\"d"), std::string("/caf\xC3\xA9"), std::string("/ctl\x01"),
          std::string("/del\x7F"), std::string("/tab\t"), std::string("/back\\slash"),
          std::string("/<tag>"), std::string("/a|b")}) {
        expect_rejected(router, Method::kGet, pattern, "is not allowed in a path");
    }
    EXPECT_EQ(router.route_count(), 0u);
}

// what() is a C string: a NUL byte copied raw from the pattern into the message would cut it
// short before the reason.
TEST(Router, NulByteInAPatternIsRejectedWithTheWholeReason) {
    Router router;
    const std::string pattern = std::string("/nul") + '\0' + "x";
    try {
        router.add(Method::kGet, pattern);
        ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string_view(e.what()).find("is not allowed in a path"), std::string::npos)
            << "what() is '" << e.what() << "'";
    }
    EXPECT_EQ(router.route_count(), 0u);
}

// A byte that cannot be printed is shown as "\\xHH": hexadecimal, as the "\\x" prefix says
// (either letter case), so the message points at the right byte.
TEST(Router, InvalidByteIsShownInHexInTheMessage) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"/a b", "\\x20"}, {"/ctl\x01", "\\x01"}, {"/caf\xC3\xA9", "\\xc3"}, {"/del\x7F", "\\x7f"}};
    Router router;
    for (const auto& [pattern, shown] : cases) {
        try {
            router.add(Method::kGet, pattern);
            ADD_FAILURE() << "accepted";
        } catch (const std::invalid_argument& e) {
            std::string lower = e.what();
            for (char& ch : lower)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            EXPECT_NE(lower.find(shown), std::string::npos)
                << "'" << e.what() << "' does not show the byte as " << shown;
        }
    }
}

TEST(Router, MoreThanSixteenParamsAreRejected) {
    Router router;
    std::string ok;
    for (int i = 0; i < 16; ++i)
        ok += "/:p" + std::to_string(i);
    EXPECT_NO_THROW(router.add(Method::kGet, ok));
    // Under another method so that only the count can be wrong.
    expect_rejected(router, Method::kPost, ok + "/:p16", "more than 16");
}

// A catch-all is captured as parameter "*", so it takes one of the kMaxParams slots: sixteen
// named parameters plus '*' would need seventeen and overrun Request's parameter array.
TEST(Router, CatchAllCountsTowardsTheParamLimit) {
    Router router;
    std::string sixteen;
    for (int i = 0; i < 16; ++i)
        sixteen += "/:p" + std::to_string(i);
    std::string fifteen;
    for (int i = 0; i < 15; ++i)
        fifteen += "/:p" + std::to_string(i);
    EXPECT_NO_THROW(router.add(Method::kGet, fifteen + "/*"));
    // Deliberately no matching here: if add() wrongly accepts, a match would write past the end.
    expect_rejected(router, Method::kPost, sixteen + "/*", "more than 16");
}

TEST(Router, PatternWithoutLeadingSlashIsRejected) {
    Router router;
    expect_rejected(router, Method::kGet, "users", "must start with '/'");
    expect_rejected(router, Method::kGet, "", "must start with '/'");
    expect_rejected(router, Method::kGet, "*", "must start with '/'");
    expect_rejected(router, Method::kGet, ":id", "must start with '/'");
}

TEST(Router, MessageNamesTheMethod) {
    Router router;
    try {
        router.add(Method::kDelete, "nope");
        ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("DELETE"), std::string::npos) << e.what();
    }
}

// ---- Lifetime ----

TEST(Router, RouterCanBeMoved) {
    Router a(RouterOptions{.case_insensitive = true});
    const RouteId id = a.add(Method::kGet, "/moved/:x");
    Router b(std::move(a));
    EXPECT_EQ(route(b, "GET", "/MOVED/1").route, id);
    Router c;
    c = std::move(b);
    EXPECT_EQ(route(c, "GET", "/moved/1").route, id);
    EXPECT_EQ(c.route_count(), 1u);
    EXPECT_TRUE(c.options().case_insensitive);
}

}  // namespace
}  // namespace nexure::net::router
