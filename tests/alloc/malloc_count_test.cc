// Heap allocations on the request path, counted on an instrumented build: this binary replaces
// malloc/calloc/realloc/memalign (operator new goes through malloc) with counting wrappers around
// glibc's own, and counts every call made by any thread except the test's client thread. After
// a warm-up, a server must answer 100,000 pipelined requests — static routes, parameter routes
// and POST bodies — with zero general-purpose heap allocations.
//
// It is a binary of its own because the replacement applies to the whole process. Sanitizer
// builds install their own allocator, so the test skips there.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/http/json_writer.h"
#include "net/server.h"
#include "tests/support/http_client.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* ptr);
}

namespace {

std::atomic<uint64_t> g_allocations{0};
// Constant-initialised TLS: safe to read inside malloc, even while a thread starts.
thread_local bool t_not_counted = false;

[[maybe_unused]] void count() noexcept {  // unused where a sanitizer owns malloc
    if (!t_not_counted) g_allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
extern "C" {
void* malloc(size_t size) {
    count();
    return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
    count();
    return __libc_calloc(n, size);
}
void* realloc(void* ptr, size_t size) {
    count();
    return __libc_realloc(ptr, size);
}
void* memalign(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
    count();
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr) return ENOMEM;
    *out = p;
    return 0;
}
void free(void* ptr) {
    __libc_free(ptr);
}
}
#define NEXURE_COUNTING_MALLOC 1
#endif

namespace nexure::net {
namespace {

using test::HttpClient;

#ifdef NEXURE_COUNTING_MALLOC  // (the helpers of the tests that can count)

// A batch of `per_batch` pipelined requests to the routes below, ending with a 200; `hooked`
// adds requests for "/missing" (the engine's 404) and "/denied" (a hook's 401).
std::string batch_of(int per_batch, bool hooked) {
    std::string batch;
    for (int i = 0; i < per_batch; ++i) {
        switch (i % 4) {
            case 0:
                batch += test::get_request("/plaintext");
                break;
            case 1:
                batch += test::get_request("/users/" + std::to_string(1000 + i));
                break;
            case 2:
                batch += test::get_request(!hooked      ? "/plaintext"
                                           : i % 8 == 2 ? "/missing"
                                                        : "/denied");
                break;
            default:
                batch +=
                    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 11\r\n\r\nhello world";
        }
    }
    return batch;
}

// The routes both tests serve; GET /malloc is the counter's own check: one malloc on the server
// thread, which a zero must not hide.
void add_routes(Server& server) {
    server.get("/plaintext",
               [](const Request&, Response& res) { res.type("text/plain").body("Hello, World!"); });
    server.get("/users/:id", [](const Request& req, Response& res) {
        res.type("application/json").body("{\"id\":\"").append(req.param("id")).append("\"}");
    });
    server.post("/echo", [](const Request& req, Response& res) {
        res.type(req.header("content-type").value_or("application/octet-stream")).body(req.body());
    });
    server.get("/malloc", [](const Request&, Response& res) {
        void* p = std::malloc(100);
        asm volatile("" : : "r"(p) : "memory");  // the call may not be optimised away
        std::free(p);
        res.body("allocated");
    });
}

// Starts `server`, warms it up with `batch`, then counts the heap allocations of 1,000 batches
// (100,000 requests): expects none.
void expect_no_allocations(Server& server, const std::string& batch, int per_batch) {
    ASSERT_TRUE(server.start().ok());
    HttpClient client;
    ASSERT_TRUE(client.connect(server.port()));
    std::vector<test::Response> responses;
    auto run_batches = [&](int batches) {
        for (int b = 0; b < batches; ++b) {
            if (!client.send_all(batch)) return false;
            responses.clear();
            if (!client.read_responses(static_cast<size_t>(per_batch), &responses)) return false;
            if (responses.back().status != 200) return false;
        }
        return true;
    };
    // Counts the allocations one GET /malloc makes: at least its handler's one, so the counter
    // sees what a server thread allocates (a counter that missed them would report zero below).
    auto probe = [&]() -> uint64_t {
        const uint64_t at = g_allocations.load();
        test::Response r;
        if (!client.send_all(test::get_request("/malloc")) || !client.read_response(&r) ||
            r.body != "allocated") {
            ADD_FAILURE() << "GET /malloc failed";
        }
        return g_allocations.load() - at;
    };
    ASSERT_TRUE(run_batches(50));  // warm-up: buffers grow to their working size
    EXPECT_GE(probe(), 1u) << "the counter does not see a server thread's malloc";

    const uint64_t before = g_allocations.load();
    ASSERT_TRUE(run_batches(1000));  // 100,000 requests
    const uint64_t during = g_allocations.load() - before;

    EXPECT_EQ(during, 0u) << during << " heap allocations for 100,000 requests ("
                          << static_cast<double>(during) / 100000.0 << " per request)";
    EXPECT_GE(probe(), 1u) << "the counter stopped counting during the run";
    server.stop();
    server.wait();
}

ServerConfig one_worker() {
    ServerConfig config;
    config.port = 0;
    config.threads = 1;
    config.pin_threads = false;
    return config;
}

#endif

TEST(SteadyState, PipelinedRequestsMakeNoHeapAllocations) {
#ifndef NEXURE_COUNTING_MALLOC
    GTEST_SKIP() << "sanitizer builds replace malloc themselves";
#else
    t_not_counted = true;  // the client (this thread) allocates freely
    Server server(one_worker());
    add_routes(server);
    constexpr int kPerBatch = 100;
    expect_no_allocations(server, batch_of(kPerBatch, false), kPerBatch);
#endif
}

// With a before-route hook, an after-response hook and a JSON body for the engine's 404 (net/
// hooks.h), still none: the hooks read views and fill the worker's own Response.
TEST(SteadyState, HooksMakeNoHeapAllocations) {
#ifndef NEXURE_COUNTING_MALLOC
    GTEST_SKIP() << "sanitizer builds replace malloc themselves";
#else
    t_not_counted = true;
    Server server(one_worker());
    add_routes(server);
    std::atomic<uint64_t> seen_bytes{0};
    server.on_request([](const Request& req, Response& res) {
        if (req.path() != "/denied") return HookResult::kContinue;
        res.status(401).header("WWW-Authenticate", "Bearer").body("token needed\n");
        return HookResult::kAnswered;
    });
    server.on_response([&seen_bytes](const ResponseInfo& info) {
        seen_bytes.fetch_add(info.body_bytes + info.target.size() + info.method_name.size() +
                                 cause_name(info.cause).size(),
                             std::memory_order_relaxed);
    });
    server.error_response([](const EngineAnswer& a, Response& res) {
        http::JsonWriter json(res);
        json.begin_object().key("status").value(a.status).key("error").value(cause_name(a.cause));
        json.end_object();
    });
    constexpr int kPerBatch = 100;
    expect_no_allocations(server, batch_of(kPerBatch, true), kPerBatch);
    EXPECT_GT(seen_bytes.load(), 0u);
#endif
}

}  // namespace
}  // namespace nexure::net
