// What may go into a header field written by us (a response, an outbound request): names are
// RFC 9110 tokens, values hold no CR, LF or NUL — either would let a caller split the message
// (header injection). Any thread; pure functions.
#pragma once

#include <cstring>
#include <string_view>

namespace nexure::net::http {

// RFC 9110 5.6.2 tchar.
inline bool is_token_char(unsigned char c) noexcept {
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A non-empty token (a field name, a method).
inline bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!is_token_char(c)) return false;
    return true;
}

inline bool valid_field_value(std::string_view value) noexcept {
    for (unsigned char c : value)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}

}  // namespace nexure::net::http
