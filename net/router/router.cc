#include "net/router/router.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace nexure::net::router {

using http::Method;

struct Router::Node {
    std::string prefix;  // static bytes consumed on entering this node (lower-cased if folding)
    // Static children, ordered by the first byte of their prefix, found with a bit test and a
    // popcount: bit b of `bits` says a child starts with byte b; its index is the number of set
    // bits below b (`rank_base` holds the counts of the lower words).
    std::array<uint64_t, 4> bits{};
    std::array<uint8_t, 4> rank_base{};
    std::vector<std::unique_ptr<Node>> statics;
    // At most one parameter edge, shared by every route with a parameter at this position;
    // the names are each route's own (Router::Route::names), filled in once a route matched.
    std::unique_ptr<Node> param;
    // For a parameter's child: some static child starts with a byte other than '/', so the
    // parameter may end inside its segment ("/files/:name.json").
    bool inline_suffix = false;
    bool is_param_child = false;
    RouteId route = kNoRoute;      // a route ending exactly here
    RouteId catch_all = kNoRoute;  // a '*' route at this node

    bool has(unsigned char c) const noexcept { return (bits[c >> 6] >> (c & 63)) & 1; }
    const Node* child(unsigned char c) const noexcept {
        const unsigned word = c >> 6;
        const uint64_t below = bits[word] & ((uint64_t{1} << (c & 63)) - 1);
        return statics[rank_base[word] + static_cast<unsigned>(std::popcount(below))].get();
    }
    size_t index_of(unsigned char c) const noexcept {
        size_t i = 0;
        while (i < statics.size() && static_cast<unsigned char>(statics[i]->prefix[0]) < c)
            ++i;
        return i;
    }
    void rebuild_index() noexcept {
        bits = {};
        for (const auto& s : statics) {
            const auto c = static_cast<unsigned char>(s->prefix[0]);
            bits[c >> 6] |= uint64_t{1} << (c & 63);
        }
        unsigned total = 0;
        for (unsigned w = 0; w < 4; ++w) {
            rank_base[w] = static_cast<uint8_t>(total);
            total += static_cast<unsigned>(std::popcount(bits[w]));
        }
        inline_suffix = false;
        if (is_param_child) {
            for (const auto& s : statics)
                inline_suffix |= s->prefix[0] != '/';
        }
    }
};

namespace {

constexpr unsigned char fold(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c | 0x20) : c;
}

template <bool kFold>
bool equal(const char* path, const std::string& prefix) noexcept {
    if constexpr (!kFold) {
        // Prefixes are short: compare 8 bytes at a time inline rather than call memcmp. The
        // caller has checked that `path` holds at least prefix.size() bytes.
        const char* q = prefix.data();
        size_t left = prefix.size();
        while (left >= 8) {
            uint64_t a;
            uint64_t b;
            std::memcpy(&a, path, 8);
            std::memcpy(&b, q, 8);
            if (a != b) return false;
            path += 8;
            q += 8;
            left -= 8;
        }
        while (left != 0) {
            if (*path++ != *q++) return false;
            --left;
        }
        return true;
    } else {
        for (size_t i = 0; i < prefix.size(); ++i) {
            if (fold(static_cast<unsigned char>(path[i])) !=
                static_cast<unsigned char>(prefix[i])) {
                return false;
            }
        }
        return true;
    }
}

// RFC 3986 pchar bytes (plus '/'), the only ones a pattern's static text may hold. ':' starts a
// parameter and '*' a catch-all; both are handled before this check.
bool valid_static_char(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::strchr("-._~!$&'()+,;=:@%/", c) != nullptr && c != 0;
}

bool name_char(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

struct Token {
    enum class Kind : uint8_t { kStatic, kParam, kCatchAll };
    Kind kind;
    std::string text;  // static bytes, or the parameter name
};

// `bytes` with control, non-ASCII and NUL bytes (and, with `escape_space`, spaces) shown as
// \xHH, so that a message prints whole and names the exact byte.
std::string printable(std::string_view bytes, bool escape_space = false) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        if ((c > 0x20 || (c == 0x20 && !escape_space)) && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

[[noreturn]] void bad_route(Method method, std::string_view pattern, const std::string& why) {
    throw std::invalid_argument("invalid route " + std::string(http::method_name(method)) + " " +
                                printable(pattern) + ": " + why);
}

std::vector<Token> tokenize(Method method, std::string_view pattern, bool fold_case) {
    if (pattern.empty() || pattern.front() != '/') {
        bad_route(method, pattern, "a path must start with '/'");
    }
    std::vector<Token> tokens;
    std::string text;
    std::vector<std::string> names;
    for (size_t i = 0; i < pattern.size();) {
        const auto c = static_cast<unsigned char>(pattern[i]);
        if (c == ':' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
            text += ':';  // "::" is a literal colon
            i += 2;
            continue;
        }
        if (c == ':') {
            size_t j = i + 1;
            while (j < pattern.size() && name_char(static_cast<unsigned char>(pattern[j])))
                ++j;
            const std::string name(pattern.substr(i + 1, j - i - 1));
            if (name.empty()) {
                bad_route(method, pattern,
                          "a parameter needs a name of letters, digits or '_' after ':'");
            }
            if (text.empty() && !tokens.empty()) {
                bad_route(method, pattern,
                          "parameter ':" + name +
                              "' directly follows another parameter; put static "
                              "text between them");
            }
            for (const std::string& n : names) {
                if (n == name)
                    bad_route(method, pattern, "parameter ':" + name + "' appears twice");
            }
            if (names.size() == http::Request::kMaxParams) {
                bad_route(method, pattern,
                          "more than " + std::to_string(http::Request::kMaxParams) + " parameters");
            }
            names.push_back(name);
            if (!text.empty()) tokens.push_back({Token::Kind::kStatic, std::move(text)});
            text.clear();
            tokens.push_back({Token::Kind::kParam, name});
            i = j;
            continue;
        }
        if (c == '*') {
            if (i + 1 != pattern.size()) {
                bad_route(method, pattern, "the catch-all '*' must be the last character");
            }
            if (text.empty() && !tokens.empty()) {
                bad_route(method, pattern, "the catch-all '*' directly follows a parameter");
            }
            if (names.size() == http::Request::kMaxParams) {
                bad_route(method, pattern,
                          "more than " + std::to_string(http::Request::kMaxParams) +
                              " parameters (the catch-all '*' counts as one)");
            }
            if (!text.empty()) tokens.push_back({Token::Kind::kStatic, std::move(text)});
            text.clear();
            tokens.push_back({Token::Kind::kCatchAll, "*"});
            ++i;
            continue;
        }
        if (!valid_static_char(c)) {
            const char one = static_cast<char>(c);
            bad_route(method, pattern,
                      "character '" + printable(std::string_view(&one, 1), true) +
                          "' is not allowed in a path (RFC 3986 pchar; percent-encode it)");
        }
        text += static_cast<char>(fold_case ? fold(c) : c);
        ++i;
    }
    if (!text.empty()) tokens.push_back({Token::Kind::kStatic, std::move(text)});
    return tokens;
}

}  // namespace

Router::Router(RouterOptions options) : options_(options) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

RouteId Router::add(Method method, std::string_view pattern, RouteMeta meta) {
    std::string_view effective = pattern;
    if (options_.ignore_trailing_slash && effective.size() > 1 && effective.back() == '/') {
        effective.remove_suffix(1);
    }
    const std::vector<Token> tokens = tokenize(method, effective, options_.case_insensitive);
    const auto id = static_cast<RouteId>(routes_.size());

    // The route's entry, with its own parameter names (in pattern order, the catch-all as "*"):
    // routes sharing a parameter node may name it differently, as find-my-way allows.
    auto push_route = [&] {
        Route route{method, std::string(pattern), meta, static_cast<uint32_t>(names_.size())};
        for (const Token& t : tokens) {
            if (t.kind == Token::Kind::kStatic) continue;
            // A deque never moves its elements, so the views stay valid as routes are added.
            name_store_.emplace_back(t.text);
            names_.emplace_back(name_store_.back());
        }
        routes_.push_back(std::move(route));
    };

    auto& root = roots_[static_cast<unsigned>(method)];
    if (!root) root = std::make_unique<Node>();
    Node* node = root.get();
    for (const Token& t : tokens) {
        if (t.kind == Token::Kind::kParam) {
            if (!node->param) {
                node->param = std::make_unique<Node>();
                node->param->is_param_child = true;
            }
            node = node->param.get();
            continue;
        }
        if (t.kind == Token::Kind::kCatchAll) {
            if (node->catch_all != kNoRoute) bad_route(method, pattern, "already registered");
            node->catch_all = id;
            push_route();
            return id;
        }
        // Static text: walk and split the compressed prefixes.
        std::string_view text = t.text;
        while (!text.empty()) {
            const auto c = static_cast<unsigned char>(text[0]);
            const size_t at = node->index_of(c);
            if (at == node->statics.size() ||
                static_cast<unsigned char>(node->statics[at]->prefix[0]) != c) {
                auto fresh = std::make_unique<Node>();
                fresh->prefix = std::string(text);
                Node* raw = fresh.get();
                node->statics.insert(node->statics.begin() + static_cast<long>(at),
                                     std::move(fresh));
                node->rebuild_index();
                node = raw;
                break;
            }
            Node* child = node->statics[at].get();
            size_t common = 0;
            while (common < child->prefix.size() && common < text.size() &&
                   child->prefix[common] == text[common]) {
                ++common;
            }
            if (common < child->prefix.size()) {
                // Split: a new node for the shared part, the old child below it.
                auto mid = std::make_unique<Node>();
                mid->prefix = child->prefix.substr(0, common);
                std::unique_ptr<Node> old = std::move(node->statics[at]);
                old->prefix.erase(0, common);
                mid->statics.push_back(std::move(old));
                mid->rebuild_index();
                child = mid.get();
                node->statics[at] = std::move(mid);
            }
            text.remove_prefix(common);
            node = child;
        }
    }
    if (node->route != kNoRoute) bad_route(method, pattern, "already registered");
    node->route = id;
    push_route();
    return id;
}

namespace {

// Failed (node, position) attempts of parameters that may end inside their segment. A walk
// from a node at a position fails or succeeds regardless of how it was reached, so remembering
// failures bounds the work for patterns with several parameters in one segment
// ("/:y-:m-:d-:h") to about nodes x path length instead of path length to the power of the
// parameter count. Lives in find()'s frame; only `size` and `budget` are initialised, so it
// costs nothing for routes without such parameters. When full, further failures are not
// remembered, and `budget` caps the split attempts of one lookup outright: past it the lookup is
// a miss (bounding the worst case to about a millisecond; no realistic route needs that many).
struct FailMemo {
    static constexpr uint32_t kCapacity = 128;
    static constexpr uint32_t kSplitBudget = 4096;
    struct Entry {
        const void* node;
        const char* pos;
    };
    uint32_t size = 0;
    uint32_t budget = kSplitBudget;
    Entry entries[kCapacity];

    bool contains(const void* node, const char* pos) const noexcept {
        for (uint32_t i = 0; i < size; ++i) {
            if (entries[i].node == node && entries[i].pos == pos) return true;
        }
        return false;
    }
    void add(const void* node, const char* pos) noexcept {
        if (size < kCapacity) entries[size++] = Entry{node, pos};
    }
};

// Depth-first match with backtracking. `n`'s prefix is checked here; then the static child for
// the next byte, then the parameter edge, then the catch-all.
template <bool kFold, typename NodeT>
RouteId walk(const NodeT* n, const char* p, const char* end, http::Param* params, uint32_t* count,
             FailMemo* memo) noexcept {
    const size_t plen = n->prefix.size();
    if (plen != 0) {
        if (static_cast<size_t>(end - p) < plen || !equal<kFold>(p, n->prefix)) return kNoRoute;
        p += plen;
    }
    if (p == end) {
        if (n->route != kNoRoute) return n->route;
        if (n->catch_all != kNoRoute) {
            params[(*count)++].value = std::string_view(p, 0);
            return n->catch_all;
        }
        return kNoRoute;
    }
    const uint32_t mark = *count;
    const auto c = kFold ? fold(static_cast<unsigned char>(*p)) : static_cast<unsigned char>(*p);
    if (n->has(c)) {
        const RouteId r = walk<kFold>(n->child(c), p, end, params, count, memo);
        if (r != kNoRoute) return r;
        *count = mark;
    }
    if (n->param) {
        const auto* slash =
            static_cast<const char*>(std::memchr(p, '/', static_cast<size_t>(end - p)));
        const char* seg_end = slash != nullptr ? slash : end;
        if (seg_end > p) {
            const NodeT* pc = n->param.get();
            if (!pc->inline_suffix) {
                params[mark].value = std::string_view(p, seg_end - p);
                *count = mark + 1;
                const RouteId r = walk<kFold>(pc, seg_end, end, params, count, memo);
                if (r != kNoRoute) return r;
            } else {
                // The parameter may end before the segment does, where a static suffix starts;
                // the shortest match that leads to a route wins.
                for (const char* e = p + 1; e <= seg_end; ++e) {
                    if (e < seg_end) {
                        const auto b = kFold ? fold(static_cast<unsigned char>(*e))
                                             : static_cast<unsigned char>(*e);
                        if (!pc->has(b)) continue;
                    }
                    if (memo->contains(pc, e)) continue;
                    if (memo->budget == 0) break;
                    --memo->budget;
                    params[mark].value = std::string_view(p, e - p);
                    *count = mark + 1;
                    const RouteId r = walk<kFold>(pc, e, end, params, count, memo);
                    if (r != kNoRoute) return r;
                    memo->add(pc, e);
                }
            }
            *count = mark;
        }
    }
    if (n->catch_all != kNoRoute) {
        params[mark].value = std::string_view(p, end - p);
        *count = mark + 1;
        return n->catch_all;
    }
    return kNoRoute;
}

}  // namespace

RouteId Router::find(Method method, std::string_view path, http::Param* params,
                     uint32_t* count) const noexcept {
    *count = 0;
    const Node* root = roots_[static_cast<unsigned>(method)].get();
    if (root == nullptr || path.empty()) return kNoRoute;
    FailMemo memo;
    auto run = [&](std::string_view candidate) {
        *count = 0;
        memo.size = 0;
        memo.budget = FailMemo::kSplitBudget;
        const char* p = candidate.data();
        const char* end = p + candidate.size();
        return options_.case_insensitive ? walk<true>(root, p, end, params, count, &memo)
                                         : walk<false>(root, p, end, params, count, &memo);
    };
    RouteId r = run(path);
    // Patterns were registered without their trailing '/'; a path that has one is tried as is
    // first (so "/static/" still reaches "/static/*"), then without it.
    if (r == kNoRoute && options_.ignore_trailing_slash && path.size() > 1 && path.back() == '/') {
        r = run(path.substr(0, path.size() - 1));
    }
    if (r != kNoRoute) {
        // The walk wrote the values in pattern order; the names are the matched route's own.
        const std::string_view* names = names_.data() + routes_[r].names;
        for (uint32_t i = 0, n = *count; i < n; ++i)
            params[i].name = names[i];
    }
    return r;
}

uint16_t Router::allowed_methods(std::string_view path) const noexcept {
    std::array<http::Param, http::Request::kMaxParams> scratch;
    uint32_t count = 0;
    uint16_t allowed = 0;
    for (unsigned i = 0; i < http::kRoutableMethods; ++i) {
        if (roots_[i] == nullptr) continue;
        if (path == "*" || find(static_cast<Method>(i), path, scratch.data(), &count) != kNoRoute) {
            allowed |= static_cast<uint16_t>(1u << i);
        }
    }
    return allowed;
}

Match Router::match(http::Request& request) const noexcept {
    Match m;
    const Method method = request.method();
    const std::string_view path = request.path();
    if (method == Method::kOther && roots_[static_cast<unsigned>(method)] == nullptr) {
        m.kind = Match::Kind::kNotImplemented;  // no route takes other methods
        return m;
    }
    if (path == "*" && method != Method::kOptions) {
        m.kind = Match::Kind::kNotFound;  // the asterisk form only means something to OPTIONS
        return m;
    }
    if (path != "*") {
        m.route = find(method, path, request.params_.data(), &request.param_count_);
        if (m.route == kNoRoute && method == Method::kHead) {
            m.route = find(Method::kGet, path, request.params_.data(), &request.param_count_);
        }
        if (m.route != kNoRoute) {
            m.kind = Match::Kind::kFound;
            return m;
        }
    }
    request.param_count_ = 0;
    m.allowed = allowed_methods(path);
    if (m.allowed == 0) {
        m.kind = Match::Kind::kNotFound;
    } else if (method == Method::kOptions) {
        m.kind = Match::Kind::kOptions;
    } else {
        m.kind = Match::Kind::kMethodNotAllowed;
    }
    return m;
}

std::string Router::allow_header(uint16_t allowed) {
    if (allowed & (1u << static_cast<unsigned>(Method::kGet))) {
        allowed |= static_cast<uint16_t>(1u << static_cast<unsigned>(Method::kHead));
    }
    allowed |= static_cast<uint16_t>(1u << static_cast<unsigned>(Method::kOptions));
    std::string out;
    for (unsigned i = 0; i < http::kRoutableMethods; ++i) {
        if ((allowed & (1u << i)) == 0) continue;
        if (!out.empty()) out += ", ";
        out += http::method_name(static_cast<Method>(i));
    }
    return out;
}

}  // namespace nexure::net::router
