// Async<T> (net/coro.h) on its own, without a server: eager start, results and exceptions through
// chains of awaits, a long loop of awaits of finished children, a long chain finishing in
// constant stack, frames destroyed with a suspended Async, and what route registration accepts.
// The awaitables bound to a worker (sleep, offload, callback, BodyChunks) are tested over real
// sockets in tests/integration/coro_test.cc.
#include <gtest/gtest.h>
#include <pthread.h>

#include <coroutine>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/coro.h"
#include "net/server.h"

namespace nexure::net {
namespace {

// A hand-made awaitable: suspends until the test resumes the coroutine it holds.
struct Gate {
    std::coroutine_handle<> waiting;
    bool open() {
        if (!waiting) return false;
        detail::resume(std::exchange(waiting, {}));
        return true;
    }
};
struct Wait {
    Gate& gate;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { gate.waiting = h; }
    void await_resume() const noexcept {}
};

Async<int> value_now(int v) {
    co_return v;
}

Async<int> value_after(Gate& gate, int v) {
    co_await Wait{gate};
    co_return v;
}

TEST(Async, RunsEagerlyUntilItsFirstSuspension) {
    Gate gate;
    std::vector<std::string> steps;
    auto body = [&]() -> Async<void> {
        steps.push_back("started");
        co_await Wait{gate};
        steps.push_back("resumed");
    };
    Async<void> a = body();
    EXPECT_EQ(steps, std::vector<std::string>{"started"});  // ran before the call returned
    EXPECT_FALSE(a.done());
    ASSERT_TRUE(gate.open());
    EXPECT_TRUE(a.done());
    EXPECT_EQ(steps, (std::vector<std::string>{"started", "resumed"}));
}

TEST(Async, AFinishedChildIsAwaitedWithoutSuspending) {
    auto parent = []() -> Async<int> { co_return co_await value_now(20) + co_await value_now(22); };
    Async<int> a = parent();
    ASSERT_TRUE(a.done());
    auto reader = [&]() -> Async<int> { co_return co_await a; };
    Async<int> r = reader();
    ASSERT_TRUE(r.done());
    auto outer = [&]() -> Async<int> { co_return co_await r; };
    Async<int> o = outer();
    ASSERT_TRUE(o.done());
    int got = 0;
    auto take = [&]() -> Async<void> { got = co_await o; };
    Async<void> t = take();
    EXPECT_TRUE(t.done());
    EXPECT_EQ(got, 42);
}

TEST(Async, ResultsAndExceptionsTravelUpAChainThatSuspended) {
    Gate gate;
    auto child = [&]() -> Async<std::unique_ptr<std::string>> {
        co_await Wait{gate};
        co_return std::make_unique<std::string>("move-only");
    };
    auto thrower = [&]() -> Async<int> {
        co_await Wait{gate};
        throw std::runtime_error("child failed");
    };
    std::string got;
    std::string caught;
    auto parent = [&]() -> Async<void> {
        std::unique_ptr<std::string> p = co_await child();
        got = *p;
        try {
            co_await thrower();
        } catch (const std::runtime_error& e) {
            caught = e.what();
        }
        throw std::logic_error("parent failed");
    };
    Async<void> a = parent();
    ASSERT_TRUE(gate.open());  // the first child finishes; the parent awaits the thrower
    EXPECT_EQ(got, "move-only");
    EXPECT_FALSE(a.done());
    ASSERT_TRUE(gate.open());
    EXPECT_EQ(caught, "child failed");
    ASSERT_TRUE(a.done());
    // The exception that left the parent comes out of whoever awaits it.
    std::string outer;
    auto awaiter = [&]() -> Async<void> {
        try {
            co_await a;
        } catch (const std::logic_error& e) {
            outer = e.what();
        }
    };
    Async<void> w = awaiter();
    EXPECT_TRUE(w.done());
    EXPECT_EQ(outer, "parent failed");
}

TEST(Async, AHundredThousandAwaitsOfFinishedChildrenInALoop) {
    auto loop = []() -> Async<long> {
        long sum = 0;
        for (int i = 0; i < 100'000; ++i)
            sum += co_await value_now(i);
        co_return sum;
    };
    long got = 0;
    auto take = [&]() -> Async<void> { got = co_await loop(); };
    Async<void> t = take();
    ASSERT_TRUE(t.done());
    EXPECT_EQ(got, 100'000L * 99'999 / 2);
}

TEST(Async, AwaitingInALoopChildrenThatSuspendKeepsGoing) {
    Gate gate;
    auto loop = [&]() -> Async<long> {
        long sum = 0;
        for (int i = 0; i < 10'000; ++i)
            sum += co_await value_after(gate, i);
        co_return sum;
    };
    Async<long> a = loop();
    int opened = 0;
    while (gate.open())
        ++opened;
    EXPECT_EQ(opened, 10'000);
    ASSERT_TRUE(a.done());
    long got = 0;
    auto take = [&]() -> Async<void> { got = co_await a; };
    Async<void> t = take();
    EXPECT_EQ(got, 10'000L * 9'999 / 2);
}

// depth(n) awaits depth(n-1) ... down to a leaf that waits at the gate. Made on a thread with a
// large stack (an eager start nests each level's start), it must finish on a thread with a small
// one: each level hands over to its awaiter without growing the stack.
Async<int> depth(Gate& gate, int n) {
    if (n == 0) co_return co_await value_after(gate, 0);
    co_return co_await depth(gate, n - 1) + 1;
}

template <typename Fn>
void on_thread_with_stack(size_t bytes, Fn fn) {
    pthread_attr_t attr;
    ASSERT_EQ(pthread_attr_init(&attr), 0);
    ASSERT_EQ(pthread_attr_setstacksize(&attr, bytes), 0);
    pthread_t thread;
    auto run = [](void* arg) -> void* {
        (*static_cast<Fn*>(arg))();
        return nullptr;
    };
    ASSERT_EQ(pthread_create(&thread, &attr, run, &fn), 0);
    pthread_join(thread, nullptr);
    pthread_attr_destroy(&attr);
}

TEST(Async, AChainAHundredThousandDeepFinishesInConstantStack) {
    constexpr int kDepth = 100'000;
    Gate gate;
    std::unique_ptr<Async<int>> chain;
    on_thread_with_stack(size_t{2} << 30,
                         [&] { chain = std::make_unique<Async<int>>(depth(gate, kDepth)); });
    ASSERT_TRUE(chain);
    ASSERT_FALSE(chain->done());
    bool opened = false;
    on_thread_with_stack(256 * 1024, [&] { opened = gate.open(); });  // 256 KiB of stack
    ASSERT_TRUE(opened);
    ASSERT_TRUE(chain->done());
    int got = -1;
    auto take = [&]() -> Async<void> { got = co_await *chain; };
    Async<void> t = take();
    EXPECT_EQ(got, kDepth);
    on_thread_with_stack(size_t{2} << 30, [&] { chain.reset(); });  // frames go one by one
}

TEST(Async, DestroyingASuspendedAsyncDestroysItsFrame) {
    Gate gate;
    auto alive = std::make_shared<int>(0);
    std::weak_ptr<int> watch = alive;
    auto body = [](Gate& g, std::shared_ptr<int> held) -> Async<void> {
        co_await Wait{g};
        ++*held;
    };
    {
        Async<void> a = body(gate, std::move(alive));
        EXPECT_FALSE(watch.expired());  // the frame holds it
        Async<void> moved = std::move(a);
        EXPECT_FALSE(static_cast<bool>(a));  // NOLINT(bugprone-use-after-move)
        EXPECT_FALSE(moved.done());
    }
    EXPECT_TRUE(watch.expired());  // destroyed with the frame, never resumed
}

TEST(Async, AwaitingAnEmptyOrSpentAsyncThrows) {
    std::string first;
    std::string second;
    auto body = [&]() -> Async<void> {
        Async<int> empty;
        try {
            co_await empty;
        } catch (const std::logic_error& e) {
            first = e.what();
        }
        Async<int> once = value_now(1);
        co_await once;
        try {
            co_await once;
        } catch (const std::logic_error& e) {
            second = e.what();
        }
    };
    Async<void> a = body();
    ASSERT_TRUE(a.done());
    EXPECT_NE(first.find("empty Async"), std::string::npos) << first;
    EXPECT_NE(second.find("result was taken"), std::string::npos) << second;
}

// Route registration tells the kinds of handler apart at compile time (net/server.h): a
// coroutine is never taken for a plain handler whose result would be dropped.
struct PlainHandler {
    void operator()(const Request&, Response&) const {}
};
struct CoHandler {
    Async<void> operator()(Request&, Response&) const { co_return; }
};
struct CoHandlerConst {
    Async<void> operator()(const Request&, Response&) const { co_return; }
};
struct CoHandlerByValue {
    Async<void> operator()(Request, Response&) const { co_return; }
};
static_assert(!detail::returns_async<PlainHandler>());
static_assert(detail::returns_async<CoHandler>());
static_assert(detail::returns_async<CoHandlerConst>());
static_assert(detail::CallSignature<CoHandlerByValue>::known &&
              !std::is_reference_v<detail::CallSignature<CoHandlerByValue>::First>);
static_assert(std::is_constructible_v<Handler, PlainHandler>);
// A coroutine taking Request& cannot even be called as a plain handler.
static_assert(!std::is_constructible_v<Handler, CoHandler>);

TEST(Async, CoroutineRoutesAreRegisteredLikePlainOnes) {
    ServerConfig config;
    config.port = 0;
    Server server(config);
    server.get("/plain", PlainHandler{});
    server.get("/co", CoHandler{});
    server.get("/co-const", CoHandlerConst{});
    server.route(Method::kPost, "/co-body", CoHandler{},
                 RouteOptions{.stream_body = true, .max_body_size = 10});
    server.get("/lambda", [](Request&, Response& res) -> Async<void> {
        res.body("x");
        co_return;
    });
    EXPECT_THROW(server.get("/co", CoHandler{}), std::invalid_argument);  // a duplicate
    EXPECT_THROW(server.get("/empty", Handler{}), std::invalid_argument);
}

}  // namespace
}  // namespace nexure::net
