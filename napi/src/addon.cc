// The N-API module `nexurejs.node`: module init, one Instance per env, the binding functions of
// napi/PROTOCOL.md, the JS doorbell (an eventfd the workers write, watched with a uv_poll_t on
// the env's loop) and teardown (napi/GROUNDWORK.md section 4).
//
// Everything here runs on the JS thread of one env (the main thread or a worker_threads
// Worker). Engine threads never come here: they reach this thread only through the rings and
// the eventfd (worker_bridge.cc), and NAPI() aborts if a napi call is ever made on one.
#include <node_api.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <unordered_map>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/worker.h"
#include "napi/src/channel.h"
#include "napi/src/files_binding.h"
#include "napi/src/hub.h"
#include "napi/src/js_side.h"
#include "napi/src/thread_role.h"
#include "napi/src/thread_side.h"
#include "napi/src/worker_bridge.h"
#include "napi/src/ws_binding.h"
#include "net/http/method.h"
#include "net/router/router.h"
#include "net/server.h"

namespace nexure::napi {

namespace {

using net::http::Method;
namespace router = net::router;

[[noreturn, gnu::cold]] void fatal(const char* why) {
    std::fprintf(stderr, "nexurejs: fatal: %s\n", why);
    std::abort();
}

// Every napi call goes through this check first: a napi call from an engine thread would
// corrupt V8 silently, so it is made impossible instead.
inline void guard() noexcept {
    if (on_engine_thread()) [[unlikely]]
        fatal("napi call on an engine thread");
}

// Thrown inside binding functions when a napi call failed; turned into a JS exception (or the
// pending one is left in place) at the binding's boundary.
struct NapiFailed {};

#define NAPI(call)                                                 \
    do {                                                           \
        ::nexure::napi::guard();                                   \
        if ((call) != napi_ok) throw ::nexure::napi::NapiFailed{}; \
    } while (0)

// A failed system call (binding the port, ...): thrown to JavaScript with the errno's name as
// the error's `code` (EADDRINUSE, EACCES, ...), as Node's own errors carry it.
struct SystemError : std::runtime_error {
    SystemError(int code, const std::string& message)
        : std::runtime_error(message), errno_value(code) {}
    int errno_value;
};

// Runs `body` and converts C++ exceptions into JS exceptions. Only for the JS thread.
template <typename F>
napi_value boundary(napi_env env, F&& body) noexcept {
    guard();
    try {
        return body();
    } catch (const NapiFailed&) {
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (!pending) {
            const napi_extended_error_info* info = nullptr;
            napi_get_last_error_info(env, &info);
            napi_throw_error(
                env, nullptr,
                info && info->error_message ? info->error_message : "napi call failed");
        }
    } catch (const std::bad_alloc&) {
        napi_throw_error(env, nullptr, "nexurejs: out of memory");
    } catch (const SystemError& e) {
        napi_throw_error(env, e.errno_value > 0 ? strerrorname_np(e.errno_value) : nullptr,
                         e.what());
    } catch (const std::exception& e) {
        napi_throw_error(env, nullptr, e.what());
    }
    return nullptr;
}

// ---- request ring sizing --------------------------------------------------------------------

constexpr size_t kMiB = 1024 * 1024;
constexpr size_t kResponseRingBytes = 4 * kMiB;

// Room for two of the largest request records the limits allow (a record holds up to
// capacity/2 - 8 bytes; engine/mailbox.h), never less than 4 MiB.
size_t request_ring_bytes(const net::http::Limits& limits) {
    const size_t record = limits.max_body_size + limits.max_head_size +
                          size_t{16} * (limits.max_header_count + net::http::Request::kMaxParams) +
                          64 * 1024;
    const size_t want = std::max<size_t>(4 * kMiB, 2 * record);
    size_t capacity = engine::Mailbox::kMinCapacity;
    while (capacity < want) {
        if (capacity >= engine::Mailbox::kMaxCapacity) {
            throw std::invalid_argument(
                "limits.maxBodySize + limits.maxHeadSize are too large for the bridge's request "
                "ring (at most 512 MiB together)");
        }
        capacity <<= 1;
    }
    return capacity;
}

// ---- instance and servers -------------------------------------------------------------------

struct ServerObject;

// One per env (napi_set_instance_data): the env's live servers and its teardown state.
struct Instance {
    napi_env env = nullptr;
    std::vector<ServerObject*> servers;
    napi_async_cleanup_hook_handle async_hook = nullptr;
    uint32_t closing = 0;  // uv handles whose close callback is pending during teardown
    bool tearing_down = false;
};

// The JS doorbell: an eventfd the workers write, watched on the env's loop.
struct Doorbell {
    uv_poll_t poll;
    int fd = -1;
    ServerObject* owner = nullptr;        // null once the server let go of it
    Instance* teardown_waiter = nullptr;  // set when closed by the env's async cleanup hook
};

// A route as match() reports it.
struct MatchRoute {
    router::HandlerKind kind = router::HandlerKind::kJavaScript;
    uint32_t id = 0;
    net::FixedResponse fixed;
    net::RouteOptions options;  // a JavaScript route: a streamed body and its limit
};

constexpr uint64_t kServerMagic = 0x6e657875726573ull;  // "nexures"

struct ServerObject {
    uint64_t magic = kServerMagic;
    Instance* instance = nullptr;
    napi_env env = nullptr;
    std::unique_ptr<net::Server> server;
    std::unique_ptr<BridgeRegistry> registry = std::make_unique<BridgeRegistry>();
    std::unique_ptr<JsSide> js;
    // createServer's `jsThreads` (> 1): start() builds the hub that shares the requests out to
    // that many JavaScript threads (hub.h); this thread then runs no handler.
    uint32_t js_threads = 1;
    Ref<Hub> hub;
    uint64_t hub_token = 0;
    // A handle of attachThread(): one of those JavaScript threads (no server of its own).
    std::unique_ptr<ThreadSide> thread;
    router::Router routes{};  // a copy of the route table for match()
    std::vector<MatchRoute> match_routes;
    napi_ref drain = nullptr;
    napi_async_context async = nullptr;
    napi_ref views = nullptr;    // Array of the request rings' ArrayBuffers
    napi_ref staging = nullptr;  // ArrayBuffer
    napi_ref index = nullptr;    // Uint32Array
    Doorbell* doorbell = nullptr;
    bool started = false;
    bool stop_requested = false;
    bool destroyed = false;
    // Left running at process exit (shutdownAll): its workers may still write the eventfd, so
    // the descriptor is never closed (a reused number would receive their writes).
    bool abandoned = false;
    net::Server* abandoned_server = nullptr;  // kept reachable (leak checkers), never freed
    JsSide* abandoned_js = nullptr;
    // Inside call_drain(): the drain function and async context are in use, so release_js()
    // leaves their release to call_drain().
    bool in_drain = false;

    // Stops the workers and joins them (bounded by drainTimeoutMs), then frees the native
    // state. No napi call: safe in the env cleanup hook.
    void join() noexcept {
        thread.reset();  // a jsThreads thread leaves its lane (Hub::detach)
        forget_hub();
        if (server) {
            abandon_requests();
            server->stop();
            server.reset();  // ~Server joins the workers
        }
        js.reset();
        registry->channels.clear();
        // After the join no worker writes the eventfd; the doorbell closes it in its close
        // callback.
    }

    // JS will answer nothing more: the stopping workers answer what waits 503 at once instead
    // of holding its connections until drainTimeoutMs (net::Handoff::abandoned()).
    void abandon_requests() noexcept {
        if (!started) return;
        std::lock_guard lock(registry->mutex);
        for (const Ref<Channel>& ch : registry->channels) {
            ch->js_gone.store(true, std::memory_order_release);
            ch->worker()->wake();  // a worker that stops already may be asleep
        }
    }

    // Lets go of the napi references and closes the doorbell. JS thread, loop alive.
    void release_js(Instance* waiter) noexcept;
    // The hub is no longer reachable by attachThread(), and never rings this doorbell again.
    void forget_hub() noexcept;

    void destroy() noexcept {
        if (destroyed) return;
        destroyed = true;
        join();
        release_js(nullptr);
    }

    void call_drain() noexcept;
};

std::atomic<int64_t> g_servers{0};  // live ServerObjects (tests: binding.__stats())

void on_doorbell_closed(uv_handle_t* handle) {
    auto* d = static_cast<Doorbell*>(handle->data);
    if (d->fd >= 0) close(d->fd);
    Instance* waiter = d->teardown_waiter;
    delete d;
    if (waiter != nullptr && --waiter->closing == 0 && waiter->async_hook != nullptr) {
        napi_async_cleanup_hook_handle hook = std::exchange(waiter->async_hook, nullptr);
        napi_remove_async_cleanup_hook(hook);
    }
}

// The hubs of running servers, by the token start() reports (attachThread's first argument).
std::mutex g_hubs_mutex;
std::unordered_map<uint64_t, Ref<Hub>> g_hubs;
uint64_t g_next_hub = 1;

void ServerObject::forget_hub() noexcept {
    if (!hub) return;
    {
        std::lock_guard lock(g_hubs_mutex);
        g_hubs.erase(hub_token);
    }
    hub->forget_main();
    hub = Ref<Hub>();
}

// A server with a hub: its doorbell moves records between the engine and the JavaScript
// threads without calling JavaScript, until the engine has ended.
bool pump_hub(Doorbell* d, ServerObject* s) noexcept {
    if (!s->hub || !s->js) return false;
    if (s->js->all_finished()) {
        s->hub->finish();  // the threads see stopped(); the drain below sees it here
        return false;
    }
    // At most 64 pulls per callback, so that the loop's other work runs; then come back.
    if (s->hub->pump(*s->js, 64)) {
        const uint64_t one = 1;
        (void)!write(d->fd, &one, sizeof(one));
    }
    return true;
}

void on_doorbell(uv_poll_t* handle, int status, int /*events*/) {
    auto* d = static_cast<Doorbell*>(handle->data);
    uint64_t count;
    (void)!read(d->fd, &count, sizeof(count));  // resets the eventfd (nonblocking)
    ServerObject* s = d->owner;
    if (s == nullptr || status < 0) return;
    if (pump_hub(d, s)) return;
    // Read before drain() runs: only a worker that had ended by then is one drain() has seen. The
    // last worker may end while drain() runs (after it looked); it rings once more, and that ring
    // must still find the poll armed, or close() would wait forever on a loop with nothing left.
    const bool ended_before = s->js && s->js->all_finished();
    s->call_drain();
    // drain() may have destroyed the server; `d` stays valid until its close callback.
    if (ended_before && s->doorbell == d && s->js &&
        !uv_is_closing(reinterpret_cast<uv_handle_t*>(&d->poll))) {
        // Every worker ended and drain() has seen it: nothing rings any more, and a stopped
        // server must not keep the loop alive.
        uv_poll_stop(&d->poll);
    }
}

void ServerObject::call_drain() noexcept {
    guard();
    if (drain == nullptr) return;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value fn = nullptr;
    napi_value global = nullptr;
    napi_value result = nullptr;
    if (napi_get_reference_value(env, drain, &fn) == napi_ok && fn != nullptr &&
        napi_get_global(env, &global) == napi_ok) {
        // recv must be an object (undefined leaves a pending TypeError and JS never runs:
        // GROUNDWORK pitfalls). napi_make_callback runs the microtasks afterwards.
        in_drain = true;
        const napi_status st = napi_make_callback(env, async, global, fn, 0, nullptr, &result);
        in_drain = false;
        if (st == napi_pending_exception) {
            napi_value error;
            if (napi_get_and_clear_last_exception(env, &error) == napi_ok) {
                napi_fatal_exception(env, error);  // as an uncaught exception of the drain
            }
        }
        // Any other failure means the env is going away (worker.terminate()): nothing to do.
    }
    napi_close_handle_scope(env, scope);
    if (destroyed) release_js(nullptr);  // what drain() destroyed while it ran
}

void ServerObject::release_js(Instance* waiter) noexcept {
    guard();
    for (napi_ref* ref : {&views, &staging, &index}) {
        if (*ref != nullptr) napi_delete_reference(env, std::exchange(*ref, nullptr));
    }
    if (!in_drain) {
        if (drain != nullptr) napi_delete_reference(env, std::exchange(drain, nullptr));
        if (async != nullptr) napi_async_destroy(env, std::exchange(async, nullptr));
    }
    if (Doorbell* d = std::exchange(doorbell, nullptr)) {
        d->owner = nullptr;
        if (abandoned) d->fd = -1;
        d->teardown_waiter = waiter;
        if (waiter != nullptr) ++waiter->closing;
        uv_close(reinterpret_cast<uv_handle_t*>(&d->poll), on_doorbell_closed);
    } else if (registry->js_doorbell_fd >= 0 && !abandoned) {
        close(registry->js_doorbell_fd);
    }
    registry->js_doorbell_fd = -1;
}

// The env cleanup hook: stop and join every engine thread of this env. Registered again after
// each start() so that it stays the last one registered, and hooks run in reverse order: it
// runs before anything the server's uv handle or references depend on is torn down.
void env_cleanup(void* arg) {
    auto* inst = static_cast<Instance*>(arg);
    inst->tearing_down = true;
    for (ServerObject* s : inst->servers)
        s->join();
}

// The async cleanup hook: release the references and close the uv handles; the hook is
// removed once the last close callback ran, so that the env's loop closes with nothing open.
void env_async_cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
    auto* inst = static_cast<Instance*>(arg);
    inst->tearing_down = true;
    inst->async_hook = handle;
    for (ServerObject* s : inst->servers) {
        s->destroyed = true;
        s->join();
        s->release_js(inst);
    }
    if (inst->closing == 0) {
        inst->async_hook = nullptr;
        napi_remove_async_cleanup_hook(handle);
    }
}

void finalize_instance(napi_env /*env*/, void* data, void* /*hint*/) {
    auto* inst = static_cast<Instance*>(data);
    for (ServerObject* s : inst->servers) {
        s->join();
        s->instance = nullptr;
    }
    delete inst;
}

void finalize_server(napi_env /*env*/, void* data, void* /*hint*/) {
    auto* s = static_cast<ServerObject*>(data);
    if (s->instance != nullptr) {
        auto& list = s->instance->servers;
        list.erase(std::remove(list.begin(), list.end(), s), list.end());
        if (!s->destroyed) s->destroy();
    } else {
        s->join();  // the env is gone: no napi references to release any more
    }
    s->magic = 0;
    delete s;
    g_servers.fetch_sub(1, std::memory_order_relaxed);
}

void finalize_ref(napi_env /*env*/, void* /*data*/, void* hint) {
    static_cast<RefCounted*>(hint)->unref();
}

// ---- argument helpers -----------------------------------------------------------------------

Instance* instance_of(napi_env env) {
    void* data = nullptr;
    NAPI(napi_get_instance_data(env, &data));
    if (data == nullptr)
        throw std::logic_error("nexurejs: the addon is not initialised in this env");
    return static_cast<Instance*>(data);
}

template <size_t N>
std::array<napi_value, N> args(napi_env env, napi_callback_info info, size_t required) {
    std::array<napi_value, N> argv{};
    size_t argc = N;
    NAPI(napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr));
    if (argc < required) {
        throw std::invalid_argument("expected " + std::to_string(required) + " arguments");
    }
    return argv;
}

napi_valuetype type_of(napi_env env, napi_value v) {
    napi_valuetype t;
    NAPI(napi_typeof(env, v, &t));
    return t;
}

ServerObject* server_of(napi_env env, napi_value v) {
    void* data = nullptr;
    if (v == nullptr || type_of(env, v) != napi_external ||
        napi_get_value_external(env, v, &data) != napi_ok || data == nullptr ||
        static_cast<ServerObject*>(data)->magic != kServerMagic) {
        throw std::invalid_argument("expected a server handle from createServer()");
    }
    return static_cast<ServerObject*>(data);
}

std::string string_of(napi_env env, napi_value v, const std::string& what) {
    if (type_of(env, v) != napi_string) throw std::invalid_argument(what + " must be a string");
    size_t length = 0;
    NAPI(napi_get_value_string_utf8(env, v, nullptr, 0, &length));
    std::string s(length, '\0');
    NAPI(napi_get_value_string_utf8(env, v, s.data(), length + 1, &length));
    return s;
}

// A property, or null when it is absent or undefined.
napi_value property(napi_env env, napi_value object, const char* name) {
    if (object == nullptr) return nullptr;
    bool has = false;
    NAPI(napi_has_named_property(env, object, name, &has));
    if (!has) return nullptr;
    napi_value v;
    NAPI(napi_get_named_property(env, object, name, &v));
    const napi_valuetype t = type_of(env, v);
    return t == napi_undefined ? nullptr : v;
}

napi_value object_property(napi_env env, napi_value object, const char* name,
                           const std::string& what) {
    napi_value v = property(env, object, name);
    if (v != nullptr && type_of(env, v) != napi_object) {
        throw std::invalid_argument(what + " must be an object");
    }
    return v;
}

template <typename T>
void read_uint(napi_env env, napi_value object, const char* name, const std::string& what,
               uint64_t min, uint64_t max, T* out) {
    napi_value v = property(env, object, name);
    if (v == nullptr) return;
    double d = 0;
    if (type_of(env, v) != napi_number || napi_get_value_double(env, v, &d) != napi_ok ||
        !(d >= static_cast<double>(min) && d <= static_cast<double>(max)) ||
        d != static_cast<double>(static_cast<uint64_t>(d))) {
        throw std::invalid_argument(what + " must be an integer from " + std::to_string(min) +
                                    " to " + std::to_string(max));
    }
    *out = static_cast<T>(d);
}

void read_bool(napi_env env, napi_value object, const char* name, const std::string& what,
               bool* out) {
    napi_value v = property(env, object, name);
    if (v == nullptr) return;
    if (type_of(env, v) != napi_boolean) throw std::invalid_argument(what + " must be a boolean");
    NAPI(napi_get_value_bool(env, v, out));
}

// Bytes of a Buffer, TypedArray, DataView, ArrayBuffer or string.
std::string bytes_of(napi_env env, napi_value v, const std::string& what) {
    if (type_of(env, v) == napi_string) return string_of(env, v, what);
    bool is = false;
    void* data = nullptr;
    size_t length = 0;
    NAPI(napi_is_typedarray(env, v, &is));
    if (is) {
        napi_typedarray_type type;
        size_t count = 0;
        napi_value ab;
        size_t offset = 0;
        NAPI(napi_get_typedarray_info(env, v, &type, &count, &data, &ab, &offset));
        size_t element = 1;
        switch (type) {
            case napi_int16_array:
            case napi_uint16_array:
                element = 2;
                break;
            case napi_int32_array:
            case napi_uint32_array:
            case napi_float32_array:
                element = 4;
                break;
            case napi_float64_array:
            case napi_bigint64_array:
            case napi_biguint64_array:
                element = 8;
                break;
            default:
                break;
        }
        return std::string(static_cast<const char*>(data), count * element);
    }
    NAPI(napi_is_dataview(env, v, &is));
    if (is) {
        napi_value ab;
        size_t offset = 0;
        NAPI(napi_get_dataview_info(env, v, &length, &data, &ab, &offset));
        return std::string(static_cast<const char*>(data), length);
    }
    NAPI(napi_is_arraybuffer(env, v, &is));
    if (is) {
        NAPI(napi_get_arraybuffer_info(env, v, &data, &length));
        return std::string(static_cast<const char*>(data), length);
    }
    throw std::invalid_argument(what +
                                " must be a Buffer, a TypedArray, an ArrayBuffer or a string");
}

napi_value make_string(napi_env env, std::string_view s) {
    napi_value v;
    NAPI(napi_create_string_latin1(env, s.data(), s.size(), &v));
    return v;
}

napi_value make_uint(napi_env env, uint32_t n) {
    napi_value v;
    NAPI(napi_create_uint32(env, n, &v));
    return v;
}

void set(napi_env env, napi_value object, const char* name, napi_value v) {
    NAPI(napi_set_named_property(env, object, name, v));
}

napi_value make_buffer(napi_env env, std::string_view bytes) {
    napi_value v;
    void* data = nullptr;
    NAPI(napi_create_buffer_copy(env, bytes.size(), bytes.data(), &data, &v));
    return v;
}

// The methods an 'ALL' route registers. HEAD is left out on purpose: the router serves HEAD with
// the GET route when there is no HEAD route (the engine then sends the head only), so an 'ALL'
// route still answers HEAD, and an explicit HEAD route may be added next to it. OPTIONS is in, as
// in Express's app.all: the handler answers it (instead of the engine's automatic 204 + Allow).
// CONNECT and TRACE are not: a handler almost never means them, and TRACE reflects requests.
constexpr std::array<Method, 6> kAllMethods = {Method::kGet,    Method::kPost,  Method::kPut,
                                               Method::kDelete, Method::kPatch, Method::kOptions};

std::vector<Method> methods_of(const std::string& name, const std::string& what) {
    if (name == "ALL") return {kAllMethods.begin(), kAllMethods.end()};
    // Every method the engine does not name (WebDAV's and others): nexurejs/http's catch-all.
    if (name == "OTHER") return {Method::kOther};
    Method m;
    if (!net::http::parse_method(name, &m)) {
        throw std::invalid_argument(what + ": unknown method '" + name +
                                    "' (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, "
                                    "PATCH, OTHER or ALL, upper case)");
    }
    return {m};
}

// ---- compression (net/http/compression.h) ---------------------------------------------------

std::vector<net::http::ContentCoding> codings_of(napi_env env, napi_value v,
                                                 const std::string& what) {
    auto r = net::http::parse_codings(string_of(env, v, what));
    if (!r) throw std::invalid_argument(what + ": " + r.error().message);
    return std::move(r).value();
}

// config.compression: {enabled, threshold, encodings: 'br,gzip', levels: {gzip, brotli, zstd}}
void read_compression(napi_env env, napi_value v, net::http::CompressionConfig& c) {
    read_bool(env, v, "enabled", "config.compression.enabled", &c.enabled);
    read_uint(env, v, "threshold", "config.compression.threshold", 0, UINT32_MAX, &c.threshold);
    if (napi_value e = property(env, v, "encodings"))
        c.encodings = codings_of(env, e, "config.compression.encodings");
    if (napi_value l = object_property(env, v, "levels", "config.compression.levels")) {
        read_uint(env, l, "gzip", "config.compression.levels.gzip", 1, 9, &c.levels.gzip);
        read_uint(env, l, "brotli", "config.compression.levels.brotli", 0, 11, &c.levels.brotli);
        read_uint(env, l, "zstd", "config.compression.levels.zstd", 1, 19, &c.levels.zstd);
    }
}

// A route's `compression` ('on', 'off', 'inherit') and `encodings` ('gzip,br').
net::http::RouteCompression route_compression(napi_env env, napi_value r,
                                              const std::string& named) {
    using Mode = net::http::RouteCompression::Mode;
    net::http::RouteCompression rc;
    if (napi_value m = property(env, r, "compression")) {
        const std::string mode = string_of(env, m, named + ": compression");
        if (mode == "on") {
            rc.mode = Mode::kOn;
        } else if (mode == "off") {
            rc.mode = Mode::kOff;
        } else if (mode != "inherit") {
            throw std::invalid_argument(named + ": compression must be 'on', 'off' or 'inherit'");
        }
    }
    if (napi_value e = property(env, r, "encodings"))
        rc.encodings = codings_of(env, e, named + ": encodings");
    return rc;
}

// chooseCoding(acceptEncoding, offered) → 'gzip' | 'br' | 'zstd' | 'identity': the engine's own
// negotiation (net/http/accept_encoding.h), for inject().
napi_value choose_coding(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<2>(env, info, 2);
        const std::string accept = string_of(env, argv[0], "chooseCoding(): acceptEncoding");
        const auto offered = codings_of(env, argv[1], "chooseCoding(): offered");
        return make_string(env, net::http::coding_token(net::http::choose_coding(accept, offered)));
    });
}

// compressibleType(contentType) → boolean (net/http/compression.h), for inject().
napi_value compressible_type(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        napi_value out;
        NAPI(napi_get_boolean(
            env, net::http::compressible_type(string_of(env, argv[0], "compressibleType(): type")),
            &out));
        return out;
    });
}

// ---- createServer ---------------------------------------------------------------------------

net::ServerConfig read_config(napi_env env, napi_value config) {
    net::ServerConfig c;
    c.port = 0;
    if (napi_value host = property(env, config, "host"))
        c.host = string_of(env, host, "config.host");
    read_uint(env, config, "port", "config.port", 0, 65535, &c.port);
    read_uint(env, config, "threads", "config.threads", 0, 1024, &c.threads);
    read_bool(env, config, "pinThreads", "config.pinThreads", &c.pin_threads);
    constexpr uint64_t kMaxMs = 24ull * 24 * 3600 * 1000;  // timeouts are at most 24 days
    read_uint(env, config, "handlerTimeoutMs", "config.handlerTimeoutMs", 0, kMaxMs,
              &c.handler_timeout_ms);
    read_uint(env, config, "idleTimeoutMs", "config.idleTimeoutMs", 0, kMaxMs, &c.idle_timeout_ms);
    read_uint(env, config, "drainTimeoutMs", "config.drainTimeoutMs", 0, kMaxMs,
              &c.drain_timeout_ms);
    read_uint(env, config, "maxConnectionsPerWorker", "config.maxConnectionsPerWorker", 1,
              UINT32_MAX, &c.max_connections_per_worker);
    if (napi_value limits = object_property(env, config, "limits", "config.limits")) {
        read_uint(env, limits, "maxBodySize", "config.limits.maxBodySize", 0, 256 * kMiB,
                  &c.limits.max_body_size);
        read_uint(env, limits, "maxHeadSize", "config.limits.maxHeadSize", 1024, 16 * kMiB,
                  &c.limits.max_head_size);
        read_uint(env, limits, "maxHeaderCount", "config.limits.maxHeaderCount", 1, 65536,
                  &c.limits.max_header_count);
        read_uint(env, limits, "maxTargetSize", "config.limits.maxTargetSize", 16, 16 * kMiB,
                  &c.limits.max_target_size);
    }
    if (napi_value comp = object_property(env, config, "compression", "config.compression"))
        read_compression(env, comp, c.compression);
    if (napi_value routing = object_property(env, config, "routing", "config.routing")) {
        read_bool(env, routing, "ignoreTrailingSlash", "config.routing.ignoreTrailingSlash",
                  &c.routing.ignore_trailing_slash);
        read_bool(env, routing, "caseInsensitive", "config.routing.caseInsensitive",
                  &c.routing.case_insensitive);
    }
    return c;
}

void add_routes(napi_env env, napi_value config, ServerObject& s) {
    napi_value routes = property(env, config, "routes");
    if (routes == nullptr) return;
    bool is_array = false;
    NAPI(napi_is_array(env, routes, &is_array));
    if (!is_array) throw std::invalid_argument("config.routes must be an array");
    uint32_t count = 0;
    NAPI(napi_get_array_length(env, routes, &count));
    for (uint32_t i = 0; i < count; ++i) {
        napi_value r;
        NAPI(napi_get_element(env, routes, i, &r));
        const std::string where = "config.routes[" + std::to_string(i) + "]";
        if (type_of(env, r) != napi_object)
            throw std::invalid_argument(where + " must be an object");
        napi_value method_v = property(env, r, "method");
        napi_value path_v = property(env, r, "path");
        if (method_v == nullptr || path_v == nullptr) {
            throw std::invalid_argument(where + " needs a method and a path");
        }
        const std::string method = string_of(env, method_v, where + ".method");
        const std::string path = string_of(env, path_v, where + ".path");
        const std::string named = "route " + method + " " + path;
        MatchRoute m;
        napi_value fixed = object_property(env, r, "fixed", where + ".fixed");
        napi_value id_v = property(env, r, "id");
        napi_value static_v = property(env, r, "static");
        if ((fixed == nullptr) == (id_v == nullptr)) {
            throw std::invalid_argument(named +
                                        ": give either an id (a JavaScript route) or a "
                                        "fixed response, not both");
        }
        if (fixed != nullptr) {
            m.kind = router::HandlerKind::kFixed;
            read_uint(env, fixed, "status", named + ": fixed.status", 100, 599, &m.fixed.status);
            if (napi_value headers = property(env, fixed, "headers")) {
                bool arr = false;
                NAPI(napi_is_array(env, headers, &arr));
                if (!arr) throw std::invalid_argument(named + ": fixed.headers must be an array");
                uint32_t n = 0;
                NAPI(napi_get_array_length(env, headers, &n));
                for (uint32_t k = 0; k < n; ++k) {
                    napi_value pair;
                    NAPI(napi_get_element(env, headers, k, &pair));
                    bool pair_arr = false;
                    NAPI(napi_is_array(env, pair, &pair_arr));
                    uint32_t pair_n = 0;
                    if (pair_arr) NAPI(napi_get_array_length(env, pair, &pair_n));
                    if (pair_n != 2) {
                        throw std::invalid_argument(named + ": fixed.headers[" + std::to_string(k) +
                                                    "] must be [name, value]");
                    }
                    napi_value name_v, value_v;
                    NAPI(napi_get_element(env, pair, 0, &name_v));
                    NAPI(napi_get_element(env, pair, 1, &value_v));
                    m.fixed.headers.emplace_back(
                        string_of(env, name_v, named + ": a header name"),
                        string_of(env, value_v, named + ": a header value"));
                }
            }
            if (napi_value body = property(env, fixed, "body")) {
                m.fixed.body = bytes_of(env, body, named + ": fixed.body");
            }
        } else {
            m.kind = router::HandlerKind::kJavaScript;
            read_uint(env, r, "id", named + ": id", 0, UINT32_MAX, &m.id);
            // A streamed body (napi/PROTOCOL.md, "Event records"): { streamBody, bodyLimit }.
            read_bool(env, r, "streamBody", named + ": streamBody", &m.options.stream_body);
            read_uint(env, r, "bodyLimit", named + ": bodyLimit", 0, uint64_t{1} << 53,
                      &m.options.max_body_size);
        }
        const net::http::RouteCompression compression = route_compression(env, r, named);
        const uint32_t slot = static_cast<uint32_t>(s.match_routes.size());
        for (Method method_code : methods_of(method, named)) {
            // The engine's own checks first (they throw std::invalid_argument naming the route
            // and the rule); the match() copy then accepts the same route.
            if (m.kind == router::HandlerKind::kFixed) {
                s.server->fixed(method_code, path, m.fixed);
            } else if (static_v != nullptr) {
                // Served by the engine (napi/src/files_binding.h); match() still reports the
                // JavaScript route `id`, which inject() runs to answer the same way.
                add_static_route(env, static_v, *s.server, method_code, path, named);
            } else {
                m.options.compression = compression;
                s.server->handoff_route(method_code, path, m.id, m.options);
            }
            s.routes.add(method_code, path, router::RouteMeta{.handler = slot, .kind = m.kind});
        }
        s.match_routes.push_back(std::move(m));
    }
}

napi_value create_server(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<2>(env, info, 2);
        if (type_of(env, argv[0]) != napi_object) {
            throw std::invalid_argument("createServer(config, drain): config must be an object");
        }
        if (type_of(env, argv[1]) != napi_function) {
            throw std::invalid_argument("createServer(config, drain): drain must be a function");
        }
        Instance* inst = instance_of(env);
        auto s = std::make_unique<ServerObject>();
        s->env = env;
        net::ServerConfig config = read_config(env, argv[0]);
        s->registry->request_capacity = request_ring_bytes(config.limits);
        s->registry->response_capacity = kResponseRingBytes;
        // Test hook: a tiny response ring makes the JS side's overflow path run
        // (tests/napi/native/roundtrip.test.js). A power of two from 4 KiB.
        read_uint(env, argv[0], "__testResponseRingBytes", "config.__testResponseRingBytes",
                  engine::Mailbox::kMinCapacity, kResponseRingBytes,
                  &s->registry->response_capacity);
        s->routes = router::Router(config.routing);
        s->server = std::make_unique<net::Server>(std::move(config));
        add_routes(env, argv[0], *s);
        add_ws_routes(env, argv[0], *s->server);  // app.ws() routes (ws_binding.h)
        // The handler id of the engine's own answers the app handles (405, OPTIONS, 413:
        // PROTOCOL.md, request flag bit 1); absent: the engine answers them itself.
        uint32_t engine_answers = UINT32_MAX;
        read_uint(env, argv[0], "engineAnswers", "config.engineAnswers", 0, INT32_MAX,
                  &engine_answers);
        if (engine_answers != UINT32_MAX) s->server->handoff_engine_answers(engine_answers);
        read_uint(env, argv[0], "jsThreads", "config.jsThreads", 1, 256, &s->js_threads);
        BridgeRegistry* registry = s->registry.get();
        registry->server = s->server.get();
        s->server->set_handoff(
            [registry](engine::Worker& worker) { return make_worker_bridge(worker, *registry); });
        NAPI(napi_create_reference(env, argv[1], 1, &s->drain));
        napi_value resource_name = make_string(env, "nexurejs:drain");
        NAPI(napi_async_init(env, nullptr, resource_name, &s->async));

        napi_value handle;
        ServerObject* raw = s.get();
        if (napi_create_external(env, raw, finalize_server, nullptr, &handle) != napi_ok) {
            raw->release_js(nullptr);
            throw NapiFailed{};
        }
        (void)s.release();  // owned by the handle's finalizer from here on
        g_servers.fetch_add(1, std::memory_order_relaxed);
        raw->instance = inst;
        inst->servers.push_back(raw);
        return handle;
    });
}

// ---- start ----------------------------------------------------------------------------------

napi_value external_arraybuffer(napi_env env, char* data, size_t size, RefCounted* owner) {
    owner->ref();
    napi_value ab;
    if (napi_create_external_arraybuffer(env, data, size, finalize_ref, owner, &ab) != napi_ok) {
        owner->unref();
        throw NapiFailed{};
    }
    return ab;
}

// Watches `fd` (an eventfd) on the env's loop: the drain runs when it is written. The doorbell
// owns the descriptor from here on, and closes it.
void open_doorbell(napi_env env, ServerObject& s, int fd) {
    uv_loop_t* loop = nullptr;
    NAPI(napi_get_uv_event_loop(env, &loop));
    auto* d = new Doorbell();
    d->fd = fd;
    d->owner = &s;
    d->poll.data = d;
    if (const int rc = uv_poll_init(loop, &d->poll, d->fd); rc != 0) {
        delete d;
        throw std::runtime_error(std::string("uv_poll_init failed: ") + uv_strerror(rc));
    }
    s.doorbell = d;
    if (const int rc = uv_poll_start(&d->poll, UV_READABLE, on_doorbell); rc != 0) {
        throw std::runtime_error(std::string("uv_poll_start failed: ") + uv_strerror(rc));
    }
}

// The staging buffer and the index as JS sees them (binding.staging(), binding.index()).
void expose_blocks(napi_env env, ServerObject& s, const Ref<Block>& staging_block,
                   const Ref<Block>& index_block) {
    napi_value staging = external_arraybuffer(env, staging_block->data(), staging_block->size(),
                                              staging_block.get());
    napi_value index_ab =
        external_arraybuffer(env, index_block->data(), index_block->size(), index_block.get());
    napi_value index;
    NAPI(napi_create_typedarray(env, napi_uint32_array, index_block->size() / sizeof(uint32_t),
                                index_ab, 0, &index));
    NAPI(napi_create_reference(env, staging, 1, &s.staging));
    NAPI(napi_create_reference(env, index, 1, &s.index));
}

void start_js_side(napi_env env, ServerObject& s) {
    BridgeRegistry& reg = *s.registry;
    const unsigned threads = s.server->threads();
    if (reg.channels.size() != threads || std::any_of(reg.channels.begin(), reg.channels.end(),
                                                      [](const Ref<Channel>& c) { return !c; })) {
        throw std::runtime_error(
            "the engine started without building the JavaScript bridge on every worker "
            "(net::Server::set_handoff)");
    }
    net::Server* server = s.server.get();
    auto js = std::make_unique<JsSide>(reg.channels,
                                       [server] { return server->publish_backlog(); });
    if (!js->ok()) throw std::bad_alloc();

    napi_value views;
    NAPI(napi_create_array_with_length(env, threads, &views));
    for (uint32_t i = 0; i < threads; ++i) {
        Channel* c = reg.channels[i].get();
        NAPI(napi_set_element(
            env, views, i,
            external_arraybuffer(env, c->requests().buffer(), c->requests().capacity(), c)));
    }
    NAPI(napi_create_reference(env, views, 1, &s.views));
    expose_blocks(env, s, js->staging(), js->index());
    open_doorbell(env, s, reg.js_doorbell_fd);
    if (s.js_threads > 1) {
        // The requests go to the JavaScript threads that attachThread() with this token.
        auto* hub = new (std::nothrow) Hub(s.js_threads, reg.js_doorbell_fd, threads,
                                           reg.request_capacity);
        if (hub == nullptr) throw std::bad_alloc();
        s.hub = Ref<Hub>::adopt(hub);
        std::lock_guard lock(g_hubs_mutex);
        s.hub_token = g_next_hub++;
        g_hubs.emplace(s.hub_token, s.hub);
    }
    // The JS thread counts as asleep until its first pull: the first request rings.
    if (!js->arm()) js->channels().front()->ring_js();
    s.js = std::move(js);

    // Keep the join hook the last one registered (GROUNDWORK section 4).
    NAPI(napi_remove_env_cleanup_hook(env, env_cleanup, s.instance));
    NAPI(napi_add_env_cleanup_hook(env, env_cleanup, s.instance));
}

napi_value start(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        ServerObject* s = server_of(env, argv[0]);
        if (s->destroyed) throw std::logic_error("start(): the server was destroyed");
        if (s->started) throw std::logic_error("start(): the server is already started");
        if (s->instance == nullptr || s->instance->tearing_down) {
            throw std::logic_error("start(): the environment is shutting down");
        }
        const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
        s->registry->js_doorbell_fd = fd;
        Result<void> r = s->server->start();
        if (!r) {
            // Every worker that ran has been joined: nobody writes the eventfd any more.
            s->registry->channels.clear();
            close(fd);
            s->registry->js_doorbell_fd = -1;
            throw SystemError(r.error().code, r.error().message);
        }
        s->started = true;
        try {
            start_js_side(env, *s);
        } catch (...) {
            s->destroy();
            throw;
        }
        napi_value out;
        NAPI(napi_create_object(env, &out));
        set(env, out, "port", make_uint(env, s->server->port()));
        set(env, out, "address", make_string(env, s->server->address()));
        set(env, out, "threads", make_uint(env, s->server->threads()));
        if (s->hub) {
            napi_value token;
            NAPI(napi_create_double(env, static_cast<double>(s->hub_token), &token));
            set(env, out, "hub", token);
        }
        return out;
    });
}

// ---- the batch loop -------------------------------------------------------------------------

ServerObject* running_server(napi_env env, napi_value handle, const char* what) {
    ServerObject* s = server_of(env, handle);
    if (!s->js && !s->thread) {
        throw std::logic_error(std::string(what) + (s->destroyed ? ": the server was destroyed"
                                                                 : ": the server is not started"));
    }
    return s;
}

napi_value ref_value(napi_env env, napi_ref ref) {
    napi_value v;
    NAPI(napi_get_reference_value(env, ref, &v));
    return v;
}

napi_value request_views(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        return ref_value(env, running_server(env, argv[0], "requestViews()")->views);
    });
}

napi_value staging(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        return ref_value(env, running_server(env, argv[0], "staging()")->staging);
    });
}

napi_value index(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        return ref_value(env, running_server(env, argv[0], "index()")->index);
    });
}

uint32_t uint_arg(napi_env env, napi_value v, const char* what) {
    uint32_t n = 0;
    if (v == nullptr || napi_get_value_uint32(env, v, &n) != napi_ok) {
        throw std::invalid_argument(std::string(what) + " must be a non-negative integer");
    }
    return n;
}

napi_value pull(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<3>(env, info, 3);
        ServerObject* s = running_server(env, argv[0], "pull()");
        const uint32_t staged = uint_arg(env, argv[1], "pull(): stagedBytes");
        const uint32_t max = uint_arg(env, argv[2], "pull(): max");
        Result<uint32_t> n = s->thread ? s->thread->pull(staged, max) : s->js->pull(staged, max);
        if (!n) throw std::invalid_argument("pull(): " + n.error().message);
        return make_uint(env, n.value());
    });
}

napi_value flush(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<2>(env, info, 2);
        ServerObject* s = running_server(env, argv[0], "flush()");
        const uint32_t staged = uint_arg(env, argv[1], "flush(): stagedBytes");
        Result<void> r = s->thread ? s->thread->flush(staged) : s->js->flush(staged);
        if (!r) throw std::invalid_argument("flush(): " + r.error().message);
        return nullptr;
    });
}

napi_value stash(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<2>(env, info, 2);
        ServerObject* s = running_server(env, argv[0], "stash()");
        bool is = false;
        void* data = nullptr;
        size_t length = 0;
        NAPI(napi_is_buffer(env, argv[1], &is));
        if (is) {
            NAPI(napi_get_buffer_info(env, argv[1], &data, &length));
            Result<uint32_t> id = s->thread ? s->thread->stash(data, length) : s->js->stash(data, length);
            if (!id) throw std::runtime_error("stash(): " + id.error().message);
            return make_uint(env, id.value());
        }
        const std::string bytes = bytes_of(env, argv[1], "stash(): the body");
        Result<uint32_t> id = s->thread ? s->thread->stash(bytes.data(), bytes.size())
                                        : s->js->stash(bytes.data(), bytes.size());
        if (!id) throw std::runtime_error("stash(): " + id.error().message);
        return make_uint(env, id.value());
    });
}

// ---- stop, stopped, destroy -----------------------------------------------------------------

// attachThread(token, lane, drain): this thread serves lane `lane` of the hub a jsThreads
// server's start() reported as `hub` (hub.h). Returns a handle that pull(), flush(), stash(),
// requestViews(), staging(), index(), stop(), stopped() and destroy() take like a server's.
napi_value attach_thread(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<3>(env, info, 3);
        double token = 0;
        if (type_of(env, argv[0]) != napi_number || napi_get_value_double(env, argv[0], &token) != napi_ok) {
            throw std::invalid_argument("attachThread(): token must be a number");
        }
        const uint32_t lane = uint_arg(env, argv[1], "attachThread(): lane");
        if (type_of(env, argv[2]) != napi_function) {
            throw std::invalid_argument("attachThread(): drain must be a function");
        }
        Ref<Hub> hub;
        {
            std::lock_guard lock(g_hubs_mutex);
            auto it = g_hubs.find(static_cast<uint64_t>(token));
            if (it != g_hubs.end()) hub = it->second;
        }
        if (!hub) throw std::logic_error("attachThread(): the server has stopped or never started");
        if (lane >= hub->lanes()) {
            throw std::range_error("attachThread(): lane " + std::to_string(lane) + " of " +
                                   std::to_string(hub->lanes()));
        }
        Instance* inst = instance_of(env);
        const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            throw std::runtime_error(std::string("eventfd failed: ") + std::strerror(errno));
        auto side = std::make_unique<ThreadSide>(hub, lane, hub->workers, hub->record_bytes, fd);
        if (!side->ok()) {
            close(fd);
            throw std::bad_alloc();
        }
        auto s = std::make_unique<ServerObject>();
        s->env = env;
        s->started = true;
        try {
            open_doorbell(env, *s, fd);
        } catch (...) {
            if (s->doorbell == nullptr) close(fd);
            s->release_js(nullptr);
            throw;
        }
        if (!side->attach()) {
            s->release_js(nullptr);
            throw std::logic_error("attachThread(): lane " + std::to_string(lane) +
                                   " already has a thread");
        }
        // Every worker's request view is the inbox: the index's offsets point into it.
        napi_value inbox = external_arraybuffer(env, side->inbox()->data(), side->inbox()->size(),
                                                side->inbox().get());
        napi_value views;
        NAPI(napi_create_array_with_length(env, hub->workers, &views));
        for (uint32_t i = 0; i < hub->workers; ++i)
            NAPI(napi_set_element(env, views, i, inbox));
        NAPI(napi_create_reference(env, views, 1, &s->views));
        expose_blocks(env, *s, side->staging(), side->index());
        s->thread = std::move(side);
        NAPI(napi_create_reference(env, argv[2], 1, &s->drain));
        NAPI(napi_async_init(env, nullptr, make_string(env, "nexurejs:drain"), &s->async));
        // Asleep until the first pull: take what already waits.
        const uint64_t one = 1;
        (void)!write(fd, &one, sizeof(one));

        napi_value handle;
        ServerObject* raw = s.get();
        if (napi_create_external(env, raw, finalize_server, nullptr, &handle) != napi_ok) {
            raw->thread.reset();
            raw->release_js(nullptr);
            throw NapiFailed{};
        }
        (void)s.release();
        g_servers.fetch_add(1, std::memory_order_relaxed);
        raw->instance = inst;
        inst->servers.push_back(raw);
        // Keep the join hook the last one registered (GROUNDWORK section 4).
        NAPI(napi_remove_env_cleanup_hook(env, env_cleanup, inst));
        NAPI(napi_add_env_cleanup_hook(env, env_cleanup, inst));
        return handle;
    });
}

napi_value stop(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        ServerObject* s = server_of(env, argv[0]);
        s->stop_requested = true;
        if (s->server && s->started) s->server->stop();
        if (s->thread && s->doorbell != nullptr) {
            // A jsThreads thread leaves alone: its drain runs once more and sees stopped().
            const uint64_t one = 1;
            (void)!write(s->doorbell->fd, &one, sizeof(one));
        }
        return nullptr;
    });
}

bool is_stopped(const ServerObject& s) noexcept {
    // A jsThreads thread: its app closed (stop()), or the engine has ended.
    if (s.thread) return s.stop_requested || s.thread->finished();
    // Never started, destroyed, or left running at exit (shutdownAll): nothing to wait for.
    if (s.destroyed || !s.started || !s.js) return true;
    return s.js->all_finished();
}

napi_value stopped(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        napi_value v;
        NAPI(napi_get_boolean(env, is_stopped(*server_of(env, argv[0])), &v));
        return v;
    });
}

napi_value destroy(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 1);
        server_of(env, argv[0])->destroy();
        return nullptr;
    });
}

// For the loader's process.once('exit'): stop every live server of this env, give the workers a
// bounded time to finish (idle connections close at once; a request still waiting for a
// JavaScript answer keeps its worker up to drainTimeoutMs, which an exiting process cannot
// wait for), join the ones that finished and leave the rest to the OS. Returns how many were
// left running.
napi_value shutdown_all(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<1>(env, info, 0);
        uint32_t wait_ms = 1000;
        if (argv[0] != nullptr && type_of(env, argv[0]) != napi_undefined) {
            wait_ms = uint_arg(env, argv[0], "shutdownAll(): waitMs");
        }
        Instance* inst = instance_of(env);
        for (ServerObject* s : inst->servers) {
            s->stop_requested = true;
            if (s->server && s->started) {
                s->abandon_requests();  // the exiting process answers nothing more
                s->server->stop();
            }
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
        uint32_t left = 0;
        for (;;) {
            left = 0;
            for (ServerObject* s : inst->servers) {
                if (!s->destroyed && !is_stopped(*s)) ++left;
            }
            if (left == 0 || std::chrono::steady_clock::now() >= deadline) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        for (ServerObject* s : inst->servers) {
            if (!s->destroyed && is_stopped(*s)) s->destroy();
        }
        if (left != 0) {
            // Never joined: the process is exiting, and ~Server would wait for the drain.
            for (ServerObject* s : inst->servers) {
                if (!s->destroyed && s->server) {
                    s->abandoned = true;
                    s->abandoned_server = s->server.release();
                    s->abandoned_js = s->js.release();
                }
            }
        }
        return make_uint(env, left);
    });
}

// ---- match ----------------------------------------------------------------------------------

napi_value allow_result(napi_env env, const char* kind, uint16_t allowed) {
    napi_value out;
    NAPI(napi_create_object(env, &out));
    set(env, out, "kind", make_string(env, kind));
    set(env, out, "allow", make_string(env, router::Router::allow_header(allowed)));
    return out;
}

napi_value kind_result(napi_env env, const char* kind) {
    napi_value out;
    NAPI(napi_create_object(env, &out));
    set(env, out, "kind", make_string(env, kind));
    return out;
}

napi_value match(napi_env env, napi_callback_info info) {
    return boundary(env, [&]() -> napi_value {
        auto argv = args<3>(env, info, 3);
        ServerObject* s = server_of(env, argv[0]);
        const std::string method_name = string_of(env, argv[1], "match(): method");
        std::string path = string_of(env, argv[2], "match(): path");
        if (const size_t q = path.find('?'); q != std::string::npos) path.resize(q);
        Method method;
        if (!net::http::parse_method(method_name, &method))
            return kind_result(env, "notImplemented");
        // The engine's own order (router::Router::match): HEAD falls back to GET, the asterisk
        // form is for OPTIONS only, OPTIONS without a route lists the allowed methods.
        if (path == "*" && method != Method::kOptions) return kind_result(env, "notFound");
        std::array<net::http::Param, net::http::Request::kMaxParams> params;
        uint32_t count = 0;
        router::RouteId id = router::kNoRoute;
        if (path != "*") {
            id = s->routes.find(method, path, params.data(), &count);
            if (id == router::kNoRoute && method == Method::kHead) {
                id = s->routes.find(Method::kGet, path, params.data(), &count);
            }
        }
        if (id == router::kNoRoute) {
            const uint16_t allowed = s->routes.allowed_methods(path);
            if (allowed == 0) return kind_result(env, "notFound");
            return allow_result(env, method == Method::kOptions ? "options" : "methodNotAllowed",
                                allowed);
        }
        const MatchRoute& r = s->match_routes[s->routes.meta(id).handler];
        napi_value out;
        NAPI(napi_create_object(env, &out));
        if (r.kind == router::HandlerKind::kFixed) {
            set(env, out, "kind", make_string(env, "fixed"));
            set(env, out, "status", make_uint(env, static_cast<uint32_t>(r.fixed.status)));
            napi_value headers;
            NAPI(napi_create_array_with_length(env, r.fixed.headers.size(), &headers));
            for (uint32_t i = 0; i < r.fixed.headers.size(); ++i) {
                napi_value pair;
                NAPI(napi_create_array_with_length(env, 2, &pair));
                NAPI(napi_set_element(env, pair, 0, make_string(env, r.fixed.headers[i].first)));
                NAPI(napi_set_element(env, pair, 1, make_string(env, r.fixed.headers[i].second)));
                NAPI(napi_set_element(env, headers, i, pair));
            }
            set(env, out, "headers", headers);
            set(env, out, "body", make_buffer(env, r.fixed.body));
            return out;
        }
        set(env, out, "kind", make_string(env, "found"));
        set(env, out, "id", make_uint(env, r.id));
        napi_value p;
        NAPI(napi_create_object(env, &p));
        for (uint32_t i = 0; i < count; ++i) {
            const std::string name(params[i].name);
            NAPI(napi_set_named_property(env, p, name.c_str(), make_string(env, params[i].value)));
        }
        set(env, out, "params", p);
        return out;
    });
}

// ---- tests ----------------------------------------------------------------------------------

// __stats(): live native objects, for leak tests (teardown, --expose-gc).
napi_value stats(napi_env env, napi_callback_info /*info*/) {
    return boundary(env, [&]() -> napi_value {
        napi_value out;
        NAPI(napi_create_object(env, &out));
        Instance* inst = instance_of(env);
        set(env, out, "servers", make_uint(env, static_cast<uint32_t>(g_servers.load())));
        set(env, out, "envServers", make_uint(env, static_cast<uint32_t>(inst->servers.size())));
        set(env, out, "blocks", make_uint(env, static_cast<uint32_t>(RefCounted::live())));
        return out;
    });
}

// __testNapiOnEngineThread(): makes a napi call from a thread marked as an engine thread. The
// guard must abort the process ("napi call on an engine thread"); the test runs it in a child.
napi_value test_napi_on_engine_thread(napi_env env, napi_callback_info /*info*/) {
    std::thread t([env] {
        mark_engine_thread();
        napi_value global;
        guard();
        napi_get_global(env, &global);
    });
    t.join();
    return nullptr;
}

// ---- module init ----------------------------------------------------------------------------

napi_value init(napi_env env, napi_value exports) {
    return boundary(env, [&]() -> napi_value {
        auto* inst = new Instance();
        inst->env = env;
        if (napi_set_instance_data(env, inst, finalize_instance, nullptr) != napi_ok) {
            delete inst;
            throw NapiFailed{};
        }
        NAPI(napi_add_async_cleanup_hook(env, env_async_cleanup, inst, nullptr));
        NAPI(napi_add_env_cleanup_hook(env, env_cleanup, inst));

        napi_value methods;
        NAPI(napi_create_array_with_length(env, net::http::kRoutableMethods + 1, &methods));
        for (uint32_t i = 0; i <= net::http::kRoutableMethods; ++i) {
            NAPI(napi_set_element(
                env, methods, i, make_string(env, net::http::method_name(static_cast<Method>(i)))));
        }
        NAPI(napi_object_freeze(env, methods));
        set(env, exports, "methods", methods);
        // The codings the engine offers by default, in its order ('br,zstd,gzip' with libzstd).
        std::string codings;
        for (net::http::ContentCoding c : net::http::default_codings()) {
            if (!codings.empty()) codings += ',';
            codings += net::http::coding_token(c);
        }
        set(env, exports, "compressionCodings", make_string(env, codings));

        const std::pair<const char*, napi_callback> functions[] = {
            {"createServer", create_server},
            {"start", start},
            {"requestViews", request_views},
            {"staging", staging},
            {"index", index},
            {"pull", pull},
            {"flush", flush},
            {"stash", stash},
            {"attachThread", attach_thread},
            {"stop", stop},
            {"stopped", stopped},
            {"destroy", destroy},
            {"match", match},
            {"fileAnswer", file_answer},
            {"chooseCoding", choose_coding},
            {"compressibleType", compressible_type},
            {"shutdownAll", shutdown_all},
            {"__stats", stats},
            {"__testNapiOnEngineThread", test_napi_on_engine_thread},
        };
        for (const auto& [name, fn] : functions) {
            napi_value f;
            NAPI(napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f));
            set(env, exports, name, f);
        }
        return exports;
    });
}

}  // namespace

}  // namespace nexure::napi

NAPI_MODULE_INIT() {
    return nexure::napi::init(env, exports);
}
