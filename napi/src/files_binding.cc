#include "napi/src/files_binding.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "napi/src/js_options.h"
#include "net/files/static_files.h"

namespace nexure::napi {

namespace {

// Option objects read through js_options.h; its errors name "fileAnswer()".
constexpr const char* kContext = "fileAnswer()";
void check(napi_status s, const char* what) { options::check(s, kContext, what); }
napi_value get(napi_env env, napi_value object, const char* name) {
    return options::get(env, object, name, kContext);
}
std::string text(napi_env env, napi_value v, const std::string& what) {
    return options::text(env, v, what, kContext);
}

bool flag(napi_env env, napi_value object, const char* name, bool fallback, const std::string& what) {
    napi_value v = get(env, object, name);
    if (v == nullptr) return fallback;
    bool b = false;
    if (napi_get_value_bool(env, v, &b) != napi_ok)
        throw std::invalid_argument(what + "." + name + " must be a boolean");
    return b;
}

files::StaticOptions read_options(napi_env env, napi_value o, const std::string& what) {
    files::StaticOptions options;
    if (o == nullptr) return options;
    if (napi_value v = get(env, o, "maxAge")) {
        double d = 0;
        if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d > 4294967295.0)
            throw std::invalid_argument(what + ".maxAge must be a number of seconds (0 .. 2^32-1)");
        options.max_age = static_cast<uint32_t>(d);
    }
    options.immutable = flag(env, o, "immutable", false, what);
    options.precompressed = flag(env, o, "precompressed", true, what);
    options.follow_symlinks = flag(env, o, "followSymlinks", true, what);
    options.redirect_directories = flag(env, o, "redirectDirectories", true, what);
    if (napi_value index = get(env, o, "index")) {
        bool is_array = false;
        check(napi_is_array(env, index, &is_array), "index");
        options.index.clear();
        napi_valuetype t;
        check(napi_typeof(env, index, &t), "index");
        if (t == napi_boolean) {
            bool b = false;
            check(napi_get_value_bool(env, index, &b), "index");
            if (b) options.index = {"index.html"};
        } else if (is_array) {
            uint32_t n = 0;
            check(napi_get_array_length(env, index, &n), "index");
            for (uint32_t i = 0; i < n; ++i) {
                napi_value e;
                check(napi_get_element(env, index, i, &e), "index");
                options.index.push_back(text(env, e, what + ".index[" + std::to_string(i) + "]"));
            }
        } else {
            options.index.push_back(text(env, index, what + ".index"));
        }
    }
    return options;
}

// The roots this JS thread has opened (a blocking open(O_PATH) the first time).
std::shared_ptr<const files::Root> root_for(const std::string& dir) {
    thread_local std::unordered_map<std::string, std::shared_ptr<const files::Root>> roots;
    auto it = roots.find(dir);
    if (it != roots.end()) return it->second;
    Result<std::shared_ptr<const files::Root>> r = files::Root::open(dir);
    if (!r) throw std::invalid_argument(r.error().message);
    if (roots.size() >= 64) roots.clear();
    return roots.emplace(dir, std::move(r.value())).first->second;
}

napi_value str(napi_env env, std::string_view s) {
    napi_value v;
    check(napi_create_string_utf8(env, s.data(), s.size(), &v), "create string");
    return v;
}
napi_value num(napi_env env, double d) {
    napi_value v;
    check(napi_create_double(env, d, &v), "create number");
    return v;
}
void put(napi_env env, napi_value o, const char* name, napi_value v) {
    check(napi_set_named_property(env, o, name, v), name);
}

}  // namespace

napi_value file_answer(napi_env env, napi_callback_info info) {
    try {
        size_t argc = 5;
        napi_value argv[5];
        check(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr), "arguments");
        if (argc < 5) throw std::invalid_argument("fileAnswer(root, name, url, fields, options)");
        const std::string root = text(env, argv[0], "fileAnswer(): root");
        const std::string name = text(env, argv[1], "fileAnswer(): name");
        bool url = false;
        check(napi_get_value_bool(env, argv[2], &url), "url");
        files::Conditions c;
        std::string accept_encoding;
        std::string* into[] = {nullptr, &c.if_none_match, &c.if_modified_since, &c.range,
                               &c.if_range, &accept_encoding};
        for (uint32_t i = 0; i < 6; ++i) {
            napi_value e;
            check(napi_get_element(env, argv[3], i, &e), "fields");
            const std::string v = text(env, e, "fileAnswer(): fields[" + std::to_string(i) + "]");
            if (i == 0)
                c.get = v == "GET";
            else
                *into[i] = v;
        }
        const files::StaticOptions options = read_options(env, argv[4], "fileAnswer(): options");
        const files::Decision d =
            files::decide_blocking(*root_for(root), name, url, c, accept_encoding, options);
        napi_value out;
        check(napi_create_object(env, &out), "result");
        put(env, out, "status", num(env, d.status));
        put(env, out, "errno", num(env, d.errno_value));
        if (d.head == nullptr) return out;
        put(env, out, "type", str(env, d.head->content_type()));
        napi_value headers;
        check(napi_create_array(env, &headers), "headers");
        // header_lines(): "Name: value\r\n" each, as the engine validated and formatted them.
        std::string_view lines = d.head->header_lines();
        uint32_t n = 0;
        while (!lines.empty()) {
            const size_t end = lines.find("\r\n");
            const std::string_view line = lines.substr(0, end);
            lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 2);
            const size_t colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            napi_value pair;
            check(napi_create_array_with_length(env, 2, &pair), "pair");
            check(napi_set_element(env, pair, 0, str(env, line.substr(0, colon))), "name");
            check(napi_set_element(env, pair, 1, str(env, line.substr(colon + 2))), "value");
            check(napi_set_element(env, headers, n++, pair), "headers");
        }
        put(env, out, "headers", headers);
        put(env, out, "path", str(env, d.path));
        put(env, out, "offset", num(env, static_cast<double>(d.offset)));
        put(env, out, "length", num(env, static_cast<double>(d.length)));
        put(env, out, "etag", str(env, d.etag));
        return out;
    } catch (const std::exception& e) {
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (!pending) napi_throw_error(env, nullptr, e.what());
        return nullptr;
    }
}

void add_static_route(napi_env env, napi_value options, net::Server& server, net::http::Method method,
                      const std::string& path, const std::string& what) {
    napi_valuetype t;
    check(napi_typeof(env, options, &t), "static");
    if (t != napi_object) throw std::invalid_argument(what + ": static must be an object");
    napi_value root_v = get(env, options, "root");
    if (root_v == nullptr) throw std::invalid_argument(what + ": static.root is missing");
    const std::string root = text(env, root_v, what + ": static.root");
    server.route(method, path, files::static_files(root, read_options(env, options, what + ": static")));
}

}  // namespace nexure::napi
