#include "net/http/conditional.h"

namespace nexure::net::http {

namespace {

// The opaque-tag of an entity-tag, weak or strong ("W/\"a\"" and "\"a\"" both give "\"a\"");
// empty when `tag` is not one.
std::string_view opaque(std::string_view tag) noexcept {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return {};
    // etagc = %x21 / %x23-7E / obs-text: no DQUOTE, space or control inside.
    for (const char ch : tag.substr(1, tag.size() - 2)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c <= 0x20 || c == 0x7f) return {};
    }
    return tag;
}

bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

// Whether the If-None-Match value `list` ("*", or entity-tags separated by commas) matches
// `want` (an opaque-tag); false for a malformed list.
bool list_matches(std::string_view list, std::string_view want) noexcept {
    size_t i = 0;
    bool any = false;
    while (i < list.size()) {
        while (i < list.size() && (is_ows(list[i]) || list[i] == ','))
            ++i;
        if (i == list.size()) break;
        if (list[i] == '*')
            return !any && list.find_first_not_of(" \t", i + 1) == std::string_view::npos;
        // One entity-tag: up to its closing DQUOTE.
        size_t start = i;
        if (list.substr(i).starts_with("W/")) i += 2;
        if (i == list.size() || list[i] != '"') return false;
        const size_t close = list.find('"', i + 1);
        if (close == std::string_view::npos) return false;
        i = close + 1;
        const std::string_view tag = opaque(list.substr(start, i - start));
        if (tag.empty()) return false;
        if (tag == want) return true;
        any = true;
        while (i < list.size() && is_ows(list[i]))
            ++i;
        if (i < list.size() && list[i] != ',') return false;
    }
    return false;
}

}  // namespace

bool none_match(std::string_view values, std::string_view etag) noexcept {
    const std::string_view want = opaque(etag);
    return !want.empty() && list_matches(values, want);
}

bool not_modified(const Request& req, std::string_view etag) noexcept {
    if (req.method() != Method::kGet && req.method() != Method::kHead) return false;
    const std::string_view want = opaque(etag);
    if (want.empty()) return false;
    for (const Header& h : req.headers()) {
        if (iequals(h.name, "if-none-match") && list_matches(h.value, want)) return true;
    }
    return false;
}

}  // namespace nexure::net::http
