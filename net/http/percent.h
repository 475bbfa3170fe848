// Percent-decoding of URI components (RFC 3986 2.1). Pure functions, any thread.
#pragma once

#include <string>
#include <string_view>

namespace nexure::net::http {

// Decodes `in` into `out`. Returns false (leaving `out` unspecified) for a '%' not followed by
// two hex digits. '+' is left alone: it means a space only in form bodies and query strings of
// HTML forms, which is for the caller to decide.
bool percent_decode(std::string_view in, std::string* out);

}  // namespace nexure::net::http
