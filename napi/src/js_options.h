// Reading the option objects JavaScript hands the addon (createServer's config, fileAnswer()'s
// options): a property that is absent or undefined is "not given", a wrong type is an
// std::invalid_argument naming the option, and a failed N-API call an std::runtime_error naming
// `context` (the caller's boundary turns both into JavaScript errors). JS thread only.
#pragma once

#include <node_api.h>

#include <string>

namespace nexure::napi::options {

// Throws "<context>: N-API call failed: <what>" unless `s` is napi_ok.
void check(napi_status s, const char* context, const char* what);
// object[name], or null when it is absent or undefined.
napi_value get(napi_env env, napi_value object, const char* name, const char* context);
// The string `v` (UTF-8); `what` names it in the error when it is not a string.
std::string text(napi_env env, napi_value v, const std::string& what, const char* context);

}  // namespace nexure::napi::options
