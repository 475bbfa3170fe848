#include "napi/src/js_options.h"

#include <stdexcept>

namespace nexure::napi::options {

void check(napi_status s, const char* context, const char* what) {
    if (s != napi_ok)
        throw std::runtime_error(std::string(context) + ": N-API call failed: " + what);
}

napi_value get(napi_env env, napi_value object, const char* name, const char* context) {
    bool has = false;
    check(napi_has_named_property(env, object, name, &has), context, name);
    if (!has) return nullptr;
    napi_value v;
    check(napi_get_named_property(env, object, name, &v), context, name);
    napi_valuetype t;
    check(napi_typeof(env, v, &t), context, name);
    return t == napi_undefined ? nullptr : v;
}

std::string text(napi_env env, napi_value v, const std::string& what, const char* context) {
    napi_valuetype t;
    check(napi_typeof(env, v, &t), context, "typeof");
    if (t != napi_string) throw std::invalid_argument(what + " must be a string");
    size_t n = 0;
    check(napi_get_value_string_utf8(env, v, nullptr, 0, &n), context, "string length");
    std::string s(n, '\0');
    check(napi_get_value_string_utf8(env, v, s.data(), n + 1, &n), context, "string");
    return s;
}

}  // namespace nexure::napi::options
