// The outbound client (net/client/) over real sockets: a proxy server whose handlers call an
// upstream through client::HttpClient on the worker's ring, against a NexureJS upstream (keep-alive
// reuse, bodies both ways, the pool under concurrency, pipelining) and against scripted upstreams
// that fail in every way a real one does (refused, reset, silent, malformed, oversized, closing
// early), plus the raw TcpSocket.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/client/http_client.h"
#include "net/client/socket.h"
#include "net/server.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace nexure::net {
namespace {

using client::ClientRequest;
using client::ClientResponse;
using client::Endpoint;
using test::deadline_in;
using test::FakeUpstream;
using test::get_request;
using HttpResponse = test::Response;
using namespace std::chrono_literals;

Endpoint endpoint(const std::string& text) {
    Result<Endpoint> e = Endpoint::resolve(text);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return e.ok() ? e.value() : Endpoint{};
}

// An upstream built with NexureJS itself.
std::unique_ptr<Server> make_upstream() {
    auto s = std::make_unique<Server>(test_config());
    s->get("/hello", [](const Request&, Response& res) { res.type("text/plain").body("hello"); });
    s->get("/id/:id", [](const Request& req, Response& res) { res.body(req.param("id")); });
    s->post("/echo", [](const Request& req, Response& res) { res.body(req.body()); });
    s->get("/header", [](const Request& req, Response& res) {
        res.body(req.header("x-forwarded").value_or("none"));
    });
    s->get("/slow/:ms", [](const Request& req, Response& res) {
        const uint64_t ms = std::stoull(std::string(req.param("ms")));
        std::string id(req.query());
        Loop::current().after(ms, [later = res.defer(), id]() mutable {
            later.respond([id](Response& r) { r.body(id); });
        });
    });
    return s;
}

// The proxy: `/via/<path>` sends GET (or POST with the body) <path>?<query> to the upstream and
// answers 200 with the upstream's status in x-upstream-status and its body, or 502 with
// "error <code>: <message>". `/stats` shows the worker's pool.
class ClientTest : public ServerTest {
  protected:
    void start_proxy(const std::string& upstream, client::HttpClientOptions options = {}) {
        client_ = std::make_unique<client::HttpClient>(endpoint(upstream), std::move(options));
        auto s = std::make_unique<Server>(test_config());
        client::HttpClient* c = client_.get();
        auto forward = [c](const Request& req, Response& res) {
            std::string target = "/" + std::string(req.param("*"));
            if (!req.query().empty()) target += "?" + std::string(req.query());
            http::Header extra[] = {{"X-Forwarded", "by-proxy"}};
            Later later = res.defer();
            c->request({.method = req.method_name(),
                        .target = target,
                        .headers = req.header("x-bad").has_value()
                                       ? std::span<const http::Header>()
                                       : std::span<const http::Header>(extra),
                        .body = req.body()},
                       [later = std::move(later)](Result<ClientResponse> r) mutable {
                           later.respond([r = std::move(r)](Response& out) {
                               if (!r) {
                                   out.status(502).body("error " + std::to_string(r.error().code) +
                                                        ": " + r.error().message);
                                   return;
                               }
                               out.header("x-upstream-status",
                                          std::to_string(r.value().status()));
                               out.body(r.value().body());
                           });
                       });
        };
        s->get("/via/*", forward);
        s->post("/via/*", forward);
        s->route(Method::kHead, "/via/*", forward);
        s->get("/bad-header", [c](const Request&, Response& res) {
            http::Header bad[] = {{"X-Evil", "a\r\nInjected: yes"}};
            c->request({.target = "/hello", .headers = bad},
                       [later = res.defer()](Result<ClientResponse> r) mutable {
                           later.respond([r = std::move(r)](Response& out) {
                               out.status(r ? 200 : 502)
                                   .body(r ? "sent" : std::to_string(r.error().code) + " " +
                                                          r.error().message);
                           });
                       });
        });
        s->get("/stats", [c](const Request&, Response& res) {
            const client::HttpClient::Stats st = c->stats();
            res.body("connections=" + std::to_string(st.connections) +
                     " idle=" + std::to_string(st.idle) + " connects=" + std::to_string(st.connects) +
                     " reused=" + std::to_string(st.reused) + " retries=" +
                     std::to_string(st.retries) + " failures=" + std::to_string(st.failures) +
                     " waiting=" + std::to_string(st.waiting));
        });
        start_server(std::move(s));
    }

    HttpResponse get(const std::string& target) { return exchange(get_request(target)); }

    std::string stat(const std::string& name) {
        const std::string all = get("/stats").body;
        const size_t at = all.find(name + "=");
        if (at == std::string::npos) return "?";
        const size_t end = all.find(' ', at);
        return all.substr(at + name.size() + 1,
                          end == std::string::npos ? std::string::npos : end - at - name.size() - 1);
    }

    void TearDown() override {
        ServerTest::TearDown();  // the proxy first: its pools close their connections
        if (upstream_) {
            upstream_->stop();
            upstream_->wait();
        }
        client_.reset();
    }

    void start_upstream() {
        upstream_ = make_upstream();
        ASSERT_TRUE(upstream_->start().ok());
    }
    std::string upstream_address() const {
        return "127.0.0.1:" + std::to_string(upstream_->port());
    }

    std::unique_ptr<client::HttpClient> client_;
    std::unique_ptr<Server> upstream_;
};

TEST_F(ClientTest, ForwardsAndReusesOneKeepAliveConnection) {
    start_upstream();
    start_proxy(upstream_address());
    for (int i = 0; i < 20; ++i) {
        const HttpResponse r = get("/via/id/" + std::to_string(i));
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.header("x-upstream-status"), "200");
        EXPECT_EQ(r.body, std::to_string(i));
    }
    EXPECT_EQ(get("/via/header").body, "by-proxy");
    EXPECT_EQ(stat("connects"), "1");
    EXPECT_EQ(stat("reused"), "20");
    EXPECT_EQ(stat("idle"), "1");
}

TEST_F(ClientTest, LargeBodiesBothWays) {
    start_upstream();
    start_proxy(upstream_address());
    std::string body(1 << 20, 'x');
    for (size_t i = 0; i < body.size(); i += 997)
        body[i] = static_cast<char>('a' + i % 26);
    const HttpResponse r = exchange("POST /via/echo HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body);
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 200);
    EXPECT_EQ(r.body.size(), body.size());
    EXPECT_TRUE(r.body == body);
}

TEST_F(ClientTest, PoolBoundsConnectionsUnderConcurrency) {
    start_upstream();
    start_proxy(upstream_address(), {.max_connections = 4});
    constexpr int kClients = 40;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([this, i, &ok] {
            test::HttpClient c;
            if (!c.connect(port_)) return;
            for (int k = 0; k < 3; ++k) {
                const std::string id = std::to_string(i) + "-" + std::to_string(k);
                if (!c.send_all(get_request("/via/slow/20?" + id))) return;
                HttpResponse r;
                if (!c.read_response(&r)) return;
                if (r.status == 200 && r.body == id) ok.fetch_add(1);
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(ok.load(), kClients * 3);
    EXPECT_EQ(stat("connects"), "4");
    EXPECT_EQ(stat("failures"), "0");
}

TEST_F(ClientTest, PipelinesGetsWhenAllowed) {
    start_upstream();
    start_proxy(upstream_address(), {.max_connections = 1, .max_pipeline = 8});
    constexpr int kClients = 16;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([this, i, &ok] {
            test::HttpClient c;
            if (!c.connect(port_)) return;
            const std::string id = "p" + std::to_string(i);
            if (!c.send_all(get_request("/via/slow/30?" + id))) return;
            HttpResponse r;
            if (c.read_response(&r) && r.status == 200 && r.body == id) ok.fetch_add(1);
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(ok.load(), kClients);
    EXPECT_EQ(stat("connects"), "1");
}

// Requests that arrive in one loop turn share one upstream connection and one send when
// pipelining is allowed (16 pipelined inbound requests: one connection, answers in order).
TEST_F(ClientTest, GetsOfOneTurnShareAConnection) {
    start_upstream();
    start_proxy(upstream_address(), {.max_connections = 16, .max_pipeline = 16});
    test::HttpClient c;
    ASSERT_TRUE(connect(c));
    std::string batch;
    for (int i = 0; i < 16; ++i)
        batch += get_request("/via/id/" + std::to_string(i));
    ASSERT_TRUE(c.send_all(batch));
    std::vector<HttpResponse> rs;
    ASSERT_TRUE(c.read_responses(16, &rs));
    for (int i = 0; i < 16; ++i)
        EXPECT_EQ(rs[static_cast<size_t>(i)].body, std::to_string(i));
    EXPECT_EQ(stat("connects"), "1");
    EXPECT_EQ(stat("reused"), "15");  // each after the first rode a connection in use
}

TEST_F(ClientTest, RefusedConnectionIsAnError) {
    start_proxy("127.0.0.1:" + std::to_string(test::closed_port()));
    const HttpResponse r = get("/via/hello");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body.rfind("error " + std::to_string(ECONNREFUSED) + ": connect to 127.0.0.1:", 0),
              0u)
        << r.body;
    EXPECT_NE(r.body.find("refused"), std::string::npos) << r.body;
}

TEST_F(ClientTest, SilentUpstreamTimesOut) {
    FakeUpstream up([&](int fd, int) {
        up.read_request(fd);
        while (!up.stopping()) std::this_thread::sleep_for(5ms);  // never answers
    });
    start_proxy(up.address(), {.request_timeout_ms = 200});
    const HttpResponse r = get("/via/hello");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body.rfind("error " + std::to_string(ETIMEDOUT) + ": no complete response", 0), 0u)
        << r.body;
    EXPECT_EQ(stat("connections"), "0");  // a connection with an unanswered request is not reused
}

TEST_F(ClientTest, ResetBeforeAnswerFailsWithoutRetries) {
    FakeUpstream up([&](int fd, int) {
        up.read_request(fd);
        FakeUpstream::reset(fd);
    });
    start_proxy(up.address());
    const HttpResponse r = get("/via/hello");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body.rfind("error " + std::to_string(ECONNRESET), 0), 0u) << r.body;
    EXPECT_EQ(up.requests(), 1);
}

TEST_F(ClientTest, ResetIsRetriedWhenAskedForIdempotentRequestsOnly) {
    FakeUpstream up([&](int fd, int n) {
        if (up.read_request(fd).empty()) return;
        if (n == 0) {
            FakeUpstream::reset(fd);  // the GET's first attempt
            return;
        }
        FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
        if (!up.read_request(fd).empty()) FakeUpstream::reset(fd);  // the POST
    });
    start_proxy(up.address(), {.retries = 1});
    const HttpResponse r = get("/via/hello");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "second");
    EXPECT_EQ(stat("retries"), "1");
    // A POST that was sent is not sent again: it may have been processed.
    const HttpResponse p = exchange("POST /via/x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nz");
    EXPECT_EQ(p.status, 502) << p.body;
    EXPECT_EQ(p.body.rfind("error " + std::to_string(ECONNRESET), 0), 0u) << p.body;
    EXPECT_EQ(up.requests(), 3);
    EXPECT_EQ(up.accepted(), 2);
}

TEST_F(ClientTest, MalformedResponseIsAProtocolError) {
    FakeUpstream up([&](int fd, int) {
        up.read_request(fd);
        FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello");
        up.read_request(fd);
    });
    start_proxy(up.address());
    const HttpResponse r = get("/via/hello");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body.rfind("error " + std::to_string(EPROTO) + ": malformed response", 0), 0u)
        << r.body;
}

TEST_F(ClientTest, OversizedResponseIsRefused) {
    FakeUpstream up([&](int fd, int) {
        up.read_request(fd);
        FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" +
                                        std::string(4096, 'b'));
        up.read_request(fd);
    });
    start_proxy(up.address(), {.max_response_size = 1024});
    const HttpResponse r = get("/via/big");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body.rfind("error " + std::to_string(EMSGSIZE), 0), 0u) << r.body;
}

TEST_F(ClientTest, ResponseFramings) {
    // Connection 0: 100 Continue then a chunked response, then a HEAD answer whose Content-Length
    // has no body, then one that ends with the connection.
    FakeUpstream up([&](int fd, int) {
        up.read_request(fd);
        FakeUpstream::write_all(fd,
                                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        up.read_request(fd);
        FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        up.read_request(fd);
        FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
    });
    start_proxy(up.address());
    EXPECT_EQ(get("/via/a").body, "hello world");
    const HttpResponse head = exchange("HEAD /via/b HTTP/1.1\r\nHost: t\r\n\r\n", true);
    EXPECT_EQ(head.status, 200);
    const HttpResponse last = get("/via/c");
    EXPECT_EQ(last.status, 200) << last.body;
    EXPECT_EQ(last.body, "until the end");
    EXPECT_EQ(up.accepted(), 1);
}

TEST_F(ClientTest, ConnectionCloseAndIdleCloseOpenANewConnection) {
    FakeUpstream up([&](int fd, int n) {
        up.read_request(fd);
        if (n == 0) {
            // Answers, keeps the connection, then closes it while it idles in the pool.
            FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
            return;
        }
        FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
        up.read_request(fd);
    });
    start_proxy(up.address());
    EXPECT_EQ(get("/via/1").body, "one");
    ASSERT_TRUE(test::poll_until([&] { return stat("connections") == "0"; }, deadline_in(5s)));
    EXPECT_EQ(get("/via/2").body, "two");
    EXPECT_EQ(stat("connects"), "2");
    EXPECT_EQ(stat("failures"), "0");
}

TEST_F(ClientTest, WaitingQueueIsBounded) {
    FakeUpstream up([&](int fd, int) {
        while (!up.read_request(fd).empty()) {
            std::this_thread::sleep_for(300ms);
            FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    start_proxy(up.address(), {.max_connections = 1, .max_waiting = 1});
    std::vector<test::HttpClient> clients(3);
    for (auto& c : clients) {
        ASSERT_TRUE(connect(c));
    }
    // In order: one in flight, one waiting, the third refused at once.
    for (auto& c : clients) {
        ASSERT_TRUE(c.send_all(get_request("/via/q")));
        ASSERT_TRUE(c.wait_until_delivered());
        std::this_thread::sleep_for(20ms);  // lets the proxy take them in this order
    }
    std::vector<int> statuses;
    std::string refused;
    for (auto& c : clients) {
        HttpResponse r;
        ASSERT_TRUE(c.read_response(&r));
        statuses.push_back(r.status);
        if (r.status == 502) refused = r.body;
    }
    EXPECT_EQ(statuses, (std::vector<int>{200, 200, 502}));
    EXPECT_EQ(refused.rfind("error " + std::to_string(EBUSY), 0), 0u) << refused;
}

TEST_F(ClientTest, InvalidRequestIsRefusedBeforeAnythingIsSent) {
    start_upstream();
    start_proxy(upstream_address());
    const HttpResponse r = get("/bad-header");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body.rfind(std::to_string(EINVAL) + " request to ", 0), 0u) << r.body;
    EXPECT_EQ(stat("connects"), "0");
}

// The raw TcpSocket: connect, write, the peer's bytes, the peer's close.
TEST_F(ClientTest, TcpSocketEchoesAndSeesThePeerClose) {
    FakeUpstream echo([](int fd, int) {
        char buf[256];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) FakeUpstream::write_all(fd, std::string_view(buf, static_cast<size_t>(n)));
    });
    auto s = std::make_unique<Server>(test_config());
    const Endpoint to = endpoint(echo.address());
    s->get("/tcp", [to](const Request&, Response& res) {
        struct State {
            client::TcpSocket sock;
            std::string got;
            Later later;
        };
        auto st = std::make_shared<State>();
        st->later = res.defer();
        client::TcpSocket::connect(to, {}, [st](Result<client::TcpSocket> r) {
            if (!r) {
                st->later.respond([e = r.error().message](Response& out) { out.status(502).body(e); });
                return;
            }
            st->sock = std::move(r.value());
            st->sock.on_data([st](std::string_view b) { st->got.append(b); });
            st->sock.on_close([st](int err) {
                st->later.respond([got = st->got, err](Response& out) {
                    out.body(got + " closed=" + std::to_string(err));
                });
                st->sock.close();
            });
            st->sock.write("ping over io_uring");
        });
    });
    start_server(std::move(s));
    const HttpResponse r = get("/tcp");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ping over io_uring closed=0");
}

TEST_F(ClientTest, ConnectTimesOutWhenTheUpstreamNeverAccepts) {
    // A listener with a backlog of one, never accepting, whose queue is filled: the kernel drops
    // further SYNs, so a connect hangs until its timeout.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 0), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    const uint16_t port = ntohs(a.sin_port);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        const int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ::connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fillers.push_back(f);
    }
    std::this_thread::sleep_for(50ms);  // lets the handshakes that can complete complete
    start_proxy("127.0.0.1:" + std::to_string(port), {.connect_timeout_ms = 150});
    const HttpResponse r = get("/via/hello");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body.rfind("error " + std::to_string(ETIMEDOUT) + ": connect to 127.0.0.1:", 0), 0u)
        << r.body;
    EXPECT_NE(r.body.find("connect_timeout_ms"), std::string::npos) << r.body;
    for (int f : fillers)
        ::close(f);
    ::close(fd);
}

// A request waiting on its upstream when the server is told to stop is still answered (the drain
// waits for it), and the stop then completes with the pool's connections closed.
TEST_F(ClientTest, StopWaitsForUpstreamCallsInFlight) {
    start_upstream();
    start_proxy(upstream_address());
    ASSERT_EQ(get("/via/hello").status, 200);  // one pooled connection
    test::HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/via/slow/200?late")));
    ASSERT_TRUE(c.wait_until_delivered());
    std::this_thread::sleep_for(50ms);  // the call is in flight
    server_->stop();
    HttpResponse r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "late");
    server_->wait();
}

// Upstreams that answer, reset or close at random under concurrent load: every request gets an
// answer (200 or 502), nothing crashes or leaks (ASan), and the pool ends empty of failures' debris.
TEST_F(ClientTest, ChaoticUpstreamUnderLoad) {
    std::atomic<int> served{0};
    FakeUpstream up([&](int fd, int n) {
        for (int k = 0;; ++k) {
            if (up.read_request(fd).empty()) return;
            const int pick = (n * 7 + k * 3) % 5;
            if (pick == 0) {
                FakeUpstream::reset(fd);
                return;
            }
            if (pick == 1) return;  // closes without answering
            if (pick == 2) {
                FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npartial");
                return;  // closes mid-body
            }
            served.fetch_add(1);
            if (!FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
                return;
        }
    });
    start_proxy(up.address(), {.max_connections = 8, .request_timeout_ms = 2'000, .retries = 1});
    constexpr int kClients = 8;
    constexpr int kEach = 25;
    std::atomic<int> answered{0};
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&] {
            test::HttpClient c;
            if (!c.connect(port_)) return;
            for (int k = 0; k < kEach; ++k) {
                if (!c.send_all(get_request("/via/x"))) return;
                HttpResponse r;
                if (!c.read_response(&r)) return;
                answered.fetch_add(1);
                if (r.status == 200 && r.body == "ok") good.fetch_add(1);
                if (r.status != 200 && r.status != 502) return;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(answered.load(), kClients * kEach);
    EXPECT_GT(good.load(), 0);
    EXPECT_EQ(good.load(), served.load() - 0) << "every answer the upstream completed reached a client";
}

// A coroutine handler awaits outbound calls one after the other (co_await client.fetch()).
TEST_F(ClientTest, CoroutinesAwaitOutboundCalls) {
    start_upstream();
    client_ = std::make_unique<client::HttpClient>(endpoint(upstream_address()));
    auto s = std::make_unique<Server>(test_config());
    client::HttpClient* c = client_.get();
    s->get("/sum/:a/:b", [c](Request& req, Response& res) -> Async<void> {
        const std::string a = "/id/" + std::string(req.param("a"));
        const std::string b = "/id/" + std::string(req.param("b"));
        Result<ClientResponse> first = co_await c->fetch({.target = a});
        Result<ClientResponse> second = co_await c->fetch({.target = b});
        if (!first || !second) {
            res.status(502);
            co_return;
        }
        res.body(std::to_string(std::stoi(std::string(first.value().body())) +
                                std::stoi(std::string(second.value().body()))));
    });
    // (Clients live as long as the server: each keeps a pool on every worker that used it.)
    static client::HttpClient nowhere(endpoint("127.0.0.1:" + std::to_string(test::closed_port())));
    s->get("/refused", [](Request&, Response& res) -> Async<void> {
        Result<ClientResponse> r = co_await nowhere.fetch({.target = "/"});
        res.status(r ? 200 : 502).body(r ? "?" : r.error().message);
    });
    start_server(std::move(s));
    EXPECT_EQ(get("/sum/20/22").body, "42");
    const HttpResponse refused = get("/refused");
    EXPECT_EQ(refused.status, 502);
    EXPECT_NE(refused.body.find("refused"), std::string::npos) << refused.body;
}

TEST(ClientEndpoint, ResolveNamesWhatIsWrong) {
    EXPECT_TRUE(Endpoint::resolve("127.0.0.1:80").ok());
    EXPECT_TRUE(Endpoint::resolve("[::1]:80").ok());
    EXPECT_TRUE(Endpoint::resolve("localhost:8080").ok());
    Result<Endpoint> no_port = Endpoint::resolve("127.0.0.1");
    ASSERT_FALSE(no_port.ok());
    EXPECT_NE(no_port.error().message.find("host:port"), std::string::npos);
    Result<Endpoint> bad_port = Endpoint::resolve("127.0.0.1:99999");
    ASSERT_FALSE(bad_port.ok());
    EXPECT_NE(bad_port.error().message.find("1 to 65535"), std::string::npos);
}

}  // namespace
}  // namespace nexure::net
