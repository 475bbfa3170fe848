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

#include "net/coro.h"
#include "net/http/json_writer.h"
#include "net/server.h"
#include "net/ws/protocol.h"
#include "tests/support/http_client.h"
#include "tests/ws/ws_test_util.h"

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

// A server with the counter's own check: GET /malloc makes one malloc on the server thread,
// which a zero must not hide. `add_routes` adds the routes under test.
class CountedServer {
  public:
    template <typename AddRoutes>
    explicit CountedServer(AddRoutes add_routes) : server_(config()) {
        add_routes(server_);
        server_.get("/malloc", [](const Request&, Response& res) {
            void* p = std::malloc(100);
            asm volatile("" : : "r"(p) : "memory");  // the call may not be optimised away
            std::free(p);
            res.body("allocated");
        });
    }
    ~CountedServer() {
        server_.stop();
        server_.wait();
    }
    ::testing::AssertionResult start() {
        if (!server_.start().ok()) return ::testing::AssertionFailure() << "no start";
        return client_.connect(server_.port());
    }
    // Sends `batch` (`per_batch` pipelined requests) `batches` times; every answer must be 200
    // (or, with `refusals`, 401 or 404 too: a hook's and the engine's answers).
    bool run_batches(const std::string& batch, size_t per_batch, int batches,
                     bool refusals = false) {
        std::vector<test::Response> responses;
        for (int b = 0; b < batches; ++b) {
            if (!client_.send_all(batch)) return false;
            responses.clear();
            if (!client_.read_responses(per_batch, &responses)) return false;
            for (const test::Response& r : responses) {
                if (r.status != 200 && !(refusals && (r.status == 401 || r.status == 404)))
                    return false;
            }
        }
        return true;
    }
    // One exchange on the counted connection.
    bool exchange(const std::string& request, test::Response* r) {
        return client_.send_all(request) && client_.read_response(r);
    }
    // The allocations one GET /malloc makes: at least its handler's one, so the counter sees
    // what a server thread allocates (a counter that missed them would report zero).
    uint64_t probe() {
        const uint64_t at = g_allocations.load();
        test::Response r;
        if (!client_.send_all(test::get_request("/malloc")) || !client_.read_response(&r) ||
            r.body != "allocated") {
            ADD_FAILURE() << "GET /malloc failed";
        }
        return g_allocations.load() - at;
    }

  private:
    static ServerConfig config() {
        ServerConfig c;
        c.port = 0;
        c.threads = 1;
        c.pin_threads = false;
        return c;
    }
    Server server_;
    HttpClient client_;
};

[[maybe_unused]] void add_routes(Server& s) {
    s.get("/plaintext",
          [](const Request&, Response& res) { res.type("text/plain").body("Hello, World!"); });
    s.get("/users/:id", [](const Request& req, Response& res) {
        res.type("application/json").body("{\"id\":\"").append(req.param("id")).append("\"}");
    });
    s.post("/echo", [](const Request& req, Response& res) {
        res.type(req.header("content-type").value_or("application/octet-stream")).body(req.body());
    });
}

// `per_batch` pipelined requests to add_routes()'s routes; `hooked` makes every fourth one a
// request a hook refuses (401) or no route serves (404).
[[maybe_unused]] std::string batch_of(int per_batch, bool hooked) {
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

// Warms `server` up, then counts the allocations of 100,000 requests of `batch`: none.
[[maybe_unused]] void expect_no_allocations(CountedServer& server, const std::string& batch,
                                            int per_batch, bool refusals) {
    const auto n = static_cast<size_t>(per_batch);
    ASSERT_TRUE(server.run_batches(batch, n, 50, refusals));  // warm-up: buffers reach their size
    EXPECT_GE(server.probe(), 1u) << "the counter does not see a server thread's malloc";
    const uint64_t before = g_allocations.load();
    ASSERT_TRUE(server.run_batches(batch, n, 100'000 / per_batch, refusals));
    const uint64_t during = g_allocations.load() - before;
    EXPECT_EQ(during, 0u) << during << " heap allocations for 100,000 requests ("
                          << static_cast<double>(during) / 100000.0 << " per request)";
    EXPECT_GE(server.probe(), 1u) << "the counter stopped counting during the run";
}

TEST(SteadyState, PipelinedRequestsMakeNoHeapAllocations) {
#ifndef NEXURE_COUNTING_MALLOC
    GTEST_SKIP() << "sanitizer builds replace malloc themselves";
#else
    t_not_counted = true;  // the client (this thread) allocates freely
    CountedServer server(add_routes);
    ASSERT_TRUE(server.start());
    expect_no_allocations(server, batch_of(100, false), 100, false);
#endif
}

// With a before-route hook, an after-response hook and a JSON body for the engine's 404 (net/
// hooks.h), still none: the hooks read views and fill the worker's own Response.
TEST(SteadyState, HooksMakeNoHeapAllocations) {
#ifndef NEXURE_COUNTING_MALLOC
    GTEST_SKIP() << "sanitizer builds replace malloc themselves";
#else
    t_not_counted = true;
    std::atomic<uint64_t> seen_bytes{0};
    CountedServer server([&seen_bytes](Server& s) {
        add_routes(s);
        s.on_request([](const Request& req, Response& res) {
            if (req.path() != "/denied") return HookResult::kContinue;
            res.status(401).header("WWW-Authenticate", "Bearer").body("token needed\n");
            return HookResult::kAnswered;
        });
        s.on_response([&seen_bytes](const ResponseInfo& info) {
            seen_bytes.fetch_add(info.body_bytes + info.target.size() + info.method_name.size() +
                                     cause_name(info.cause).size(),
                                 std::memory_order_relaxed);
        });
        s.error_response([](const EngineAnswer& a, Response& res) {
            http::JsonWriter json(res);
            json.begin_object().key("status").value(a.status).key("error").value(
                cause_name(a.cause));
            json.end_object();
        });
    });
    ASSERT_TRUE(server.start());
    expect_no_allocations(server, batch_of(100, true), 100, true);
    EXPECT_GT(seen_bytes.load(), 0u);
#endif
}

// Compressed answers (net/http/compression.h): each worker keeps one encoder per coding and the
// buffers of one encoded answer, so gzip, br and zstd answers make no heap allocation once warm.
TEST(SteadyState, CompressedAnswersMakeNoHeapAllocations) {
#ifndef NEXURE_COUNTING_MALLOC
    GTEST_SKIP() << "sanitizer builds replace malloc themselves";
#else
    t_not_counted = true;
    std::string page;
    for (int i = 0; page.size() < 8000; ++i) page += "<li>item " + std::to_string(i) + "</li>\n";
    CountedServer server([&page](Server& s) {
        RouteOptions on;
        on.compression.mode = http::RouteCompression::Mode::kOn;
        s.route(Method::kGet, "/page", [&page](const Request&, Response& res) {
            res.type("text/html").body(page);
        }, on);
    });
    ASSERT_TRUE(server.start());
    std::vector<std::string> codings{"gzip", "br"};
    if (compress::built_with(compress::Coding::kZstd)) codings.emplace_back("zstd");
    std::string batch;
    // (8 answers of about 1.5 KB: a batch's output fits one 16 KiB send slab. Output beyond a
    // slab moves to the heap, an allocation of the send path whatever the answers are.)
    constexpr int kPerBatch = 8;
    for (int i = 0; i < kPerBatch; ++i) {
        batch += test::get_request("/page", "Accept-Encoding: " +
                                                codings[static_cast<size_t>(i) % codings.size()] +
                                                "\r\n");
    }
    ASSERT_TRUE(server.run_batches(batch, kPerBatch, 20));  // warm-up
    for (const std::string& coding : codings) {  // they are encoded
        test::Response r;
        ASSERT_TRUE(server.exchange(
            test::get_request("/page", "Accept-Encoding: " + coding + "\r\n"), &r));
        EXPECT_EQ(r.header("content-encoding"), coding);
    }
    EXPECT_GE(server.probe(), 1u);
    const uint64_t before = g_allocations.load();
    ASSERT_TRUE(server.run_batches(batch, kPerBatch, 750));
    const uint64_t during = g_allocations.load() - before;
    EXPECT_EQ(during, 0u) << during << " heap allocations for 6,000 compressed answers";
    EXPECT_GE(server.probe(), 1u);
#endif
}

[[maybe_unused]] Async<int> finished_child(int v) {
    co_return v;
}

// Coroutine handlers (net/coro.h): one that finishes without suspending makes no heap
// allocation in the steady state either (its frames come from the thread's frame cache, its
// exchange from the worker's free list); one that suspends makes a few (its timer's callback,
// the filling of its answer), counted and bounded here.
TEST(SteadyState, CoroutineHandlersThatDoNotSuspendMakeNoHeapAllocations) {
#ifndef NEXURE_COUNTING_MALLOC
    GTEST_SKIP() << "sanitizer builds replace malloc themselves";
#else
    t_not_counted = true;
    CountedServer server([](Server& s) {
        s.get("/co/:id", [](Request& req, Response& res) -> Async<void> {
            const int child = co_await finished_child(7);
            res.type("text/plain").body("co ").append(req.param("id"));
            res.append(std::to_string(child));
        });
        s.get("/co-sleep", [](Request&, Response& res) -> Async<void> {
            co_await sleep(0);
            res.type("text/plain").body("slept");
        });
    });
    ASSERT_TRUE(server.start());

    std::string batch;
    constexpr int kPerBatch = 100;
    for (int i = 0; i < kPerBatch; ++i)
        batch += test::get_request("/co/" + std::to_string(1000 + i));
    ASSERT_TRUE(server.run_batches(batch, kPerBatch, 50));
    EXPECT_GE(server.probe(), 1u) << "the counter does not see a server thread's malloc";
    uint64_t before = g_allocations.load();
    ASSERT_TRUE(server.run_batches(batch, kPerBatch, 1000));  // 100,000 requests
    const uint64_t during = g_allocations.load() - before;
    EXPECT_EQ(during, 0u) << during << " heap allocations for 100,000 requests ("
                          << static_cast<double>(during) / 100000.0 << " per request)";

    const std::string sleeper = test::get_request("/co-sleep");
    ASSERT_TRUE(server.run_batches(sleeper, 1, 200));
    before = g_allocations.load();
    constexpr int kSleepers = 2000;
    ASSERT_TRUE(server.run_batches(sleeper, 1, kSleepers));
    const double per_request =
        static_cast<double>(g_allocations.load() - before) / static_cast<double>(kSleepers);
    RecordProperty("allocations_per_suspending_request", std::to_string(per_request));
    EXPECT_LE(per_request, 4.0);
    EXPECT_GE(server.probe(), 1u) << "the counter stopped counting during the run";
#endif
}

}  // namespace
}  // namespace nexure::net

namespace nexure::net::ws {
namespace {

// Echoes every message back through the Protocol, without allocating itself.
struct EchoSink : ProtocolSink {
    Protocol* protocol = nullptr;
    alloc::ByteBuffer* out = nullptr;
    uint64_t messages = 0;
    uint64_t bytes = 0;
    void on_message(std::string_view payload, bool binary) override {
        ++messages;
        bytes += payload.size();
        protocol->send(*out, payload, binary ? Opcode::kBinary : Opcode::kText, true);
    }
    void on_close(uint16_t, std::string_view) override {}
};

// The WebSocket codec (net/ws/protocol.h) on one connection with permessage-deflate and context
// takeover both ways: whole messages, fragmented ones with a ping between the fragments, frames
// split across reads, compressed messages from the client, and every message echoed back
// compressed. Once its buffers and zlib's windows exist, no message allocates.
TEST(SteadyState, WebSocketProtocolMakesNoHeapAllocations) {
#ifndef NEXURE_COUNTING_MALLOC
    GTEST_SKIP() << "sanitizer builds replace malloc themselves";
#else
    t_not_counted = true;
    DeflateParams deflate;
    deflate.server_no_context_takeover = false;  // the connection's own Deflater
    Protocol protocol;
    ASSERT_TRUE(protocol.init(Limits{}, &deflate));
    test::ClientDeflate client;
    std::string round;  // one round of client frames
    for (int i = 0; i < 4; ++i) {
        const std::string json = "{\"seq\":" + std::to_string(i) + ",\"text\":\"" +
                                 std::string(200, static_cast<char>('a' + i)) + "\"}";
        round += test::client_frame(0x81, json);
        round += test::client_frame(0xC1, client.compress(json));
        round += test::client_frame(0x02, std::string(3000, 'b'));
        round += test::client_frame(0x89, "ping");
        round += test::client_frame(0x80, std::string(5000, 'c'));
    }
    // Each round is fed in pieces of 1000 bytes (so frames are split across reads), from a copy
    // made before counting starts (feed() unmasks in place).
    std::vector<std::string> rounds(60, round);
    alloc::ByteBuffer out;
    EchoSink sink;
    sink.protocol = &protocol;
    sink.out = &out;
    auto feed_round = [&](std::string& r) {
        for (size_t at = 0; at < r.size(); at += 1000) {
            const size_t n = std::min<size_t>(1000, r.size() - at);
            if (protocol.feed(r.data() + at, n, sink, out) != Protocol::Feed::kOpen) return false;
        }
        out.clear();
        return true;
    };
    for (int i = 0; i < 10; ++i)  // warm-up
        ASSERT_TRUE(feed_round(rounds[static_cast<size_t>(i)]));
    t_not_counted = false;
    const uint64_t before = g_allocations.load();
    bool ok = true;
    for (size_t i = 10; i < rounds.size(); ++i)
        ok = ok && feed_round(rounds[i]);
    const uint64_t during = g_allocations.load() - before;
    t_not_counted = true;
    ASSERT_TRUE(ok);
    EXPECT_EQ(sink.messages, 60u * 12);
    EXPECT_EQ(during, 0u) << during << " heap allocations for 600 WebSocket messages";
#endif
}

}  // namespace
}  // namespace nexure::net::ws
