// HTTP request methods the router dispatches on. Pure values, any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace nexure::net::http {

// The nine methods of RFC 9110 (and PATCH, RFC 5789). Others parse but are answered 501.
enum class Method : uint8_t {
    kGet,
    kHead,
    kPost,
    kPut,
    kDelete,
    kConnect,
    kOptions,
    kTrace,
    kPatch,
    kOther,  // any other method llhttp accepts (WebDAV and friends): not routable
};

inline constexpr unsigned kRoutableMethods = 9;

constexpr std::string_view method_name(Method m) noexcept {
    constexpr std::string_view kNames[] = {"GET",     "HEAD",    "POST",  "PUT",   "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"};
    return kNames[static_cast<unsigned>(m)];
}

// Maps llhttp's method code (llhttp_method_t) to Method.
Method method_from_llhttp(uint8_t code) noexcept;

// Parses an upper-case method name; returns false if it is not one of the routable ones.
bool parse_method(std::string_view name, Method* out) noexcept;

}  // namespace nexure::net::http
