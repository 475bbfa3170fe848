// Small helpers the handshake and the permessage-deflate negotiation share for reading header
// field values (comma-separated lists, tokens compared case-insensitively). Any thread; pure.
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

}  // namespace nexure::net::ws::detail
