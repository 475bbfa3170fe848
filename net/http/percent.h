// Percent-decoding of URI components (RFC 3986 2.1). Pure functions, any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace nexure::net::http {

// Decodes `in` into `out`. Returns false (leaving `out` unspecified) for a '%' not followed by
// two hex digits. '+' is left alone: it means a space only in form bodies and query strings of
// HTML forms, which is for the caller to decide.
bool percent_decode(std::string_view in, std::string* out);

// The same into `out`, which has room for in.size() bytes (decoding never lengthens). Returns the
// decoded length, or kMalformed.
inline constexpr size_t kMalformed = static_cast<size_t>(-1);
size_t percent_decode_to(std::string_view in, char* out) noexcept;

// application/x-www-form-urlencoded decoding (the WHATWG URL standard's): '+' is a space, %XX a
// byte, and a '%' not followed by two hex digits stays as it is. Into `out`, which has room for
// in.size() bytes; returns the decoded length.
size_t form_decode_to(std::string_view in, char* out) noexcept;

}  // namespace nexure::net::http
