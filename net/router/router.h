// Router: method + path matching with static and ":param" segments.
//
// Built once at start-up (add() may throw std::invalid_argument with a message naming the bad
// route), then read-only: every worker shares one Router without locks. Matching never allocates;
// parameter values are views into the request path. Paths are matched segment by segment, static
// segments before parameters, with backtracking; matching is case-sensitive and strict about a
// trailing slash ("/a" and "/a/" are different routes). The query string is not part of the path.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/method.h"
#include "net/http/request.h"

namespace nexure::net::router {

using RouteId = uint32_t;
inline constexpr RouteId kNoRoute = 0xFFFFFFFF;

struct Match {
    enum class Kind : uint8_t { kFound, kNotFound, kMethodNotAllowed, kNotImplemented };
    Kind kind = Kind::kNotFound;
    RouteId route = kNoRoute;
    // For kMethodNotAllowed: bit per http::Method the path does answer to.
    uint16_t allowed = 0;
};

class Router {
  public:
    Router();
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    // Registers `pattern` ("/users/:id") for `method`. Throws std::invalid_argument for a pattern
    // that does not start with '/', has an empty or invalid parameter name, invalid characters,
    // more than Request::kMaxParams parameters, a parameter name that differs from another
    // route's at the same position, or that is already registered for this method.
    void add(http::Method method, std::string_view pattern, RouteId id);

    // Finds the route for `request`'s method and path and fills its params. HEAD falls back to
    // the GET route when no HEAD route exists.
    Match match(http::Request& request) const noexcept;

    // "GET, HEAD, POST" for an `allowed` mask (HEAD is listed wherever GET is).
    static std::string allow_header(uint16_t allowed);

    size_t route_count() const noexcept { return route_count_; }

  private:
    struct Node;
    const Node* find(http::Method method, std::string_view path,
                     http::Request* request) const noexcept;

    std::unique_ptr<Node> root_;
    size_t route_count_ = 0;
};

}  // namespace nexure::net::router
