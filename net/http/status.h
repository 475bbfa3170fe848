// Status codes: reason phrases and pre-formatted status lines. Pure functions, any thread.
#pragma once

#include <string_view>

namespace nexure::net::http {

// "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view reason_phrase(int status) noexcept;

// "HTTP/1.1 200 OK\r\n" for 100..599; the view points to static storage.
std::string_view status_line(int status) noexcept;

}  // namespace nexure::net::http
