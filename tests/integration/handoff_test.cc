// Handed-off routes (net/handoff.h): requests answered later, on another thread, must still leave
// in request order, be bounded by the handler timeout, and push back when the other side is full.
// The other side here is the test thread itself, behind a mutex-protected queue.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
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
using test::get_request;
using test::HttpClient;
using test::poll_until;
using test::Response;
using namespace std::chrono_literals;

constexpr uint32_t kRouteId = 7;
constexpr uint32_t kEngineAnswersId = 99;  // Server::handoff_engine_answers()

struct Taken {
    Ticket ticket;
    uint32_t id = 0;
    std::string method;
    std::string target;
    std::string body;
    uint16_t engine_status = 0;  // submit_engine_answer(): the engine's own answer
};

struct Answer {
    Ticket ticket;
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool close = false;
};

// What the worker's handoff and the test share.
struct Exchange {
    std::mutex mutex;
    std::condition_variable arrived;
    std::vector<Taken> requests;  // submitted, not yet taken by the test
    std::vector<Answer> answers;  // given by the test, delivered at the worker's next turn end
    engine::Worker* worker = nullptr;
    bool sleeping = false;
    size_t capacity = SIZE_MAX;  // requests outstanding at which the handoff is saturated
    size_t outstanding = 0;      // submitted and not answered
    size_t max_outstanding = 0;
    size_t delivered = 0;
    size_t dropped = 0;
    bool gone = false;  // the handoff reports abandoned()

    // Test side: waits until `n` requests were submitted and takes them.
    std::vector<Taken> take(size_t n, std::chrono::milliseconds within = 5000ms) {
        std::unique_lock lock(mutex);
        arrived.wait_for(lock, within, [&] { return requests.size() >= n; });
        std::vector<Taken> out;
        const size_t count = std::min(n, requests.size());
        out.assign(requests.begin(), requests.begin() + static_cast<ptrdiff_t>(count));
        requests.erase(requests.begin(), requests.begin() + static_cast<ptrdiff_t>(count));
        return out;
    }
    void answer(Answer a) {
        std::lock_guard lock(mutex);
        answers.push_back(std::move(a));
        if (sleeping) {
            sleeping = false;
            worker->wake();
        }
    }
    size_t dropped_count() {
        std::lock_guard lock(mutex);
        return dropped;
    }
};

class TestHandoff final : public Handoff {
  public:
    TestHandoff(Exchange& x, engine::Worker& w) : x_(x) {
        std::lock_guard lock(x_.mutex);
        x_.worker = &w;
    }

    void submit(const http::Request& req, uint32_t id, const Ticket& ticket) noexcept override {
        take(req, id, ticket, 0);
    }
    void submit_engine_answer(const http::Request& req, uint32_t id, uint16_t status,
                              const Ticket& ticket) noexcept override {
        take(req, id, ticket, status);
    }
    bool saturated() const noexcept override {
        std::lock_guard lock(x_.mutex);
        return x_.outstanding >= x_.capacity;
    }
    void on_turn_end(Completions& done) noexcept override {
        std::vector<Answer> answers;
        {
            std::lock_guard lock(x_.mutex);
            answers.swap(x_.answers);
        }
        for (const Answer& a : answers) {
            http::Response& res = done.response();
            res.status(a.status);
            for (const auto& [name, value] : a.headers)
                res.header(name, value);
            res.body(a.body);
            if (a.close) res.close();
            const bool ok = done.complete(a.ticket);
            std::lock_guard lock(x_.mutex);
            --x_.outstanding;
            ++(ok ? x_.delivered : x_.dropped);
        }
    }
    bool prepare_to_sleep() noexcept override {
        std::lock_guard lock(x_.mutex);
        x_.sleeping = x_.answers.empty();
        return x_.sleeping;
    }
    void awake() noexcept override {
        std::lock_guard lock(x_.mutex);
        x_.sleeping = false;
    }
    bool abandoned() const noexcept override {
        std::lock_guard lock(x_.mutex);
        return x_.gone;
    }

  private:
    void take(const http::Request& req, uint32_t id, const Ticket& ticket, uint16_t status) {
        std::lock_guard lock(x_.mutex);
        x_.requests.push_back(Taken{ticket, id, std::string(req.method_name()),
                                    std::string(req.target()), std::string(req.body()), status});
        ++x_.outstanding;
        x_.max_outstanding = std::max(x_.max_outstanding, x_.outstanding);
        x_.arrived.notify_all();
    }

    Exchange& x_;
};

Answer text(const Taken& t, std::string body, int status = 200) {
    Answer a;
    a.ticket = t.ticket;
    a.status = status;
    a.headers = {{"Content-Type", "text/plain"}};
    a.body = std::move(body);
    return a;
}

class HandoffTest : public ServerTest {
  protected:
    void start_handoff(ServerConfig config = test_config(), bool engine_answers = false) {
        auto s = std::make_unique<Server>(config);
        if (engine_answers) s->handoff_engine_answers(kEngineAnswersId);
        s->handoff_route(Method::kGet, "/h/:n", kRouteId);
        s->handoff_route(Method::kPost, "/h/:n", kRouteId + 1);
        s->get("/native", [](const Request&, http::Response& res) {
            res.type("text/plain").body("native");
        });
        s->fixed(Method::kGet, "/fixed",
                 FixedResponse{.status = 200,
                               .content_type = "text/plain",
                               .headers = {{"Cache-Control", "no-store"}},
                               .body = "fixed answer"});
        s->set_handoff([this](engine::Worker& w) -> Result<std::unique_ptr<Handoff>> {
            return std::unique_ptr<Handoff>(std::make_unique<TestHandoff>(x_, w));
        });
        start_server(std::move(s));
    }

    // Answered only after the worker has handled every completion that arrived before this
    // request did (one worker, completions in arrival order): a test's earlier event has been
    // seen by then.
    void round_trip() {
        const Response r = exchange(get_request("/native"));
        EXPECT_EQ(r.body, "native");
    }
    // Waits until the handoff has dropped `n` answers.
    ::testing::AssertionResult wait_for_dropped(size_t n) {
        if (poll_until([&] { return x_.dropped_count() >= n; }, deadline_in(test::kIoTimeout))) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure() << x_.dropped_count() << " answers dropped, not " << n;
    }

    Exchange x_;
};

std::string pipelined(int first, int count) {
    std::string out;
    for (int i = first; i < first + count; ++i)
        out += get_request("/h/" + std::to_string(i));
    return out;
}

TEST_F(HandoffTest, AnAnswerFromAnotherThreadIsFramedLikeAnyResponse) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/42?x=1")));
    std::vector<Taken> got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, kRouteId);
    EXPECT_EQ(got[0].method, "GET");
    EXPECT_EQ(got[0].target, "/h/42?x=1");
    Answer a = text(got[0], "hello", 201);
    a.headers.emplace_back("X-Answer", "yes");
    x_.answer(a);
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.header("X-Answer"), "yes");
    EXPECT_EQ(r.header("Content-Length"), "5");
    EXPECT_TRUE(r.has_header("Date"));
    EXPECT_EQ(r.header("Server"), "NexureJS");
    EXPECT_FALSE(r.has_header("Connection"));
}

TEST_F(HandoffTest, PipelinedAnswersGivenInReverseLeaveInRequestOrder) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(pipelined(0, 16)));
    std::vector<Taken> got = x_.take(16);
    ASSERT_EQ(got.size(), 16u);
    for (auto it = got.rbegin(); it != got.rend(); ++it)
        x_.answer(text(*it, "answer to " + it->target));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(16, &rs));
    for (int i = 0; i < 16; ++i)
        EXPECT_EQ(rs[i].body, "answer to /h/" + std::to_string(i));
}

TEST_F(HandoffTest, EngineAnswersWaitBehindAnEarlierHandedOffRequest) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1") + get_request("/native") +
                           get_request("/missing") + get_request("/h/2") +
                           get_request("/fixed")));
    std::vector<Taken> got = x_.take(2);
    ASSERT_EQ(got.size(), 2u);
    // Nothing may leave before the first request is answered. Whatever the worker would have
    // sent for these requests went out before it answers a later request on another connection.
    round_trip();
    EXPECT_EQ(c.unread_bytes(), 0);
    x_.answer(text(got[1], "second"));
    x_.answer(text(got[0], "first"));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(5, &rs));
    EXPECT_EQ(rs[0].body, "first");
    EXPECT_EQ(rs[1].body, "native");
    EXPECT_EQ(rs[2].status, 404);
    EXPECT_EQ(rs[3].body, "second");
    EXPECT_EQ(rs[4].body, "fixed answer");
}

TEST_F(HandoffTest, EngineAnswersForRoutedPathsAreHandedOffWhenAsked) {
    ServerConfig config = test_config();
    config.limits.max_body_size = 100;
    start_handoff(config, /*engine_answers=*/true);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    // 405 and OPTIONS: handed off with the status the engine would have given; the connection
    // stays open.
    ASSERT_TRUE(
        c.send_all("DELETE /h/1 HTTP/1.1\r\nHost: a\r\n\r\n"
                   "OPTIONS /h/2 HTTP/1.1\r\nHost: a\r\n\r\n"));
    std::vector<Taken> got = x_.take(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].id, kEngineAnswersId);
    EXPECT_EQ(got[0].engine_status, 405);
    EXPECT_EQ(got[0].method, "DELETE");
    EXPECT_EQ(got[1].engine_status, 204);
    EXPECT_EQ(got[1].target, "/h/2");
    x_.answer(text(got[1], "", 204));
    x_.answer(text(got[0], "{\"error\":\"method\"}", 405));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 405);
    EXPECT_EQ(rs[0].body, "{\"error\":\"method\"}");
    EXPECT_EQ(rs[1].status, 204);
    EXPECT_FALSE(rs[1].has_header("Connection"));

    // 413 by Content-Length: handed off at the head, without the body; the connection closes.
    ASSERT_TRUE(c.send_all("POST /h/3 HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\nabc"));
    got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].engine_status, 413);
    EXPECT_EQ(got[0].body, "");
    x_.answer(text(got[0], "too big", 413));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.body, "too big");
    EXPECT_EQ(r.header("Connection"), "close");

    // 413 of a chunked body that grows over the limit: handed off when it does.
    HttpClient d;
    ASSERT_TRUE(connect(d));
    ASSERT_TRUE(d.send_all("POST /h/4 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "32\r\n" + std::string(50, 'x') + "\r\n40\r\n"));
    got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].engine_status, 413);
    EXPECT_EQ(got[0].target, "/h/4");
    x_.answer(text(got[0], "too big", 413));
    ASSERT_TRUE(d.read_response(&r));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.header("Connection"), "close");

    // A path without routes: still the engine's own 404, never handed off.
    EXPECT_EQ(exchange(get_request("/missing")).status, 404);
    EXPECT_EQ(x_.take(1, 50ms).size(), 0u);
}

TEST_F(HandoffTest, AnUnansweredRequestGets503AndItsLateAnswerIsDropped) {
    ServerConfig config = test_config();
    config.handler_timeout_ms = 200;
    start_handoff(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const auto sent = test::Clock::now();
    ASSERT_TRUE(c.send_all(get_request("/h/1")));
    std::vector<Taken> first = x_.take(1);
    ASSERT_EQ(first.size(), 1u);
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    const auto waited = test::Clock::now() - sent;
    EXPECT_EQ(r.status, 503);
    EXPECT_GE(waited, 190ms);
    EXPECT_FALSE(r.has_header("Connection"));  // the connection stays usable

    x_.answer(text(first[0], "too late"));
    ASSERT_TRUE(c.send_all(get_request("/h/2")));
    std::vector<Taken> second = x_.take(1);
    ASSERT_EQ(second.size(), 1u);
    x_.answer(text(second[0], "on time"));
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "on time");
    EXPECT_EQ(x_.dropped_count(), 1u);
}

TEST_F(HandoffTest, ASaturatedHandoffStopsReadingAndEveryRequestIsStillAnswered) {
    x_.capacity = 8;
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    constexpr int kCount = 2000;
    std::thread sender([&] { EXPECT_TRUE(c.send_all(pipelined(0, kCount))); });
    int answered = 0;
    while (answered < kCount) {
        std::vector<Taken> got = x_.take(1, 5000ms);
        ASSERT_EQ(got.size(), 1u) << "after " << answered << " answers";
        x_.answer(text(got[0], got[0].target));
        ++answered;
    }
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(kCount, &rs, deadline_in(20s)));
    sender.join();
    for (int i = 0; i < kCount; ++i)
        ASSERT_EQ(rs[i].body, "/h/" + std::to_string(i));
    // At most the capacity plus what one receive buffer holds got in before reading stopped.
    const size_t per_buffer = 4096 / get_request("/h/0").size() + 1;
    std::lock_guard lock(x_.mutex);
    std::printf("handed off at most %zu at once (bound %zu)\n", x_.max_outstanding,
                8 + per_buffer);
    EXPECT_LE(x_.max_outstanding, 8 + per_buffer);
    EXPECT_GE(x_.max_outstanding, 8u);
}

TEST_F(HandoffTest, AFixedRouteIsServedByTheEngine) {
    start_handoff();
    Response r = exchange(get_request("/fixed"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "fixed answer");
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
    EXPECT_TRUE(r.has_header("Date"));
    r = exchange("HEAD /fixed HTTP/1.1\r\nHost: x\r\n\r\n", true);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(r.header("Content-Length"), "12");
    std::lock_guard lock(x_.mutex);
    EXPECT_EQ(x_.max_outstanding, 0u);  // never handed off
}

TEST(HandoffRoutes, AnInvalidFixedResponseIsRefusedWithTheReason) {
    Server s(test_config());
    try {
        FixedResponse bad;
        bad.headers = {{"X-Bad", "a\r\nb"}};
        s.fixed(Method::kGet, "/bad", bad);
        FAIL() << "accepted a header value with CR LF";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("/bad"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("fixed response"), std::string::npos) << e.what();
    }
    FixedResponse status;
    status.status = 999;
    EXPECT_THROW(s.fixed(Method::kGet, "/status", status), std::invalid_argument);
    FixedResponse length;
    length.headers = {{"Content-Length", "3"}};
    EXPECT_THROW(s.fixed(Method::kGet, "/length", length), std::invalid_argument);
}

TEST(HandoffRoutes, StartingWithoutAHandoffNamesTheMissingCall) {
    Server s(test_config());
    s.handoff_route(Method::kGet, "/h", 1);
    Result<void> r = s.start();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("set_handoff"), std::string::npos) << r.error().message;
}

TEST_F(HandoffTest, AnInvalidHeaderInAnAnswerGives500) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1")));
    std::vector<Taken> got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    Answer a = text(got[0], "must not be sent");
    a.headers.emplace_back("X-Split", "a\r\nX-Injected: 1");
    x_.answer(a);
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 500);
    EXPECT_FALSE(r.has_header("X-Injected"));
    EXPECT_EQ(r.body.find("must not"), std::string::npos);
}

TEST_F(HandoffTest, TheAnswerForAResetConnectionIsDroppedAndServingGoesOn) {
    start_handoff();
    const size_t without_connections = test::descriptor_count();
    {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/h/1")));
        std::vector<Taken> got = x_.take(1);
        ASSERT_EQ(got.size(), 1u);
        // A reset, not a FIN: a peer that only half-closed may still read its answer.
        const linger reset{1, 0};
        ASSERT_EQ(setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)), 0);
        c.close();
        // The server has seen the reset once it has closed its socket (it runs in this process).
        ASSERT_TRUE(
            test::wait_for_descriptors_at_most(without_connections, deadline_in(test::kIoTimeout)));
        x_.answer(text(got[0], "nobody reads this"));
    }
    EXPECT_TRUE(wait_for_dropped(1));
    EXPECT_EQ(x_.dropped_count(), 1u);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/native")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "native");
}

TEST_F(HandoffTest, APeerThatHalfClosedStillGetsItsAnswer) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1")));
    c.shutdown_write();
    std::vector<Taken> got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    round_trip();  // the server has seen the FIN, sent before it
    x_.answer(text(got[0], "still delivered"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "still delivered");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(2000ms)));
}

TEST_F(HandoffTest, ARequestThatClosesGetsConnectionCloseAndTheConnectionEnds) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1", "Connection: close\r\n") + get_request("/h/2")));
    std::vector<Taken> got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    x_.answer(text(got[0], "last"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "last");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(2000ms)));
    // The server parsed all it ever will of this connection before closing it: the request
    // after the closing one was never handed off.
    EXPECT_TRUE(x_.take(1, 0ms).empty());
}

TEST_F(HandoffTest, AnAnswerThatClosesDropsThePlacesBehindIt) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(pipelined(1, 2)));
    std::vector<Taken> got = x_.take(2);
    ASSERT_EQ(got.size(), 2u);
    Answer a = text(got[0], "closing");
    a.close = true;
    x_.answer(a);
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "closing");
    EXPECT_EQ(r.header("Connection"), "close");
    x_.answer(text(got[1], "dropped"));
    bool closed = false;
    EXPECT_EQ(c.read_until_eof(deadline_in(2000ms), &closed), "");
    EXPECT_TRUE(closed);
    EXPECT_TRUE(wait_for_dropped(1));
    EXPECT_EQ(x_.dropped_count(), 1u);
}

TEST_F(HandoffTest, HeadOnAHandedOffRouteGetsTheHeadOnly) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("HEAD /h/1 HTTP/1.1\r\nHost: x\r\n\r\n" + get_request("/native")));
    std::vector<Taken> got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].method, "HEAD");
    x_.answer(text(got[0], "twelve bytes"));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs, deadline_in(test::kIoTimeout), {true, false}));
    EXPECT_EQ(rs[0].header("Content-Length"), "12");
    EXPECT_EQ(rs[0].body, "");
    EXPECT_EQ(rs[1].body, "native");
}

TEST_F(HandoffTest, AGracefulStopWaitsForTheAnswer) {
    start_handoff();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1", "Content-Length: 4\r\n") + "body"));
    std::vector<Taken> got = x_.take(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, "body");
    server_->stop();
    // stop() only asks; the worker has begun stopping once its listener is closed.
    ASSERT_TRUE(test::wait_until_refused(port_, deadline_in(test::kIoTimeout)));
    x_.answer(text(got[0], "finished"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "finished");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(2000ms)));
    server_->wait();
}

TEST_F(HandoffTest, StoppingWithAnAbandonedHandoffAnswers503AtOnce) {
    ServerConfig config = test_config();
    config.drain_timeout_ms = 5000;
    start_handoff(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(pipelined(1, 2)));
    ASSERT_EQ(x_.take(2).size(), 2u);
    {
        std::lock_guard lock(x_.mutex);
        x_.gone = true;
    }
    const auto stop_began = test::Clock::now();
    server_->stop();
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 503);
    EXPECT_EQ(rs[1].status, 503);
    EXPECT_EQ(rs[1].header("Connection"), "close");
    server_->wait();
    EXPECT_LT(test::Clock::now() - stop_began, 2000ms);  // not the 5 s drain timeout
}

}  // namespace
}  // namespace nexure::net
