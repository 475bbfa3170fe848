#include "napi/src/ws_binding.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "napi/src/js_options.h"
#include "napi/src/ws_bridge.h"

namespace nexure::napi {

namespace {

// Option objects read through js_options.h; its errors name "config.ws".
constexpr const char* kContext = "config.ws";
void check(napi_status s, const char* what) { options::check(s, kContext, what); }
napi_value get(napi_env env, napi_value object, const char* name) {
    return options::get(env, object, name, kContext);
}
std::string text(napi_env env, napi_value v, const std::string& what) {
    return options::text(env, v, what, kContext);
}

template <typename T>
void integer(napi_env env, napi_value o, const char* name, double low, double high,
             const std::string& what, T* out) {
    napi_value v = get(env, o, name);
    if (v == nullptr) return;
    double d = 0;
    if (napi_get_value_double(env, v, &d) != napi_ok || std::floor(d) != d || d < low || d > high) {
        throw std::invalid_argument(what + "." + name + " must be an integer from " +
                                    std::to_string(static_cast<uint64_t>(low)) + " to " +
                                    std::to_string(static_cast<uint64_t>(high)));
    }
    *out = static_cast<T>(d);
}

void flag(napi_env env, napi_value o, const char* name, const std::string& what, bool* out) {
    napi_value v = get(env, o, name);
    if (v == nullptr) return;
    if (napi_get_value_bool(env, v, out) != napi_ok)
        throw std::invalid_argument(what + "." + name + " must be a boolean");
}

}  // namespace

void add_ws_routes(napi_env env, napi_value config, net::Server& server) {
    napi_value list = get(env, config, "ws");
    if (list == nullptr) return;
    bool is_array = false;
    check(napi_is_array(env, list, &is_array), "ws");
    if (!is_array) throw std::invalid_argument("config.ws must be an array");
    uint32_t count = 0;
    check(napi_get_array_length(env, list, &count), "ws");
    for (uint32_t i = 0; i < count; ++i) {
        napi_value r;
        check(napi_get_element(env, list, i, &r), "ws[i]");
        const std::string where = "config.ws[" + std::to_string(i) + "]";
        napi_valuetype t;
        check(napi_typeof(env, r, &t), "typeof");
        if (t != napi_object) throw std::invalid_argument(where + " must be an object");
        WsRouteConfig route;
        napi_value path = get(env, r, "path");
        if (path == nullptr) throw std::invalid_argument(where + " needs a path");
        route.path = text(env, path, where + ".path");
        if (get(env, r, "id") == nullptr) throw std::invalid_argument(where + " needs an id");
        integer(env, r, "id", 0, INT32_MAX, where, &route.id);
        if (get(env, r, "upgradeId") != nullptr) {
            route.has_upgrade = true;
            integer(env, r, "upgradeId", 0, INT32_MAX, where, &route.upgrade_id);
        }
        integer(env, r, "maxPayload", 1, 1u << 30, where, &route.max_payload);
        integer(env, r, "maxBackpressure", 1, INT32_MAX, where, &route.max_backpressure);
        flag(env, r, "closeOnBackpressureLimit", where, &route.close_on_backpressure_limit);
        integer(env, r, "idleTimeout", 0, 24 * 3600, where, &route.idle_timeout_s);
        flag(env, r, "sendPings", where, &route.send_pings);
        if (napi_value list_v = get(env, r, "subprotocols")) {
            bool arr = false;
            check(napi_is_array(env, list_v, &arr), "subprotocols");
            if (!arr) throw std::invalid_argument(where + ".subprotocols must be an array");
            uint32_t n = 0;
            check(napi_get_array_length(env, list_v, &n), "subprotocols");
            for (uint32_t k = 0; k < n; ++k) {
                napi_value e;
                check(napi_get_element(env, list_v, k, &e), "subprotocols[k]");
                route.subprotocols.push_back(
                    text(env, e, where + ".subprotocols[" + std::to_string(k) + "]"));
            }
        }
        if (napi_value c = get(env, r, "compression")) {
            const std::string named = where + ".compression";
            net::ws::DeflateOptions& d = route.compression;
            flag(env, c, "enabled", named, &d.enabled);
            flag(env, c, "serverNoContextTakeover", named, &d.server_no_context_takeover);
            flag(env, c, "clientNoContextTakeover", named, &d.client_no_context_takeover);
            integer(env, c, "serverMaxWindowBits", 8, 15, named, &d.server_max_window_bits);
            integer(env, c, "level", 0, 9, named, &d.level);
            integer(env, c, "minSize", 0, INT32_MAX, named, &d.min_size);
        }
        server.ws(route.path, make_ws_behaviour(route));
    }
}

}  // namespace nexure::napi
