// Fuzz target: the router (net/router/router.h) built from input patterns and asked for input
// paths.
//
// Input: the first byte chooses the options (bit 0 ignore_trailing_slash, bit 1
// case_insensitive; the digits '0'-'3' spell them in a text file), and the rest, after an
// optional newline, is lines: route patterns, an empty line, then paths. Each line is
// "METHOD SP text" or just "text" (GET). Invalid patterns must throw std::invalid_argument and
// nothing else.
//
// Checked: every route that was added is found again by a path made from its own pattern (each
// parameter filled with "v", the catch-all with "z"; a static pattern finds exactly its own
// route); parameter values are views into the path; match() over a parsed request agrees with
// find() and allowed_methods(), and its parameters decode into the request's scratch memory.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/result.h"
#include "net/http/limits.h"
#include "net/http/method.h"
#include "net/http/parser.h"
#include "net/http/request.h"
#include "net/router/router.h"

namespace nexure::net {
namespace {

using http::Method;
using router::kNoRoute;
using router::RouteId;
using router::Router;

constexpr size_t kMaxPatterns = 48;
constexpr size_t kMaxPaths = 48;

struct Line {
    Method method;
    std::string_view word;  // the method as written
    std::string_view text;
};

// "GET /a" -> {GET, "/a"}; "BREW /a" -> {kOther, "/a"}; "/a" -> {GET, "/a"}.
Line split_line(std::string_view line) noexcept {
    const Line whole{Method::kGet, "GET", line};
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0) return whole;
    const std::string_view word = line.substr(0, sp);
    Method m;
    if (http::parse_method(word, &m)) return {m, word, line.substr(sp + 1)};
    for (char c : word) {
        if (c < 'A' || c > 'Z') return whole;
    }
    return {Method::kOther, word, line.substr(sp + 1)};
}

bool name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// A path the pattern matches: "::" -> ":", ":name" -> "v", "*" -> "z". Sets *is_static when the
// pattern has neither parameters nor a catch-all.
std::string instantiate(std::string_view pattern, bool* is_static) {
    std::string path;
    *is_static = true;
    for (size_t i = 0; i < pattern.size();) {
        if (pattern[i] == ':' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
            path += ':';
            i += 2;
        } else if (pattern[i] == ':') {
            path += 'v';
            *is_static = false;
            for (++i; i < pattern.size() && name_char(pattern[i]); ++i) {
            }
        } else if (pattern[i] == '*') {
            path += 'z';
            *is_static = false;
            ++i;
        } else {
            path += pattern[i++];
        }
    }
    return path;
}

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Whether `raw` percent-decodes (RFC 3986 2.1) to `decoded`; with nullopt, whether `raw` has a
// '%' not followed by two hex digits.
bool decodes_to(std::string_view raw, std::optional<std::string_view> decoded) noexcept {
    std::string_view out = decoded.value_or("");
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%') {
            const int hi = i + 1 < raw.size() ? hex_digit(raw[i + 1]) : -1;
            const int lo = i + 2 < raw.size() ? hex_digit(raw[i + 2]) : -1;
            if (hi < 0 || lo < 0) return !decoded.has_value();
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        if (decoded) {
            if (out.empty() || out.front() != c) return false;
            out.remove_prefix(1);
        }
    }
    return decoded.has_value() && out.empty();
}

void check_params(std::string_view path, const http::Param* params, uint32_t count) noexcept {
    NEXURE_CHECK(count <= http::Request::kMaxParams);
    for (uint32_t i = 0; i < count; ++i) {
        NEXURE_CHECK(!params[i].name.empty());
        const std::string_view v = params[i].value;
        NEXURE_CHECK(v.empty() ||
                     (v.data() >= path.data() && v.data() + v.size() <= path.data() + path.size()));
    }
}

// Runs match() on each request it is handed and checks it against the lower-level calls.
class MatchingSink final : public http::RequestSink {
  public:
    explicit MatchingSink(const Router& router) noexcept : router_(router) {}

    bool on_request(http::Request& r) noexcept override {
        const router::Match m = router_.match(r);
        const std::string_view path = r.path();
        switch (m.kind) {
            case router::Match::Kind::kFound: {
                NEXURE_CHECK(m.route < router_.route_count());
                const Method routed = router_.method(m.route);
                NEXURE_CHECK(routed == r.method() ||
                             (r.method() == Method::kHead && routed == Method::kGet));
                check_params(path, r.params().data(), static_cast<uint32_t>(r.params().size()));
                for (const http::Param& p : r.params()) {
                    NEXURE_CHECK(r.param(p.name).data() == p.value.data());
                    NEXURE_CHECK(decodes_to(p.value, r.param_decoded(p.name)));
                }
                break;
            }
            case router::Match::Kind::kNotFound:
                NEXURE_CHECK(m.allowed == 0);
                NEXURE_CHECK(r.params().empty());
                if (path != "*") NEXURE_CHECK(router_.allowed_methods(path) == 0);
                break;
            case router::Match::Kind::kMethodNotAllowed:
            case router::Match::Kind::kOptions:
                NEXURE_CHECK(m.allowed != 0);
                NEXURE_CHECK(m.allowed == router_.allowed_methods(path));
                NEXURE_CHECK(r.params().empty());
                NEXURE_CHECK((m.kind == router::Match::Kind::kOptions) ==
                             (r.method() == Method::kOptions));
                NEXURE_CHECK(!Router::allow_header(m.allowed).empty());
                break;
            case router::Match::Kind::kNotImplemented:
                NEXURE_CHECK(r.method() == Method::kOther);
                break;
        }
        return true;
    }

  private:
    const Router& router_;
};

// One parser for every request: the router is what is fuzzed here, not the parser.
http::ParseContext& parse_context() {
    static http::ParseContext ctx{http::Limits{}};
    return ctx;
}

// match() needs a Request, which only the parser makes: "METHOD target HTTP/1.1".
void match_through_parser(const Router& router, std::string_view method, std::string_view target) {
    std::string bytes;
    bytes.reserve(method.size() + target.size() + 32);
    bytes.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: f\r\n\r\n");
    http::ParseContext& ctx = parse_context();
    http::RequestParser parser;
    MatchingSink sink(router);
    parser.feed(ctx, bytes.data(), bytes.size(), sink);
    parser.reset(ctx);
}

}  // namespace
}  // namespace nexure::net

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nexure::net;
    if (size == 0) return 0;
    router::RouterOptions options;
    options.ignore_trailing_slash = (data[0] & 1) != 0;
    options.case_insensitive = (data[0] & 2) != 0;
    std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (!text.empty() && text.front() == '\n') text.remove_prefix(1);

    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        lines.push_back(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }

    Router router(options);
    struct Added {
        Method method;
        std::string_view pattern;
        RouteId id;
    };
    std::vector<Added> added;
    size_t next = 0;
    for (; next < lines.size() && !lines[next].empty() && next < kMaxPatterns; ++next) {
        const Line l = split_line(lines[next]);
        try {
            const auto handler = static_cast<uint32_t>(next);
            const RouteId id = router.add(l.method, l.text, router::RouteMeta{.handler = handler});
            NEXURE_CHECK(id == router.route_count() - 1);
            NEXURE_CHECK(router.method(id) == l.method);
            NEXURE_CHECK(router.pattern(id) == l.text);
            NEXURE_CHECK(router.meta(id).handler == handler);
            added.push_back({l.method, l.text, id});
        } catch (const std::invalid_argument& e) {
            NEXURE_CHECK(std::strlen(e.what()) > 0);
        }
    }
    while (next < lines.size() && lines[next].empty())
        ++next;

    // Every route is found by its own pattern, filled in.
    std::array<http::Param, http::Request::kMaxParams> params;
    uint32_t count = 0;
    for (const Added& a : added) {
        bool is_static = false;
        std::string path = instantiate(a.pattern, &is_static);
        if (is_static && options.ignore_trailing_slash && path.size() > 1 && path.back() == '/') {
            path.pop_back();  // as registered; with the '/', a catch-all there may come first
        }
        const RouteId found = router.find(a.method, path, params.data(), &count);
        NEXURE_CHECK(found != kNoRoute);
        if (is_static) NEXURE_CHECK(found == a.id);
        check_params(path, params.data(), count);
        // (Other methods are never in Allow: it lists methods by name.)
        if (a.method != Method::kOther) {
            NEXURE_CHECK((router.allowed_methods(path) & (1u << static_cast<unsigned>(a.method))) !=
                         0);
        }
    }

    // The paths.
    for (size_t i = 0; next < lines.size() && i < kMaxPaths; ++next, ++i) {
        const Line l = split_line(lines[next]);
        const RouteId found = router.find(l.method, l.text, params.data(), &count);
        const uint16_t allowed = router.allowed_methods(l.text);
        if (found != kNoRoute) {
            NEXURE_CHECK(found < router.route_count());
            check_params(l.text, params.data(), count);
            if (l.method != Method::kOther) {
                NEXURE_CHECK((allowed & (1u << static_cast<unsigned>(l.method))) != 0);
            }
        }
        NEXURE_CHECK(Router::allow_header(allowed).find("OPTIONS") != std::string::npos);
        match_through_parser(router, l.word, l.text);
    }
    return 0;
}
