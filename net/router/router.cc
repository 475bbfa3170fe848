#include "net/router/router.h"

#include <algorithm>
#include <stdexcept>

namespace nexure::net::router {

using http::Method;

struct Router::Node {
    std::string segment;  // static text, or the parameter name for a parameter node
    std::vector<std::unique_ptr<Node>> statics;  // sorted by segment
    std::unique_ptr<Node> param;
    std::array<RouteId, http::kRoutableMethods> routes;
    uint16_t methods = 0;  // bit per method with a route here

    Node() { routes.fill(kNoRoute); }

    const Node* static_child(std::string_view seg) const noexcept {
        auto it = std::lower_bound(statics.begin(), statics.end(), seg,
                                   [](const std::unique_ptr<Node>& n, std::string_view s) {
                                       return std::string_view(n->segment) < s;
                                   });
        return it != statics.end() && (*it)->segment == seg ? it->get() : nullptr;
    }
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

namespace {

// RFC 3986 pchar minus '%'-escapes handled as plain bytes: unreserved, sub-delims, ':', '@', '%'.
bool valid_path_char(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '-':
        case '.':
        case '_':
        case '~':
        case '!':
        case '$':
        case '&':
        case '\'':
        case '(':
        case ')':
        case '+':
        case ',':
        case ';':
        case '=':
        case ':':
        case '@':
        case '%':
            return true;
        default:
            return false;
    }
}

bool valid_param_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    for (unsigned char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

[[noreturn]] void bad_route(Method method, std::string_view pattern, const std::string& why) {
    throw std::invalid_argument("invalid route " + std::string(http::method_name(method)) + " " +
                                std::string(pattern) + ": " + why);
}

}  // namespace

void Router::add(Method method, std::string_view pattern, RouteId id) {
    if (method == Method::kOther)
        bad_route(method, pattern, "only the standard methods can be routed");
    if (pattern.empty() || pattern.front() != '/')
        bad_route(method, pattern, "a path must start with '/'");
    Node* node = root_.get();
    unsigned params = 0;
    std::string_view rest = pattern.substr(1);
    bool more = !pattern.empty() && pattern != "/";
    if (pattern == "/") more = false;
    while (more) {
        const size_t slash = rest.find('/');
        const std::string_view seg = rest.substr(0, slash);
        more = slash != std::string_view::npos;
        rest = more ? rest.substr(slash + 1) : std::string_view{};
        if (!seg.empty() && seg.front() == ':') {
            const std::string_view name = seg.substr(1);
            if (!valid_param_name(name)) {
                bad_route(method, pattern,
                          "parameter name '" + std::string(name) +
                              "' must be letters, digits or '_' and not empty");
            }
            if (++params > http::Request::kMaxParams) {
                bad_route(method, pattern,
                          "more than " + std::to_string(http::Request::kMaxParams) + " parameters");
            }
            if (!node->param) {
                node->param = std::make_unique<Node>();
                node->param->segment = std::string(name);
            } else if (node->param->segment != name) {
                bad_route(method, pattern,
                          "parameter ':" + std::string(name) + "' conflicts with ':" +
                              node->param->segment + "' registered at the same position");
            }
            node = node->param.get();
            continue;
        }
        for (unsigned char c : seg) {
            if (!valid_path_char(c)) {
                bad_route(method, pattern,
                          std::string("character '") + static_cast<char>(c) +
                              "' is not allowed in a path (wildcards come with the full router)");
            }
        }
        auto it = std::lower_bound(node->statics.begin(), node->statics.end(), seg,
                                   [](const std::unique_ptr<Node>& n, std::string_view s) {
                                       return std::string_view(n->segment) < s;
                                   });
        if (it == node->statics.end() || (*it)->segment != seg) {
            auto child = std::make_unique<Node>();
            child->segment = std::string(seg);
            it = node->statics.insert(it, std::move(child));
        }
        node = it->get();
    }
    const auto m = static_cast<unsigned>(method);
    if (node->routes[m] != kNoRoute) bad_route(method, pattern, "already registered");
    node->routes[m] = id;
    node->methods |= static_cast<uint16_t>(1u << m);
    ++route_count_;
}

namespace {

// Depth-first match with backtracking: the static child first, then the parameter child.
// `want` is the method bit required at the final node (0: any method).
template <typename NodeT>
const NodeT* walk(const NodeT* node, std::string_view rest, bool at_end, uint16_t want,
                  http::Param* params, uint32_t* count) noexcept {
    if (at_end) {
        if (node->methods == 0) return nullptr;
        return (want == 0 || (node->methods & want) != 0) ? node : nullptr;
    }
    const size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    const std::string_view next = last ? std::string_view{} : rest.substr(slash + 1);
    if (const NodeT* child = node->static_child(seg)) {
        if (const NodeT* hit = walk(child, next, last, want, params, count)) return hit;
    }
    if (node->param && !seg.empty()) {
        const uint32_t mark = *count;
        if (params != nullptr) params[(*count)++] = http::Param{node->param->segment, seg};
        if (const NodeT* hit = walk(node->param.get(), next, last, want, params, count)) return hit;
        *count = mark;
    }
    return nullptr;
}

}  // namespace

const Router::Node* Router::find(Method method, std::string_view path,
                                 http::Request* request) const noexcept {
    if (path.empty() || path.front() != '/') return nullptr;
    uint32_t dummy = 0;
    uint32_t* count = request ? &request->param_count_ : &dummy;
    http::Param* params = request ? request->params_.data() : nullptr;
    *count = 0;
    const uint16_t want =
        method == Method::kOther ? 0 : static_cast<uint16_t>(1u << static_cast<unsigned>(method));
    if (path.size() == 1) return walk(root_.get(), {}, true, want, params, count);
    return walk(root_.get(), path.substr(1), false, want, params, count);
}

Match Router::match(http::Request& request) const noexcept {
    Match m;
    const Method method = request.method();
    const std::string_view path = request.path();
    if (method != Method::kOther) {
        if (const Node* n = find(method, path, &request)) {
            m.kind = Match::Kind::kFound;
            m.route = n->routes[static_cast<unsigned>(method)];
            return m;
        }
        if (method == Method::kHead) {
            if (const Node* n = find(Method::kGet, path, &request)) {
                m.kind = Match::Kind::kFound;
                m.route = n->routes[static_cast<unsigned>(Method::kGet)];
                return m;
            }
        }
    }
    request.param_count_ = 0;
    // Slow path: which methods would this path answer to?
    for (unsigned i = 0; i < http::kRoutableMethods; ++i) {
        if (find(static_cast<Method>(i), path, nullptr) != nullptr)
            m.allowed |= static_cast<uint16_t>(1u << i);
    }
    if (method == Method::kOther) {
        m.kind = Match::Kind::kNotImplemented;
    } else {
        m.kind = m.allowed != 0 ? Match::Kind::kMethodNotAllowed : Match::Kind::kNotFound;
    }
    return m;
}

std::string Router::allow_header(uint16_t allowed) {
    if (allowed & (1u << static_cast<unsigned>(Method::kGet))) {
        allowed |= static_cast<uint16_t>(1u << static_cast<unsigned>(Method::kHead));
    }
    std::string out;
    for (unsigned i = 0; i < http::kRoutableMethods; ++i) {
        if ((allowed & (1u << i)) == 0) continue;
        if (!out.empty()) out += ", ";
        out += http::method_name(static_cast<Method>(i));
    }
    return out;
}

}  // namespace nexure::net::router
