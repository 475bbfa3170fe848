// A service whose answers wait for a slow backend, without blocking the engine's workers: the
// blocking call runs on a small thread pool and the answer comes back through a Later, with a
// deadline of its own on the worker's loop. Build: cmake --build --preset release; run:
// build/release/bin/nexure-example-backend --port 8080
//
//   GET /price/:item   {"item":"...","price":N} after the backend's ~50 ms, or 504 after 1 s
//   GET /quote/:item   the same, written as a coroutine handler (net/coro.h)
//   GET /health        ok, at once (also while prices are being fetched)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "examples/cpp/thread_pool.h"
#include "net/server.h"

using nexure::net::Async;
using nexure::net::Later;
using nexure::net::Loop;
using nexure::net::Request;
using nexure::net::Resolver;
using nexure::net::Response;
using nexure::net::Server;
using nexure::net::ServerConfig;

namespace {

// Stands for a blocking client library (a database driver, an SDK): ~50 ms per call. Items whose
// name starts with "slow" take 3 s, longer than the service waits.
unsigned fetch_price_blocking(const std::string& item) {
    std::this_thread::sleep_for(std::chrono::milliseconds(item.rfind("slow", 0) == 0 ? 3000 : 50));
    unsigned price = 0;
    for (char c : item)
        price = price * 31 + static_cast<unsigned char>(c);
    return price % 1000 + 1;
}

// One request's answer, given by whichever comes first: the backend's result or the deadline.
struct Pending {
    explicit Pending(Later l) : later(std::move(l)) {}
    Later later;
    bool done = false;  // touched on the request's worker only
};

}  // namespace

int main(int argc, char** argv) {
    ServerConfig config;
    config.port = argc > 2 && std::string(argv[1]) == "--port"
                      ? static_cast<uint16_t>(std::atoi(argv[2]))
                      : 8080;
    config.threads = 2;
    Server server(config);
    nexure::examples::ThreadPool backend(4);  // the threads that may block
    static std::atomic<unsigned long> cancelled{0};

    server.get("/health",
               [](const Request&, Response& res) { res.type("text/plain").body("ok\n"); });

    server.get("/price/:item", [&backend](const Request& req, Response& res) {
        std::string item(req.param("item"));  // request views end with the handler: copy
        auto pending = std::make_shared<Pending>(res.defer());
        Loop loop = Loop::current();
        // The client left (or the server stops): the backend's answer will be dropped.
        pending->later.on_abort([] { cancelled.fetch_add(1, std::memory_order_relaxed); });
        // The deadline, on the worker's clock.
        const nexure::net::TimerId deadline = loop.after(1000, [pending] {
            if (pending->done) return;
            pending->done = true;
            pending->later.respond([](Response& r) {
                r.status(504).type("application/json").body(R"({"error":"backend timeout"})");
            });
        });
        backend.run([pending, loop, deadline, item = std::move(item)] {
            const unsigned price = fetch_price_blocking(item);  // on a pool thread
            // Back on the request's worker: answer, unless the deadline did first.
            loop.post([pending, loop, deadline, item, price]() mutable {
                if (pending->done) return;
                pending->done = true;
                loop.cancel(deadline);
                pending->later.respond([item, price](Response& r) {
                    r.type("application/json")
                        .body("{\"item\":\"" + item + "\",\"price\":" + std::to_string(price) +
                              "}");
                });
            });
        });
    });

    // The same with a coroutine: it waits for whichever comes first, the backend's answer or the
    // deadline. Both arrive on the worker (the pool's answer is posted there), so the first to
    // call the resolver wins and the other call does nothing.
    server.get("/quote/:item", [&backend](Request& req, Response& res) -> Async<void> {
        std::string item(req.param("item"));
        using Price = std::optional<unsigned>;  // nullopt: the deadline came first
        const Price price = co_await nexure::net::callback<Price>([&](Resolver<Price> done) {
            auto first = std::make_shared<Resolver<Price>>(std::move(done));
            Loop loop = Loop::current();
            const nexure::net::TimerId deadline =
                loop.after(1000, [first] { (*first)(std::nullopt); });
            backend.run([first, loop, deadline, item] {
                const unsigned p = fetch_price_blocking(item);  // on a pool thread
                loop.post([first, loop, deadline, p]() mutable {
                    loop.cancel(deadline);
                    (*first)(p);
                });
            });
        });
        if (!price) {
            res.status(504).type("application/json").body(R"({"error":"backend timeout"})");
            co_return;
        }
        res.type("application/json")
            .body("{\"item\":\"" + item + "\",\"price\":" + std::to_string(*price) + "}");
    });

    const int rc = server.run([](const Server& s) {
        std::printf("backend example listening on http://%s:%u\n", s.address().c_str(), s.port());
        std::fflush(stdout);
    });
    std::printf("backend example stopped (%lu answers cancelled)\n", cancelled.load());
    return rc;
}
