// Timeouts, backpressure and misbehaving clients (issue 5), against the in-process server. Every
// test is bounded in time: deadlines are configured in hundreds of milliseconds and every wait
// has its own deadline.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/server.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace nexure::net {
namespace {

using test::deadline_in;
using test::get_request;
using test::HttpClient;
using test::Response;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

long long elapsed_ms(Clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// Raises this process's soft RLIMIT_NOFILE to at least `needed` for the object's life, and puts it
// back after. ok() is false, and why() says why, when the hard limit does not allow it.
class DescriptorLimit {
  public:
    explicit DescriptorLimit(rlim_t needed) {
        if (getrlimit(RLIMIT_NOFILE, &saved_) != 0) {
            why_ = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
            return;
        }
        if (saved_.rlim_cur != RLIM_INFINITY && saved_.rlim_cur < needed) {
            if (saved_.rlim_max != RLIM_INFINITY && saved_.rlim_max < needed) {
                why_ = "the test needs " + std::to_string(needed) +
                       " descriptors and the hard RLIMIT_NOFILE is " +
                       std::to_string(saved_.rlim_max);
                return;
            }
            rlimit raised = saved_;
            raised.rlim_cur = needed;
            if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
                why_ = std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
                return;
            }
            raised_ = true;
        }
        ok_ = true;
    }
    ~DescriptorLimit() {
        if (raised_) setrlimit(RLIMIT_NOFILE, &saved_);
    }
    DescriptorLimit(const DescriptorLimit&) = delete;
    DescriptorLimit& operator=(const DescriptorLimit&) = delete;

    bool ok() const { return ok_; }
    const std::string& why() const { return why_; }

  private:
    rlimit saved_{};
    bool raised_ = false;
    bool ok_ = false;
    std::string why_;
};

// Reads everything until the server closes; the answer must be one 408 and then the close.
void expect_408_then_close(HttpClient& c, std::chrono::milliseconds within) {
    bool closed = false;
    const std::string bytes = c.read_until_eof(deadline_in(within), &closed);
    EXPECT_TRUE(closed) << "the server did not close; got '" << bytes << "'";
    EXPECT_EQ(bytes.rfind("HTTP/1.1 408 ", 0), 0u) << bytes;
    EXPECT_NE(bytes.find("Connection: close\r\n"), std::string::npos) << bytes;
}

TEST_F(ServerTest, SlowlorisHeadGets408AtTheHeadDeadlineThoughItKeepsSending) {
    ServerConfig cfg = test_config();
    cfg.request_head_timeout_ms = 400;
    cfg.idle_timeout_ms = 10'000;  // the trickle below never lets the connection go idle
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const auto began = Clock::now();
    ASSERT_TRUE(c.send_all("GET / HTTP/1.1\r\nHost: t\r\n"));
    // A header line every 50 ms, for up to 2 s: only the absolute deadline can end this.
    bool closed = false;
    std::string got;
    for (int i = 0; i < 40 && !closed; ++i) {
        if (!c.send_all("X-Slow-" + std::to_string(i) + ": x\r\n")) break;  // reset: closed
        closed = c.detect_peer_closed(deadline_in(50ms));
    }
    const long long waited = elapsed_ms(began);
    got = c.read_until_eof(deadline_in(1000ms), &closed);
    EXPECT_TRUE(closed);
    EXPECT_GE(waited, 350);
    EXPECT_LT(waited, 1900) << "the head deadline did not end the trickle";
    EXPECT_EQ(got.rfind("HTTP/1.1 408 ", 0), 0u) << got;
}

TEST_F(ServerTest, HeadDeadlineDoesNotApplyToAnIdleKeepAliveConnection) {
    ServerConfig cfg = test_config();
    cfg.request_head_timeout_ms = 200;
    cfg.idle_timeout_ms = 10'000;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    // Idle (between requests) for longer than the head timeout: still open, still served.
    EXPECT_FALSE(c.detect_peer_closed(deadline_in(500ms)));
    ASSERT_TRUE(c.send_all(get_request("/json")));
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
}

TEST_F(ServerTest, BodyBelowTheMinimumRateGets408) {
    ServerConfig cfg = test_config();
    cfg.body_timeout_ms = 300;
    cfg.min_body_rate = 1000;  // bytes per second
    cfg.idle_timeout_ms = 10'000;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const auto began = Clock::now();
    ASSERT_TRUE(c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"));
    // 10 bytes every 50 ms: 200 bytes/s, a fifth of the minimum.
    bool closed = false;
    for (int i = 0; i < 60 && !closed; ++i) {
        if (!c.send_all(std::string(10, 'b'))) break;
        closed = c.detect_peer_closed(deadline_in(50ms));
    }
    const long long waited = elapsed_ms(began);
    EXPECT_GE(waited, 250);
    EXPECT_LT(waited, 2500) << "the minimum body rate was not enforced";
    expect_408_then_close(c, 1000ms);
}

TEST_F(ServerTest, ABodyAtAGoodRateMayTakeLongerThanTheBodyTimeout) {
    ServerConfig cfg = test_config();
    cfg.body_timeout_ms = 200;
    cfg.min_body_rate = 1000;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const std::string body(60'000, 'g');
    ASSERT_TRUE(c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n"));
    // 6 KB every 60 ms (100 KB/s, far above the minimum) for 600 ms, three times the timeout.
    ASSERT_TRUE(c.send_in_pieces(body, 6000, 60ms));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), body.size());
}

TEST_F(ServerTest, APeerThatStopsReadingIsClosedAfterTheSendTimeout) {
    ServerConfig cfg = test_config();
    cfg.send_timeout_ms = 300;
    start(cfg);
    const size_t without_connections = test::descriptor_count();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const size_t size = 64u << 20;  // far more than the socket buffers hold
    ASSERT_TRUE(c.send_all(get_request("/fill/" + std::to_string(size))));
    // Once the response has begun, read nothing more: the server's send stops progressing.
    char first[64];
    ASSERT_EQ(recv(c.fd(), first, sizeof first, MSG_WAITALL), 64);
    // The server runs in this process: it has given up once only our end is left open.
    ASSERT_TRUE(
        test::wait_for_descriptors_at_most(without_connections + 1, deadline_in(test::kIoTimeout)))
        << "the server did not close the connection of a peer that stopped reading";
    bool closed = false;
    const std::string got = c.read_until_eof(deadline_in(5000ms), &closed);
    EXPECT_TRUE(closed);
    EXPECT_GT(got.size(), 0u);         // what the kernel had taken before the timeout
    EXPECT_LT(got.size() + 64, size);  // but not the whole response: the server gave up
}

TEST_F(ServerTest, APipeliningClientThatNeverReadsCannotGrowServerMemory) {
    ServerConfig cfg = test_config();
    cfg.send_timeout_ms = 2000;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    // 3,000 requests for 64 KiB each: 192 MiB of responses if the server kept producing them.
    std::string batch;
    for (int i = 0; i < 3000; ++i)
        batch += get_request("/fill/65536");
    const long before = test::rss_kib();
    std::thread writer([&c, &batch] { (void)c.send_all(batch); });  // blocks when windows fill
    // The server has done all it will once it neither sends us more nor takes more of our
    // requests: our receive queue holds its responses and neither queue moves.
    test::Sample queues;
    EXPECT_TRUE(test::wait_until_steady(
        [&c] {
            return test::Sample{c.unread_bytes(), c.unsent_bytes()};
        },
        300ms, deadline_in(20'000ms), &queues, [](const test::Sample& q) { return q[0] > 0; }));
    const long during = test::rss_kib();
    // Meanwhile another client is served normally.
    EXPECT_EQ(exchange(get_request("/")).status, 200);
    c.close();  // unblocks the writer (its send fails)
    writer.join();
    ASSERT_GT(before, 0);
    RecordProperty("rss_growth_kib", std::to_string(during - before));
    // Bounded by max_pending_output (1 MiB) plus one receive buffer of requests' responses
    // (~100 x 64 KiB) plus allocator slack (more under ASan); 192 MiB would show.
    EXPECT_LT(during - before, 64 * 1024)
        << "RSS grew from " << before << " to " << during << " KiB";
}

TEST_F(ServerTest, AnsweredButUnsentResponsesStopReadingAtTheirCap) {
    // With max_pending_output out of the way, the response count alone must stop reading.
    std::atomic<int> answered{0};
    ServerConfig cfg = test_config();
    cfg.max_pending_output = size_t{1} << 40;
    cfg.max_unsent_responses = 4;
    cfg.send_timeout_ms = 10'000;
    auto server = std::make_unique<Server>(cfg);
    server->get("/big", [&answered](const Request&, http::Response& res) {
        answered.fetch_add(1, std::memory_order_relaxed);
        res.type("application/octet-stream").body(std::string(200'000, 'z'));
    });
    start_server(std::move(server));
    if (HasFatalFailure() || IsSkipped()) return;

    HttpClient c;
    ASSERT_TRUE(connect(c));
    const int total = 1000;  // 200 MB of responses if nothing stopped the server
    std::string batch;
    for (int i = 0; i < total; ++i)
        batch += get_request("/big");
    ASSERT_TRUE(c.send_all(batch));  // ~30 KB: fits the server's receive queue
    // The server has stopped once it answers no more requests while nothing more reaches us:
    // until then a count taken could be low only because the server is slow.
    test::Sample steady;
    ASSERT_TRUE(test::wait_until_steady(
        [&] {
            return test::Sample{answered.load(), c.unread_bytes()};
        },
        300ms, deadline_in(20'000ms), &steady, [](const test::Sample& v) { return v[1] > 0; }));
    const long long stalled = steady[0];
    RecordProperty("answered_while_not_reading", std::to_string(stalled));
    // What the kernel buffers hold (a few MB of 200 KB responses), plus the cap, plus the
    // requests of one receive buffer — far fewer than all of them, and at least the cap.
    EXPECT_LT(stalled, 300);
    EXPECT_GE(stalled, 4);
    // Reading resumes the server; every response arrives, in order and whole.
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(total, &rs, deadline_in(30'000ms)));
    for (const Response& r : rs) {
        ASSERT_EQ(r.status, 200);
        ASSERT_EQ(r.body.size(), 200'000u);
    }
    EXPECT_EQ(answered.load(), total);
}

TEST_F(ServerTest, AClientThatResetsMidResponseDoesNotDisturbTheServer) {
    start();
    for (int i = 0; i < 10; ++i) {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/bytes/3000000")));  // more than the socket buffers
        // The response has begun: the reset lands in the middle of it.
        char first[16];
        ASSERT_EQ(recv(c.fd(), first, sizeof first, MSG_WAITALL), 16);
        linger abort{1, 0};  // close() sends RST
        ASSERT_EQ(setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort), 0);
        c.close();
    }
    EXPECT_EQ(exchange(get_request("/")).status, 200);
}

TEST_F(ServerTest, AThousandSlowlorisConnectionsDoNotStopNormalClients) {
    constexpr size_t kSlow = 1000;
    // Both ends of every connection are in this process, plus the normal clients and whatever
    // else is open (more under the sanitizers).
    const DescriptorLimit limit(2 * kSlow + 256);
    if (!limit.ok()) GTEST_SKIP() << limit.why();
    ServerConfig cfg = test_config();
    cfg.request_head_timeout_ms = 3000;
    start(cfg);
    std::vector<HttpClient> slow(kSlow);
    for (HttpClient& c : slow) {
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all("GET / HTTP/1.1\r\nHost: t\r\nX-Never: "));
    }
    // While they hold their connections, normal clients get answers...
    for (int i = 0; i < 50; ++i) {
        const Response r = exchange(get_request("/json"));
        ASSERT_EQ(r.status, 200) << i;
    }
    // ...before any slow one has been answered or closed: nobody waited for their deadline.
    const auto untouched = [](const HttpClient& c) {
        char byte = 0;
        return recv(c.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
    };
    EXPECT_EQ(static_cast<size_t>(std::count_if(slow.begin(), slow.end(), untouched)), kSlow)
        << "normal clients were served only after slow ones reached their head deadline";
    // Then every slow one gets its 408 and is closed.
    for (HttpClient& c : slow)
        expect_408_then_close(c, 4000ms);
}

}  // namespace
}  // namespace nexure::net
