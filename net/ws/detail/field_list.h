// Small helpers the handshake, the permessage-deflate negotiation and nexload's client handshake
// (bench/load/ws_handshake.cc) share for reading header field values (comma-separated lists,
// tokens compared case-insensitively). Any thread; pure.
// (http::iequals lives in nexure::net, which links this library, not the other way round.)
#pragma once

#include <string_view>

#include "net/http/field_syntax.h"

namespace nexure::net::ws::detail {

using http::trim_ows;

// ASCII case-insensitive equality (tokens, parameter names).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Calls `f` with each element of a comma-separated list (trimmed, empty ones skipped) until it
// returns true; returns whether one did.
template <typename F>
bool any_element(std::string_view list, F&& f) {
    while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (!item.empty() && f(item)) return true;
    }
    return false;
}

// Whether the comma-separated `list` holds `token` (case-insensitive).
inline bool lists_token(std::string_view list, std::string_view token) {
    return any_element(list, [token](std::string_view item) { return iequals(item, token); });
}

}  // namespace nexure::net::ws::detail
