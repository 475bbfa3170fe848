// Coroutine handlers (net/coro.h, net/coro_handler.h) over real sockets: answers given without
// suspending, after a worker timer, after a job on a thread pool, after a callback resolved on the
// worker, on another thread or never; exceptions as 500s; the request's views, query, headers,
// body and scratch memory intact after a suspension while other requests went through the same
// worker; pipelined answers in request order; a client that leaves and a handler timeout while a
// coroutine waits; a streamed body taken piece by piece with flow control; responses streamed
// before and after a suspension.
#include "net/coro.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "examples/cpp/thread_pool.h"
#include "net/server.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace nexure::net {
namespace {

using test::deadline_in;
using test::get_request;
using test::HttpClient;
using namespace std::chrono_literals;

Async<int> finished_child(int v) {
    co_return v;
}

// n levels, each awaiting the next; the deepest sleeps first.
Async<int> levels(int n) {
    if (n == 0) {
        co_await sleep(1);
        co_return 0;
    }
    const int below = co_await levels(n - 1);
    co_return below + 1;
}

// What a request looks like, read through every accessor that returns views.
std::string describe(const Request& req) {
    std::string d = std::string(req.method_name()) + " " + std::string(req.target()) +
                    " path=" + std::string(req.path()) + " query=" + std::string(req.query()) +
                    " id=" + std::string(req.param("id")) +
                    " ms=" + std::string(req.query_param("ms").value_or("-"));
    d += " q=" + std::string(req.query_fields().get("q").value_or("-"));
    d += " tag=" + std::string(req.header("x-tag").value_or("-"));
    d += " headers=" + std::to_string(req.headers().size());
    for (const http::Header& h : req.headers())
        d += " " + std::string(h.name) + ":" + std::string(h.value);
    d += " body=" + std::string(req.body());
    return d;
}

// Makes closing `c` send a reset (SO_LINGER 0): the client is gone, not just done sending.
bool reset_on_close(HttpClient& c) {
    const linger reset{1, 0};
    return setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0;
}

class CoroTest : public ServerTest {
  protected:
    void start_coro(ServerConfig config = test_config()) {
        auto s = std::make_unique<Server>(config);
        s->get("/now", [](const Request&, http::Response& res) { res.body("now"); });
        s->get("/sync/:id", [](Request& req, http::Response& res) -> Async<void> {
            res.type("text/plain").header("X-Kind", "coroutine").body("sync ");
            res.append(req.param("id"));
            co_return;
        });
        // (A coroutine may take the request as const Request&: it is the same, kept request.)
        s->get("/sleep/:ms", [this](const Request& req, http::Response& res) -> Async<void> {
            const uint64_t ms = std::stoull(std::string(req.param("ms")));
            started_.fetch_add(1);
            co_await sleep(ms);
            res.type("text/plain").body("slept " + std::to_string(ms));
            finished_.fetch_add(1);
        });
        s->get("/chain/:depth", [](Request& req, http::Response& res) -> Async<void> {
            const int depth = std::stoi(std::string(req.param("depth")));
            const int levels_done = co_await levels(depth);
            long sum = 0;
            for (int i = 0; i < 100'000; ++i)
                sum += co_await finished_child(i % 3);
            res.body(std::to_string(levels_done) + " " + std::to_string(sum));
        });
        s->get("/offload/:n", [this](Request& req, http::Response& res) -> Async<void> {
            const int n = std::stoi(std::string(req.param("n")));
            const std::thread::id worker = std::this_thread::get_id();
            auto [square, where] = co_await offload(pool_, [n] {
                return std::pair{n * n, std::this_thread::get_id()};
            });
            res.body(std::to_string(square) + (where != worker ? " on a pool thread" : " inline") +
                     (std::this_thread::get_id() == worker ? ", back on the worker" : ", lost"));
        });
        s->get("/offload-void", [this](Request&, http::Response& res) -> Async<void> {
            auto ran = std::make_shared<std::atomic<bool>>(false);
            // (A lambda owning a shared_ptr is made outside the co_await: GCC 12, net/coro.h.)
            auto job = [ran] { ran->store(true); };
            co_await offload(pool_, std::move(job));
            res.body(ran->load() ? "ran" : "did not run");
        });
        s->get("/offload-args/:item", [this](Request& req, http::Response& res) -> Async<void> {
            const std::string item(req.param("item"));
            auto shout = [](const std::string& text, int times) {
                std::string out;
                for (int i = 0; i < times; ++i)
                    out += text + "!";
                return out;
            };
            res.body(co_await offload(pool_, shout, item, 3));  // copies of item and 3 go along
        });
        s->get("/offload-throws", [this](Request&, http::Response& res) -> Async<void> {
            try {
                co_await offload(pool_,
                                 []() -> int { throw std::runtime_error("pool job failed"); });
                res.body("no exception");
            } catch (const std::runtime_error& e) {
                res.body(std::string("caught: ") + e.what());
            }
        });
        s->get("/offload-uncaught", [this](Request&, http::Response& res) -> Async<void> {
            co_await offload(pool_, []() -> int { throw std::runtime_error("uncaught pool job"); });
            res.body("not reached");
        });
        s->get("/callback/:how", [this](Request& req, http::Response& res) -> Async<void> {
            const std::string how(req.param("how"));
            try {
                int v = 0;
                if (how == "sync") {
                    v = co_await callback<int>([](Resolver<int> r) { r(1); });
                } else if (how == "worker") {
                    v = co_await callback<int>([](Resolver<int> r) {
                        Loop::current().after(5, [r = std::move(r)]() mutable { r(2); });
                    });
                } else if (how == "thread") {
                    v = co_await callback<int>([this](Resolver<int> r) {
                        threads_.emplace_back([r = std::move(r)]() mutable {
                            std::this_thread::sleep_for(5ms);
                            r(3);
                        });
                    });
                } else if (how == "void") {
                    co_await callback<void>([](Resolver<void> r) {
                        Loop::current().after(1, [r = std::move(r)]() mutable { r(); });
                    });
                    v = 4;
                } else if (how == "dropped") {  // on the worker, after a timer
                    v = co_await callback<int>(
                        [](Resolver<int> r) { Loop::current().after(5, [r = std::move(r)] {}); });
                } else if (how == "dropped-thread") {
                    v = co_await callback<int>(
                        [this](Resolver<int> r) { threads_.emplace_back([r = std::move(r)] {}); });
                } else if (how == "dropped-at-once") {
                    v = co_await callback<int>([](Resolver<int>) {});
                } else if (how == "failed") {
                    v = co_await callback<int>([](Resolver<int> r) {
                        Loop::current().after(1, [r = std::move(r)]() mutable {
                            r.fail(std::make_exception_ptr(std::runtime_error("backend said no")));
                        });
                    });
                } else if (how == "start-throws") {
                    v = co_await callback<int>(
                        [](Resolver<int>) { throw std::runtime_error("start failed"); });
                }
                res.body("value " + std::to_string(v));
            } catch (const std::runtime_error& e) {
                res.body(std::string("error: ") + e.what());
            }
        });
        s->get("/throw/:when", [](Request& req, http::Response& res) -> Async<void> {
            res.body("partial output that must not leak");
            if (req.param("when") == "after") co_await sleep(2);
            throw std::runtime_error("coroutine failure for the test");
        });
        auto views = [this](Request& req, http::Response& res) -> Async<void> {
            const std::string before = describe(req);
            const uint64_t ms = std::stoull(std::string(req.query_param("ms").value_or("0")));
            co_await sleep(ms);
            const std::string after = describe(req);
            if (after != before) mismatches_.fetch_add(1);
            res.type("text/plain").body(after);
        };
        s->get("/views/:id", views);
        s->post("/views/:id", views);
        s->get("/scratch/:v", [](Request& req, http::Response& res) -> Async<void> {
            const std::optional<std::string_view> decoded = req.param_decoded("v");
            auto* mine = static_cast<char*>(req.scratch().allocate(6, 1));
            std::memcpy(mine, "before", 6);
            co_await sleep(5);
            auto* later = static_cast<char*>(req.scratch().allocate(5, 1));
            std::memcpy(later, "after", 5);
            res.body(std::string(decoded.value_or("?")) + " " + std::string(mine, 6) + " " +
                     std::string(later, 5));
        });
        s->get("/watch", [this](Request& req, http::Response& res) -> Async<void> {
            started_.fetch_add(1);
            if (req.abandoned()) res.status(500);  // never before its first suspension
            while (!req.abandoned())
                co_await sleep(2);
            noticed_.fetch_add(1);
            res.body("nobody reads this");
        });
        s->get("/stream/:n", [](Request& req, http::Response& res) -> Async<void> {
            const int n = std::stoi(std::string(req.param("n")));
            res.type("text/plain").header("X-Early", "yes");
            Stream out = res.stream();  // before the first suspension
            for (int i = 0; i < n; ++i) {
                out.write("piece " + std::to_string(i) + "\n");
                co_await sleep(2);
            }
            out.end();
        });
        s->get("/late-stream", [](Request&, http::Response& res) -> Async<void> {
            co_await sleep(5);
            res.type("text/plain").header("X-Late", "yes");
            Stream out = res.stream();  // after it: the request's place becomes a stream
            out.write("late ");
            co_await sleep(2);
            out.write("stream");
            out.end();
        });
        s->get("/late-defer", [this](Request&, http::Response& res) -> Async<void> {
            co_await sleep(5);
            Later later = res.defer();  // the place, answered by hand from another thread
            threads_.emplace_back([later = std::move(later)]() mutable {
                later.respond([](http::Response& r) { r.body("answered by hand"); });
            });
        });
        s->get("/late-upgrade", [](Request&, http::Response& res) -> Async<void> {
            co_await sleep(1);
            res.status(101).header("Upgrade", "never");
            res.upgrade([](Upgraded u) { ::close(u.fd); });  // too late: refused, 500
        });
        const RouteOptions streamed{.stream_body = true, .max_body_size = 0};
        s->route(
            Method::kPost, "/upload",
            [this](Request& req, http::Response& res) -> Async<void> {
                BodyChunks chunks(req.body_stream());
                uint64_t total = 0;
                uint64_t sum = 0;
                size_t largest = 0;
                try {
                    while (std::optional<std::string_view> piece = co_await chunks.next()) {
                        total += piece->size();
                        largest = std::max(largest, piece->size());
                        for (const char c : *piece)
                            sum += static_cast<unsigned char>(c);
                        co_await sleep(0);  // busy elsewhere meanwhile: the body must wait
                    }
                } catch (const std::runtime_error&) {
                    body_errors_.fetch_add(1);
                    throw;
                }
                res.body(std::to_string(total) + " " + std::to_string(sum) + " " +
                         std::to_string(largest) + " " + std::to_string(chunks.received()));
            },
            streamed);
        s->route(
            Method::kPost, "/first-piece",
            [](Request& req, http::Response& res) -> Async<void> {
                BodyChunks chunks(req.body_stream());
                std::optional<std::string_view> piece = co_await chunks.next();
                res.body("first " + std::to_string(piece ? piece->size() : 0));
                // Returns with the rest of the body unread: it is read and dropped.
            },
            streamed);
        s->get("/no-body", [](Request& req, http::Response& res) -> Async<void> {
            BodyChunks chunks(req.body_stream());  // not a streaming route: nothing to read
            try {
                co_await chunks.next();
                res.body("read");
            } catch (const std::logic_error& e) {
                res.body(e.what());
            }
        });
        start_server(std::move(s));
    }
    void TearDown() override {
        ServerTest::TearDown();  // stops the server: coroutines still suspended are destroyed
        for (std::thread& t : threads_)
            t.join();
    }

    examples::ThreadPool pool_{2};
    std::vector<std::thread> threads_;  // touched on the worker thread only (one worker)
    std::atomic<int> started_{0};
    std::atomic<int> finished_{0};
    std::atomic<int> noticed_{0};
    std::atomic<int> mismatches_{0};
    std::atomic<int> body_errors_{0};
};

std::string views_request(const std::string& method, int id, int ms, const std::string& q,
                          const std::string& tag, const std::string& body) {
    std::string r = method + " /views/" + std::to_string(id) + "?ms=" + std::to_string(ms) +
                    "&q=" + q + " HTTP/1.1\r\nHost: t\r\nX-Tag: " + tag + "\r\n";
    if (!body.empty()) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

std::string views_expected(const std::string& method, int id, int ms, const std::string& q,
                           const std::string& tag, const std::string& body) {
    const std::string query = "ms=" + std::to_string(ms) + "&q=" + q;
    std::string d = method + " /views/" + std::to_string(id) + "?" + query + " path=/views/" +
                    std::to_string(id) + " query=" + query + " id=" + std::to_string(id) +
                    " ms=" + std::to_string(ms) + " q=" + q + " tag=" + tag;
    d += " headers=" + std::to_string(body.empty() ? 2 : 3) + " Host:t X-Tag:" + tag;
    if (!body.empty()) d += " Content-Length:" + std::to_string(body.size());
    return d + " body=" + body;
}

TEST_F(CoroTest, ACoroutineThatDoesNotSuspendAnswersLikeAPlainHandler) {
    start_coro();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/sync/1") + get_request("/now") + get_request("/sync/2")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].body, "sync 1");
    EXPECT_EQ(rs[0].header("Content-Type"), "text/plain");
    EXPECT_EQ(rs[0].header("X-Kind"), "coroutine");
    EXPECT_EQ(rs[1].body, "now");
    EXPECT_EQ(rs[2].body, "sync 2");
}

TEST_F(CoroTest, ACoroutineAnswersAfterASleep) {
    start_coro();
    const test::Response r = exchange(get_request("/sleep/20"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.body, "slept 20");
    EXPECT_EQ(finished_.load(), 1);
}

TEST_F(CoroTest, NestedCoroutinesAndAHundredThousandFinishedChildren) {
    start_coro();
    const test::Response r = exchange(get_request("/chain/50"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "50 99999");  // the levels, and the sum of i % 3 for i < 100000
}

TEST_F(CoroTest, OffloadRunsOnThePoolAndResumesOnTheWorkerWithTheResult) {
    start_coro();
    EXPECT_EQ(exchange(get_request("/offload/12")).body,
              "144 on a pool thread, back on the worker");
    EXPECT_EQ(exchange(get_request("/offload-void")).body, "ran");
    EXPECT_EQ(exchange(get_request("/offload-args/" + std::string(40, 'w'))).body,
              std::string(40, 'w') + "!" + std::string(40, 'w') + "!" + std::string(40, 'w') + "!");
}

TEST_F(CoroTest, AnOffloadedJobsExceptionIsRethrownInTheCoroutine) {
    start_coro();
    EXPECT_EQ(exchange(get_request("/offload-throws")).body, "caught: pool job failed");
    const test::Response r = exchange(get_request("/offload-uncaught"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body.find("not reached"), std::string::npos);
}

TEST_F(CoroTest, CallbacksResolvedNowOnTheWorkerOrOnAnotherThreadResume) {
    start_coro();
    EXPECT_EQ(exchange(get_request("/callback/sync")).body, "value 1");
    EXPECT_EQ(exchange(get_request("/callback/worker")).body, "value 2");
    EXPECT_EQ(exchange(get_request("/callback/thread")).body, "value 3");
    EXPECT_EQ(exchange(get_request("/callback/void")).body, "value 4");
    EXPECT_EQ(exchange(get_request("/callback/failed")).body, "error: backend said no");
    EXPECT_EQ(exchange(get_request("/callback/start-throws")).body, "error: start failed");
}

TEST_F(CoroTest, ADroppedResolverResumesWithAnErrorThatSaysSo) {
    start_coro();
    for (const char* how : {"dropped", "dropped-thread", "dropped-at-once"}) {
        const test::Response r = exchange(get_request(std::string("/callback/") + how));
        EXPECT_EQ(r.status, 200) << how;
        EXPECT_NE(r.body.find("error: callback(): the Resolver was destroyed without a value"),
                  std::string::npos)
            << how << ": " << r.body;
    }
}

TEST_F(CoroTest, AnExceptionBeforeOrAfterASuspensionIs500) {
    start_coro();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/throw/before") + get_request("/throw/after") +
                           get_request("/sync/3")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(rs[i].status, 500) << i;
        EXPECT_EQ(rs[i].body.find("partial output"), std::string::npos) << "output leaked";
    }
    EXPECT_EQ(rs[2].body, "sync 3");
}

TEST_F(CoroTest, PipelinedAnswersKeepTheirOrderWhenAnEarlierCoroutineFinishesLater) {
    start_coro();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/sleep/60") + get_request("/sync/1") +
                           get_request("/sleep/5") + get_request("/now") +
                           get_request("/late-stream") + get_request("/callback/worker")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(6, &rs));
    EXPECT_EQ(rs[0].body, "slept 60");
    EXPECT_EQ(rs[1].body, "sync 1");
    EXPECT_EQ(rs[2].body, "slept 5");
    EXPECT_EQ(rs[3].body, "now");
    EXPECT_EQ(rs[4].body, "late stream");
    EXPECT_EQ(rs[5].body, "value 2");
}

TEST_F(CoroTest, TheRequestsViewsSurviveASuspensionWhileThePipelineMovesOn) {
    start_coro();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    // The first waits longest; the requests behind it are parsed from the same receive buffers
    // and answered (held in order) meanwhile.
    ASSERT_TRUE(c.send_all(views_request("POST", 1, 40, "alpha", "one", "body-one") +
                           get_request("/now") + views_request("GET", 2, 0, "beta", "two", "") +
                           views_request("POST", 3, 10, "gamma", "three", "body-three") +
                           get_request("/scratch/a%20b")));
    // Other connections fill the worker's buffers with other bytes while they wait.
    for (int i = 0; i < 20; ++i) {
        HttpClient o;
        ASSERT_TRUE(connect(o));
        ASSERT_TRUE(o.send_all(views_request("POST", 100 + i, 0, "zzzzzz", std::string(200, 'z'),
                                             std::string(300, 'y'))));
        test::Response r;
        ASSERT_TRUE(o.read_response(&r));
        EXPECT_EQ(r.body, views_expected("POST", 100 + i, 0, "zzzzzz", std::string(200, 'z'),
                                         std::string(300, 'y')));
    }
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(5, &rs));
    EXPECT_EQ(rs[0].body, views_expected("POST", 1, 40, "alpha", "one", "body-one"));
    EXPECT_EQ(rs[1].body, "now");
    EXPECT_EQ(rs[2].body, views_expected("GET", 2, 0, "beta", "two", ""));
    EXPECT_EQ(rs[3].body, views_expected("POST", 3, 10, "gamma", "three", "body-three"));
    EXPECT_EQ(rs[4].body, "a b before after");
    EXPECT_EQ(mismatches_.load(), 0);
}

TEST_F(CoroTest, ManyConnectionsSuspendingAtOnceEachGetTheirOwnRequestBack) {
    start_coro();
    constexpr int kClients = 6;
    constexpr int kRequests = 30;
    std::atomic<int> wrong{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < kClients; ++t) {
        clients.emplace_back([&, t] {
            HttpClient c;
            if (!c.connect(port_)) {
                wrong.fetch_add(kRequests);
                return;
            }
            for (int i = 0; i < kRequests; ++i) {
                const int id = t * 1000 + i;
                const std::string tag = "t" + std::to_string(t) + "-" + std::string(i % 7, 'x');
                const std::string body = std::string(i * 13 % 200, static_cast<char>('a' + t));
                test::Response r;
                if (!c.send_all(
                        views_request("POST", id, i % 4, "c" + std::to_string(id), tag, body)) ||
                    !c.read_response(&r) ||
                    r.body !=
                        views_expected("POST", id, i % 4, "c" + std::to_string(id), tag, body)) {
                    wrong.fetch_add(1);
                }
            }
        });
    }
    for (std::thread& t : clients)
        t.join();
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(mismatches_.load(), 0);
}

TEST_F(CoroTest, AClientLeavingWhileACoroutineWaitsEndsNothingButTheAnswer) {
    start_coro();
    {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/sleep/100") + get_request("/watch")));
        ASSERT_TRUE(test::poll_until([&] { return started_ >= 2; }, deadline_in(test::kIoTimeout)));
        ASSERT_TRUE(reset_on_close(c));
    }
    // The sleeper goes on to its end (its answer is dropped); the watcher sees it is abandoned.
    ASSERT_TRUE(test::poll_until([&] { return finished_ >= 1 && noticed_ >= 1; },
                                 deadline_in(test::kIoTimeout)));
    EXPECT_EQ(exchange(get_request("/sync/9")).body, "sync 9");
    EXPECT_EQ(noticed_.load(), 1);
}

TEST_F(CoroTest, TheHandlerTimeoutAnswers503AndTheCoroutineStillFinishes) {
    ServerConfig config = test_config();
    config.handler_timeout_ms = 100;
    start_coro(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(
        c.send_all(get_request("/sleep/400") + get_request("/watch") + get_request("/now")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].status, 503);
    EXPECT_EQ(rs[1].status, 503);
    EXPECT_EQ(rs[2].body, "now");
    ASSERT_TRUE(test::poll_until([&] { return finished_ >= 1 && noticed_ >= 1; },
                                 deadline_in(test::kIoTimeout)));
    // Its late answer went nowhere; the connection goes on.
    ASSERT_TRUE(c.send_all(get_request("/sync/5")));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "sync 5");
}

TEST_F(CoroTest, ACoroutineStreamsItsResponseAcrossSuspensions) {
    start_coro();
    const test::Response r = exchange(get_request("/stream/4"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(r.header("X-Early"), "yes");
    EXPECT_EQ(r.body, "piece 0\npiece 1\npiece 2\npiece 3\n");
    const test::Response late = exchange(get_request("/late-stream"));
    EXPECT_EQ(late.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(late.header("X-Late"), "yes");
    EXPECT_EQ(late.body, "late stream");
}

TEST_F(CoroTest, AfterASuspensionDeferHandsOverThePlaceAndUpgradeIsRefused) {
    start_coro();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/late-defer") + get_request("/late-upgrade") +
                           get_request("/sync/7")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].body, "answered by hand");
    EXPECT_EQ(rs[1].status, 500);
    EXPECT_EQ(rs[2].body, "sync 7");
}

TEST_F(CoroTest, AStreamedBodyIsTakenPieceByPieceInBoundedMemory) {
    start_coro();
    constexpr uint64_t kTotal = 32u << 20;
    std::string piece(64 * 1024, '\0');
    uint64_t sum = 0;
    const long before = test::rss_kib();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                           std::to_string(kTotal) + "\r\n\r\n"));
    long max_rss = before;
    for (uint64_t sent = 0; sent < kTotal; sent += piece.size()) {
        for (size_t i = 0; i < piece.size(); ++i) {
            piece[i] = static_cast<char>((sent + i) % 251);
            sum += (sent + i) % 251;
        }
        ASSERT_TRUE(c.send_all(piece)) << "after " << sent << " bytes";
        if (sent % (4u << 20) == 0) max_rss = std::max(max_rss, test::rss_kib());
    }
    test::Response r;
    ASSERT_TRUE(c.read_response(&r, deadline_in(60'000ms)));
    ASSERT_EQ(r.status, 200);
    unsigned long long total = 0;
    unsigned long long got_sum = 0;
    size_t largest = 0;
    unsigned long long received = 0;
    ASSERT_EQ(
        std::sscanf(r.body.c_str(), "%llu %llu %zu %llu", &total, &got_sum, &largest, &received), 4)
        << r.body;
    EXPECT_EQ(total, kTotal);
    EXPECT_EQ(received, kTotal);
    EXPECT_EQ(got_sum, sum);
    // Flow control: while the coroutine was busy, at most the receive in progress was kept
    // beside the piece it held, so no piece it got exceeds two receive buffers.
    EXPECT_LE(largest, 2 * test_config().recv_buffer_size);
    RecordProperty("largest_piece", std::to_string(largest));
    RecordProperty("rss_growth_kib", std::to_string(max_rss - before));
    ASSERT_GT(before, 0);
#if !defined(__SANITIZE_ADDRESS__)
    // (Under ASan every freed block — a timer's callback per piece, the input held while the
    // body was paused — waits in the allocator's quarantine, which this in-process figure would
    // count; the bound on the pieces above holds there too.)
    EXPECT_LT(max_rss - before, 16 * 1024) << before << " KiB -> " << max_rss << " KiB";
#endif
}

TEST_F(CoroTest, ABodyLeftUnreadIsDroppedAndThePipelineGoesOn) {
    start_coro();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const std::string body(1 << 20, 'b');
    ASSERT_TRUE(c.send_all(
        "POST /first-piece HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body + get_request("/sync/8")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body.rfind("first ", 0), 0u) << rs[0].body;
    EXPECT_NE(rs[0].body, "first 0");
    EXPECT_EQ(rs[1].body, "sync 8");
    EXPECT_EQ(exchange(get_request("/no-body")).body.find("BodyChunks: no body to read"), 0u);
}

TEST_F(CoroTest, AClientLeavingMidBodyMakesNextThrow) {
    start_coro();
    {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(
            c.send_all("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
                       std::string(5000, 'p')));
        ASSERT_TRUE(c.wait_until_delivered());
        ASSERT_TRUE(reset_on_close(c));
    }
    ASSERT_TRUE(test::poll_until([&] { return body_errors_ >= 1; }, deadline_in(test::kIoTimeout)));
    EXPECT_EQ(exchange(get_request("/sync/6")).body, "sync 6");
    EXPECT_EQ(body_errors_.load(), 1);
}

TEST_F(CoroTest, AStopWithCoroutinesStillWaitingDestroysThemCleanly) {
    ServerConfig config = test_config();
    config.drain_timeout_ms = 200;
    start_coro(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/sleep/60000") + get_request("/callback/thread") +
                           get_request("/watch")));
    ASSERT_TRUE(test::poll_until([&] { return started_ >= 2; }, deadline_in(test::kIoTimeout)));
    server_->stop();
    server_
        ->wait();  // the drain answers 503; the frames still waiting are destroyed with the worker
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].status, 503);
    EXPECT_EQ(finished_.load(), 0);
}

}  // namespace
}  // namespace nexure::net
