#include "net/http/method.h"

#include <llhttp.h>

namespace nexure::net::http {

Method method_from_llhttp(uint8_t code) noexcept {
    switch (code) {
        case HTTP_GET:
            return Method::kGet;
        case HTTP_HEAD:
            return Method::kHead;
        case HTTP_POST:
            return Method::kPost;
        case HTTP_PUT:
            return Method::kPut;
        case HTTP_DELETE:
            return Method::kDelete;
        case HTTP_CONNECT:
            return Method::kConnect;
        case HTTP_OPTIONS:
            return Method::kOptions;
        case HTTP_TRACE:
            return Method::kTrace;
        case HTTP_PATCH:
            return Method::kPatch;
        default:
            return Method::kOther;
    }
}

bool parse_method(std::string_view name, Method* out) noexcept {
    for (unsigned i = 0; i < kRoutableMethods; ++i) {
        const auto m = static_cast<Method>(i);
        if (method_name(m) == name) {
            *out = m;
            return true;
        }
    }
    return false;
}

}  // namespace nexure::net::http
