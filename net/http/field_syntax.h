// What may go into a header field written by us (a response, an outbound request): names are
// RFC 9110 tokens, values hold no CR, LF or NUL — either would let a caller split the message
// (header injection). Any thread; pure functions.
#pragma once

#include <array>
#include <string_view>

namespace nexure::net::http {

// RFC 9110 5.6.2 tchar.
namespace detail {
// tchar (RFC 9110 5.6.2) by byte: ALPHA, DIGIT and !#$%&'*+-.^_`|~.
inline constexpr auto kTokenChars = [] {
    std::array<bool, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
    return t;
}();
}  // namespace detail

inline bool is_token_char(unsigned char c) noexcept {
    return detail::kTokenChars[c];
}

// A non-empty token (a field name, a method).
inline bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (!is_token_char(c)) return false;
    return true;
}

// RFC 9110 5.6.3 OWS: a space or a horizontal tab.
inline bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

// `s` without its leading and trailing OWS (a list element, a parameter, a field value).
inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

inline bool valid_field_value(std::string_view value) noexcept {
    for (unsigned char c : value)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}

}  // namespace nexure::net::http
