// Handed-off routes that stream their body (Server::handoff_route with RouteOptions::stream_body):
// the request reaches the handoff at its head, its body follows piece by piece under a credit
// window (Completions::body_control), 100-continue waits for the other side, a limit or a client
// that leaves ends the body with an error, and an answer before the end drops the rest. The
// other side is the test thread, behind a mutex.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "engine/worker.h"
#include "net/handoff.h"
#include "net/server.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace nexure::net {
namespace {

using test::deadline_in;
using test::HttpClient;
using test::poll_until;
using namespace std::chrono_literals;

struct Shared {
    std::mutex mutex;
    engine::Worker* worker = nullptr;
    bool sleeping = false;
    bool auto_credit = true;  // credit every piece back at the next turn end
    bool answer_at_end = true;  // answer "<bytes>" once the body ended
    std::vector<Ticket> heads;
    uint64_t received = 0;
    int ended = 0;
    int error_status = 0;
    std::string error_reason;
    // Given by the test (or the handoff itself), delivered at the worker's next turn end.
    std::vector<std::pair<Ticket, std::string>> answers;
    std::vector<std::pair<Ticket, std::pair<BodyControl, uint32_t>>> controls;

    void wake_locked() {
        if (sleeping && worker != nullptr) {
            sleeping = false;
            worker->wake();
        }
    }
    void control(const Ticket& t, BodyControl op, uint32_t n) {
        std::lock_guard lock(mutex);
        controls.push_back({t, {op, n}});
        wake_locked();
    }
    void answer(const Ticket& t, std::string body) {
        std::lock_guard lock(mutex);
        answers.push_back({t, std::move(body)});
        wake_locked();
    }
    template <typename F>
    auto read(F f) {
        std::lock_guard lock(mutex);
        return f();
    }
};

class BodyHandoff final : public Handoff {
  public:
    BodyHandoff(Shared& s, engine::Worker& w) : s_(s) {
        std::lock_guard lock(s_.mutex);
        s_.worker = &w;
    }
    void submit(const http::Request&, uint32_t, const Ticket& t) noexcept override {
        std::lock_guard lock(s_.mutex);
        s_.answers.push_back({t, "collected"});
    }
    bool submit_streaming(const http::Request&, uint32_t, const Ticket& t) noexcept override {
        std::lock_guard lock(s_.mutex);
        s_.heads.push_back(t);
        return true;
    }
    void body_data(const Ticket& t, std::string_view bytes) noexcept override {
        std::lock_guard lock(s_.mutex);
        s_.received += bytes.size();
        if (s_.auto_credit) {
            s_.controls.push_back({t, {BodyControl::kCredit, static_cast<uint32_t>(bytes.size())}});
        }
    }
    void body_end(const Ticket& t) noexcept override {
        std::lock_guard lock(s_.mutex);
        ++s_.ended;
        if (s_.answer_at_end) s_.answers.push_back({t, std::to_string(s_.received)});
    }
    void body_error(const Ticket&, int status, std::string_view reason) noexcept override {
        std::lock_guard lock(s_.mutex);
        s_.error_status = status;
        s_.error_reason = std::string(reason);
    }
    bool saturated() const noexcept override { return false; }
    void on_turn_end(Completions& done) noexcept override {
        std::vector<std::pair<Ticket, std::pair<BodyControl, uint32_t>>> controls;
        std::vector<std::pair<Ticket, std::string>> answers;
        {
            std::lock_guard lock(s_.mutex);
            controls.swap(s_.controls);
            answers.swap(s_.answers);
        }
        for (const auto& [t, c] : controls)
            done.body_control(t, c.first, c.second);
        for (const auto& [t, body] : answers) {
            done.response().status(200).type("text/plain").body(body);
            (void)done.complete(t);
        }
    }
    bool prepare_to_sleep() noexcept override {
        std::lock_guard lock(s_.mutex);
        s_.sleeping = s_.answers.empty() && s_.controls.empty();
        return s_.sleeping;
    }
    void awake() noexcept override {
        std::lock_guard lock(s_.mutex);
        s_.sleeping = false;
    }

  private:
    Shared& s_;
};

class HandoffBodyTest : public ServerTest {
  protected:
    void start_streaming(uint64_t limit = 0) {
        auto s = std::make_unique<Server>(test_config());
        s->handoff_route(Method::kPost, "/up", 1,
                         RouteOptions{.stream_body = true, .max_body_size = limit});
        s->handoff_route(Method::kPost, "/collected", 2);
        s->get("/native", [](const Request&, http::Response& res) {
            res.type("text/plain").body("native");
        });
        s->set_handoff([this](engine::Worker& w) -> Result<std::unique_ptr<Handoff>> {
            return std::unique_ptr<Handoff>(std::make_unique<BodyHandoff>(s_, w));
        });
        start_server(std::move(s));
    }
    Shared s_;
};

std::string post_head(size_t length, const std::string& extra = "") {
    return "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(length) + "\r\n" +
           extra + "\r\n";
}

TEST_F(HandoffBodyTest, TheBodyFollowsTheHeadInPiecesAndPipelinedRequestsAfterItAreAnswered) {
    ASSERT_NO_FATAL_FAILURE(start_streaming());
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const size_t n = 3 * 1024 * 1024 + 17;
    ASSERT_TRUE(c.send_all(post_head(n) + std::string(n, 'b') + test::get_request("/native")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body, std::to_string(n));
    EXPECT_EQ(rs[1].body, "native");
    EXPECT_EQ(s_.read([&] { return s_.ended; }), 1);
    // A chunked body too, and a collected route beside it.
    const std::string chunked =
        "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    s_.read([&] { return s_.received = 0; });
    ASSERT_TRUE(c.send_all(chunked));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "11");
}

TEST_F(HandoffBodyTest, ARequestThatClosesTheConnectionStillHasItsWholeBodyRead) {
    ASSERT_NO_FATAL_FAILURE(start_streaming());
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const size_t n = 2 * 1024 * 1024;
    ASSERT_TRUE(c.send_all(post_head(n, "Connection: close\r\n")));
    ASSERT_TRUE(c.send_in_pieces(std::string(n, 'c'), 256 * 1024));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, std::to_string(n));
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(5s)));
}

TEST_F(HandoffBodyTest, WithoutCreditTheEngineStopsReadingAfterTheWindow) {
    s_.auto_credit = false;
    ASSERT_NO_FATAL_FAILURE(start_streaming());
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const size_t n = 16 * 1024 * 1024;
    ASSERT_TRUE(c.send_all(post_head(n)));
    // Write what the socket takes without blocking: the rest waits for the window.
    const int flags = fcntl(c.fd(), F_GETFL);
    ASSERT_EQ(fcntl(c.fd(), F_SETFL, flags | O_NONBLOCK), 0);
    const std::string piece(64 * 1024, 'w');
    size_t sent = 0;
    auto push = [&] {
        while (sent < n) {
            const ssize_t k =
                ::send(c.fd(), piece.data(), std::min(piece.size(), n - sent), MSG_NOSIGNAL);
            if (k <= 0) break;
            sent += static_cast<size_t>(k);
        }
    };
    // Until the server stops taking bytes: the window, one read more, and the kernel buffers.
    uint64_t last = 0;
    for (int stable = 0; stable < 5;) {
        push();
        std::this_thread::sleep_for(50ms);
        const uint64_t now = s_.read([&] { return s_.received; });
        stable = now == last ? stable + 1 : 0;
        last = now;
    }
    EXPECT_LT(sent, n) << "the client could send everything: nothing pushed back";
    EXPECT_GE(last, kBodyWindow);
    EXPECT_LE(last, kBodyWindow + 256 * 1024) << "read past the credit window";
    // Credit flows again: the whole body arrives.
    ASSERT_EQ(s_.read([&] { return s_.heads.size(); }), 1U);
    const Ticket t = s_.read([&] { return s_.heads[0]; });
    uint64_t credited = 0;
    ASSERT_TRUE(poll_until(
        [&] {
            const uint64_t got = s_.read([&] { return s_.received; });
            if (got > credited) {
                s_.control(t, BodyControl::kCredit, static_cast<uint32_t>(got - credited));
                credited = got;
            }
            push();
            return s_.read([&] { return s_.ended; }) == 1;
        },
        deadline_in(20s)));
    ASSERT_EQ(fcntl(c.fd(), F_SETFL, flags), 0);
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, std::to_string(n));
}

TEST_F(HandoffBodyTest, ContinueIsHeldUntilTheOtherSideStartsReading) {
    ASSERT_NO_FATAL_FAILURE(start_streaming());
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(post_head(5, "Expect: 100-continue\r\n")));
    ASSERT_TRUE(poll_until([&] { return s_.read([&] { return s_.heads.size(); }) == 1; },
                           deadline_in(5s)));
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(c.unread_bytes(), 0) << "100 Continue before the other side asked for the body";
    s_.control(s_.read([&] { return s_.heads[0]; }), BodyControl::kStart, 0);
    std::string got;
    ASSERT_TRUE(poll_until(
        [&] {
            char buf[64];
            const ssize_t k = ::recv(c.fd(), buf, sizeof(buf), MSG_DONTWAIT);
            if (k > 0) got.append(buf, static_cast<size_t>(k));
            return got.size() >= 25;
        },
        deadline_in(5s)));
    EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(c.send_all("hello"));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "5");
}

TEST_F(HandoffBodyTest, AnAnswerBeforeTheEndDropsTheRestAndTheConnectionGoesOn) {
    s_.answer_at_end = false;
    ASSERT_NO_FATAL_FAILURE(start_streaming());
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const size_t n = 4 * 1024 * 1024;
    ASSERT_TRUE(c.send_all(post_head(n) + std::string(64 * 1024, 'e')));
    ASSERT_TRUE(poll_until([&] { return s_.read([&] { return s_.heads.size(); }) == 1; },
                           deadline_in(5s)));
    s_.answer(s_.read([&] { return s_.heads[0]; }), "early");
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "early");
    const uint64_t before = s_.read([&] { return s_.received; });
    ASSERT_TRUE(c.send_all(std::string(n - 64 * 1024, 'e') + test::get_request("/native")));
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "native");
    EXPECT_LE(s_.read([&] { return s_.received; }), before + 64 * 1024)
        << "the rest of the body was still sent to the handoff";
    EXPECT_EQ(s_.read([&] { return s_.ended; }), 0);
}

TEST_F(HandoffBodyTest, AChunkedBodyOverTheLimitIs413AndABodyError) {
    ASSERT_NO_FATAL_FAILURE(start_streaming(1000));
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "258\r\n" + std::string(600, 'x') + "\r\n258\r\n" +
                           std::string(600, 'x') + "\r\n0\r\n\r\n"));
    test::Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(s_.read([&] { return s_.error_status; }), 413);
    // By Content-Length: refused before the handoff sees it.
    HttpClient d;
    ASSERT_TRUE(connect(d));
    ASSERT_TRUE(d.send_all(post_head(1001)));
    ASSERT_TRUE(d.read_response(&r));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(s_.read([&] { return s_.heads.size(); }), 1U);
}

TEST_F(HandoffBodyTest, AClientThatLeavesMidBodyEndsItWithAnError) {
    ASSERT_NO_FATAL_FAILURE(start_streaming());
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(post_head(1000000) + std::string(1000, 'a')));
    ASSERT_TRUE(poll_until([&] { return s_.read([&] { return s_.received; }) == 1000; },
                           deadline_in(5s)));
    c.close();
    ASSERT_TRUE(poll_until([&] { return s_.read([&] { return s_.error_status; }) != 0; },
                           deadline_in(5s)));
    EXPECT_EQ(s_.read([&] { return s_.error_status; }), 400);
    EXPECT_EQ(s_.read([&] { return s_.ended; }), 0);
}

}  // namespace
}  // namespace nexure::net
