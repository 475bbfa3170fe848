// Router: a radix tree per HTTP method, with child lookup indexed by a bitmap of first bytes.
//
// Built once at start-up (add() throws std::invalid_argument with a message naming the route and
// the rule it breaks), then read-only: all workers share one Router without locks or copies
// (reads of immutable memory scale across cores; see net/router/README.md for the measurement).
// Matching never allocates; parameter values are views into the request path.
//
// Pattern syntax:
//   /users/me            static text
//   /users/:id           a parameter: one or more bytes up to the next '/'
//   /files/:name.json    a parameter ending where the static text after it starts (same segment)
//   /geo/:lat-:lng       several parameters in one segment, separated by static text
//   /static/*            catch-all (last character only): the rest of the path, captured as "*"
//   /a::b                "::" is a literal ':'
// Priority: static before parameter before catch-all, with backtracking: if the static branch
// fails further down, the parameter branch is tried, then the catch-all.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/method.h"
#include "net/http/request.h"

namespace nexure::net::router {

using RouteId = uint32_t;
inline constexpr RouteId kNoRoute = 0xFFFFFFFF;

// Who answers a route. The router does not interpret it; the engine does.
enum class HandlerKind : uint8_t {
    kNative,      // a C++ handler
    kJavaScript,  // a JavaScript handler behind the napi bridge
    kFixed,       // a fixed response served by the engine
};

// Opaque per-route data for the engine: which handler, and per-route options to come (limits,
// cache, validation) as an index into a table the engine owns.
struct RouteMeta {
    uint32_t handler = 0;
    HandlerKind kind = HandlerKind::kNative;
    uint32_t options = 0;
};

struct RouterOptions {
    // "/a/" matches the route "/a" and vice versa (a trailing '/' is dropped from patterns and
    // paths, except the root). Default: strict, like find-my-way.
    bool ignore_trailing_slash = false;
    // Static text matches regardless of ASCII case; parameter values keep the request's case.
    // Default: case-sensitive.
    bool case_insensitive = false;
};

struct Match {
    enum class Kind : uint8_t {
        kFound,             // `route` answers it
        kNotFound,          // no route has this path under any method
        kMethodNotAllowed,  // the path exists under other methods: `allowed`
        kOptions,           // OPTIONS with no OPTIONS route: answer with `allowed`
        kNotImplemented,    // a method the router does not dispatch on
    };
    Kind kind = Kind::kNotFound;
    RouteId route = kNoRoute;
    uint16_t allowed = 0;  // bit per http::Method
};

class Router {
  public:
    explicit Router(RouterOptions options = {});
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    // Registers `pattern` for `method` and returns its id (ids are dense, from 0). Throws
    // std::invalid_argument when the pattern does not start with '/', has a character outside
    // RFC 3986 path characters, an empty or invalid parameter name, two parameters with nothing
    // between them, a '*' that is not last, more than Request::kMaxParams parameters, or when
    // the same route is already registered for this method. Routes may name a parameter at a
    // shared position differently ("/users/:id" and "/users/:userId/todos"): each match carries
    // the names of the route that matched.
    // Method::kOther registers a route for every method the engine does not name (WebDAV's and
    // others): without one, such a request is answered 501.
    RouteId add(http::Method method, std::string_view pattern, RouteMeta meta = {});

    // Finds the route for `request`'s method and path and fills its parameters. HEAD falls back
    // to GET; OPTIONS without a route reports the allowed methods.
    Match match(http::Request& request) const noexcept;

    // Lower level: the route for `method` and `path` (without query), parameters written to
    // `params` (room for Request::kMaxParams) and `*count`. kNoRoute when nothing matches.
    RouteId find(http::Method method, std::string_view path, http::Param* params,
                 uint32_t* count) const noexcept;

    // Methods under which `path` has a route (bit per http::Method).
    uint16_t allowed_methods(std::string_view path) const noexcept;

    const RouteMeta& meta(RouteId id) const noexcept { return routes_[id].meta; }
    http::Method method(RouteId id) const noexcept { return routes_[id].method; }
    std::string_view pattern(RouteId id) const noexcept { return routes_[id].pattern; }
    size_t route_count() const noexcept { return routes_.size(); }
    const RouterOptions& options() const noexcept { return options_; }

    // "GET, HEAD, OPTIONS" for an `allowed` mask: HEAD is listed wherever GET is, and OPTIONS
    // always (the engine answers it for any path that has a route).
    static std::string allow_header(uint16_t allowed);

  private:
    struct Node;
    struct Route {
        http::Method method;
        std::string pattern;
        RouteMeta meta;
        uint32_t names = 0;  // index of the route's first parameter name in names_
    };

    RouterOptions options_;
    // One tree per routable method, and one for Method::kOther: every method the engine does
    // not name (WebDAV and others), for a catch-all that takes them (nexurejs/http).
    std::array<std::unique_ptr<Node>, http::kRoutableMethods + 1> roots_;
    std::vector<Route> routes_;
    // Every route's parameter names, in pattern order, views into name_store_ (a deque: its
    // strings never move, so the views Param::name hands out live as long as the Router).
    std::vector<std::string_view> names_;
    std::deque<std::string> name_store_;
};

}  // namespace nexure::net::router
