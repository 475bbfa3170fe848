// UTF-8 sequences (RFC 3629), for code that must not pass invalid UTF-8 on (JsonWriter replaces
// it) or must say where it is (net/json/ reports the offset of the first invalid byte).
#pragma once

#include <cstddef>
#include <string_view>

namespace nexure::net::http {

// The length of the valid UTF-8 sequence that starts at s[i] (1 for ASCII), or 0 when none does:
// no overlong forms, no surrogates, nothing above U+10FFFF, no sequence cut by the end of `s`.
// Precondition: i < s.size().
inline size_t utf8_sequence_length(std::string_view s, size_t i) noexcept {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    if (c < 0x80) return 1;
    const size_t left = s.size() - i;
    auto cont = [&](size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
        if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace nexure::net::http
