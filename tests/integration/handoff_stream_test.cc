// Streamed answers through a Handoff (net/handoff.h: Completions::open_stream/write/end,
// Handoff::aborted/writable), as the JavaScript bridge uses them: the framing on the wire, the
// order among pipelined answers, a cut stream, the backpressure report and the abort reports.
// The other side is the test thread, behind a mutex.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
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
using test::get_request;
using test::HttpClient;
using test::poll_until;
using test::Response;
using namespace std::chrono_literals;

// What the worker's handoff and the test share. The test queues operations that the handoff
// runs, in order, at the worker's next turn end (where Completions may be called).
struct Shared {
    std::mutex mutex;
    std::vector<Ticket> requests;
    std::vector<std::function<void(Completions&)>> ops;
    std::vector<Ticket> aborted;
    std::vector<Ticket> writable;
    std::vector<Completions::Write> writes;
    std::vector<bool> opened;
    engine::Worker* worker = nullptr;
    bool sleeping = false;

    void run(std::function<void(Completions&)> op) {
        std::lock_guard lock(mutex);
        ops.push_back(std::move(op));
        if (sleeping) {
            sleeping = false;
            worker->wake();
        }
    }
    template <typename T>
    size_t count(const std::vector<T>& v) {
        std::lock_guard lock(mutex);
        return v.size();
    }
    Ticket request(size_t i) {
        std::lock_guard lock(mutex);
        return requests.at(i);
    }
};

class StreamHandoff final : public Handoff {
  public:
    StreamHandoff(Shared& x, engine::Worker& w) : x_(x) {
        std::lock_guard lock(x_.mutex);
        x_.worker = &w;
    }
    void submit(const http::Request&, uint32_t, const Ticket& ticket) noexcept override {
        std::lock_guard lock(x_.mutex);
        x_.requests.push_back(ticket);
    }
    bool saturated() const noexcept override { return false; }
    void on_turn_end(Completions& done) noexcept override {
        std::vector<std::function<void(Completions&)>> ops;
        {
            std::lock_guard lock(x_.mutex);
            ops.swap(x_.ops);
        }
        for (auto& op : ops)
            op(done);
    }
    bool prepare_to_sleep() noexcept override {
        std::lock_guard lock(x_.mutex);
        x_.sleeping = x_.ops.empty();
        return x_.sleeping;
    }
    void awake() noexcept override {
        std::lock_guard lock(x_.mutex);
        x_.sleeping = false;
    }
    void aborted(const Ticket& ticket) noexcept override {
        std::lock_guard lock(x_.mutex);
        x_.aborted.push_back(ticket);
    }
    void writable(const Ticket& ticket) noexcept override {
        std::lock_guard lock(x_.mutex);
        x_.writable.push_back(ticket);
    }

  private:
    Shared& x_;
};

class HandoffStreamTest : public ServerTest {
  protected:
    void start_streams(ServerConfig config = test_config()) {
        auto s = std::make_unique<Server>(config);
        s->handoff_route(http::Method::kGet, "/h/:n", 1);
        s->get("/native",
               [](const Request&, http::Response& res) { res.type("text/plain").body("native"); });
        s->set_handoff([this](engine::Worker& w) -> Result<std::unique_ptr<Handoff>> {
            return std::unique_ptr<Handoff>(std::make_unique<StreamHandoff>(x_, w));
        });
        start_server(std::move(s));
    }
    ::testing::AssertionResult wait_requests(size_t n) {
        if (poll_until([&] { return x_.count(x_.requests) >= n; }, deadline_in(test::kIoTimeout)))
            return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << x_.count(x_.requests) << " requests, not " << n;
    }
    void open(const Ticket& t, uint64_t length = Completions::kUnknownLength,
              std::string type = "text/plain") {
        x_.run([this, t, length, type](Completions& done) {
            done.response().status(200).type(type);
            const bool ok = done.open_stream(t, length);
            std::lock_guard lock(x_.mutex);
            x_.opened.push_back(ok);
        });
    }
    void write(const Ticket& t, std::string bytes) {
        x_.run([this, t, bytes](Completions& done) {
            const Completions::Write w = done.write(t, bytes);
            std::lock_guard lock(x_.mutex);
            x_.writes.push_back(w);
        });
    }
    void end(const Ticket& t, bool failed = false) {
        x_.run([t, failed](Completions& done) { done.end(t, failed); });
    }

    Shared x_;
};

TEST_F(HandoffStreamTest, AStreamedAnswerIsChunkedAndKeepsItsPlaceAmongPipelinedAnswers) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1") + get_request("/native") + get_request("/h/2")));
    ASSERT_TRUE(wait_requests(2));
    const Ticket first = x_.request(0);
    const Ticket second = x_.request(1);
    // The second answer comes first, whole; the stream of the first holds it back until it ends.
    x_.run([second](Completions& done) {
        done.response().status(200).type("text/plain").body("whole");
        (void)done.complete(second);
    });
    open(first);
    write(first, "one,");
    write(first, "two");
    end(first);
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].body, "one,two");
    EXPECT_EQ(rs[0].header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(rs[0].header("Content-Type"), "text/plain");
    EXPECT_NE(rs[0].raw.find("4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n"), std::string::npos);
    EXPECT_EQ(rs[1].body, "native");
    EXPECT_EQ(rs[2].body, "whole");
    std::lock_guard lock(x_.mutex);
    EXPECT_EQ(x_.opened, std::vector<bool>{true});
    EXPECT_EQ(x_.writes, (std::vector<Completions::Write>{Completions::Write::kAccepted,
                                                          Completions::Write::kAccepted}));
    EXPECT_TRUE(x_.aborted.empty());
}

TEST_F(HandoffStreamTest, APreframedStreamGoesOutAsWrittenAndKeepsItsPlace) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1") + get_request("/native") + get_request("/h/2")));
    ASSERT_TRUE(wait_requests(2));
    const Ticket first = x_.request(0);
    const Ticket second = x_.request(1);
    // The other side writes the whole answer (nexurejs/http: Node's ServerResponse); the engine
    // adds no head, no framing, and keeps the answer's place before the native one.
    const std::string head = "HTTP/1.1 201 Made\r\nX-By: the other side\r\nContent-Length: 5\r\n\r\n";
    open(second, Completions::kPreframed);
    write(second, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    end(second);
    open(first, Completions::kPreframed);
    write(first, head + "he");
    write(first, "llo");
    end(first);
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].raw, head + "hello");
    EXPECT_EQ(rs[0].reason, "Made");
    EXPECT_EQ(rs[1].body, "native");
    EXPECT_EQ(rs[2].body, "ok");
    EXPECT_EQ(rs[2].raw.size(), 59u);  // exactly the bytes written: no Date, no Server
    std::lock_guard lock(x_.mutex);
    EXPECT_EQ(x_.opened, (std::vector<bool>{true, true}));
    EXPECT_TRUE(x_.aborted.empty());
}

TEST_F(HandoffStreamTest, APreframedStreamWithCloseEndsTheConnectionAfterIt) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1") + get_request("/native")));
    ASSERT_TRUE(wait_requests(1));
    const Ticket t = x_.request(0);
    x_.run([t](Completions& done) {
        done.response().status(200).close();
        (void)done.open_stream(t, Completions::kPreframed);
    });
    write(t, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close");
    end(t);
    bool closed = false;
    const std::string all = c.read_until_eof(deadline_in(test::kIoTimeout), &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(all, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close");  // nothing after
}

TEST_F(HandoffStreamTest, AKnownLengthIsSentAsContentLength) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1")));
    ASSERT_TRUE(wait_requests(1));
    const Ticket t = x_.request(0);
    open(t, 6);
    write(t, "abc");
    write(t, "def");
    end(t);
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.header("Content-Length"), "6");
    EXPECT_FALSE(r.has_header("Transfer-Encoding"));
    EXPECT_EQ(r.body, "abcdef");
}

TEST_F(HandoffStreamTest, AFailedStreamIsCutWithoutItsLastChunkAndTheConnectionCloses) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1") + get_request("/h/2")));
    ASSERT_TRUE(wait_requests(2));
    const Ticket t = x_.request(0);
    open(t);
    write(t, "partial");
    end(t, /*failed=*/true);
    bool closed = false;
    const std::string got = c.read_until_eof(deadline_in(test::kIoTimeout), &closed);
    EXPECT_TRUE(closed);
    EXPECT_NE(got.find("7\r\npartial\r\n"), std::string::npos);
    EXPECT_EQ(got.find("0\r\n\r\n"), std::string::npos);
    // The request behind it will not be answered: its handoff is told.
    ASSERT_TRUE(
        poll_until([&] { return x_.count(x_.aborted) == 1; }, deadline_in(test::kIoTimeout)));
    std::lock_guard lock(x_.mutex);
    EXPECT_EQ(x_.aborted[0].seq, x_.requests[1].seq);
}

TEST_F(HandoffStreamTest, AClientThatLeavesIsReportedOnceAndLaterWritesAreGone) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1")));
    ASSERT_TRUE(wait_requests(1));
    const Ticket t = x_.request(0);
    open(t);
    write(t, "before");
    c.close();
    ASSERT_TRUE(
        poll_until([&] { return x_.count(x_.aborted) >= 1; }, deadline_in(test::kIoTimeout)));
    // Writes after the client left: gone once the connection is (after the FIN alone it may
    // stay open a little longer: the engine writes, the client's reset closes it).
    bool gone = false;
    for (size_t i = 2; i < 200 && !gone; ++i) {
        write(t, "after");
        ASSERT_TRUE(
            poll_until([&] { return x_.count(x_.writes) >= i; }, deadline_in(test::kIoTimeout)));
        std::lock_guard lock(x_.mutex);
        gone = x_.writes.back() == Completions::Write::kGone;
    }
    EXPECT_TRUE(gone);
    end(t);
    EXPECT_EQ(exchange(get_request("/native")).body, "native");
    std::lock_guard lock(x_.mutex);
    EXPECT_EQ(x_.aborted.size(), 1u);
    EXPECT_EQ(x_.aborted[0].seq, t.seq);
}

TEST_F(HandoffStreamTest, TheHandlerTimeoutIsReportedAsAnAbort) {
    ServerConfig config = test_config();
    config.handler_timeout_ms = 100;
    start_streams(config);
    const Response r = exchange(get_request("/h/1"));
    EXPECT_EQ(r.status, 503);
    ASSERT_TRUE(
        poll_until([&] { return x_.count(x_.aborted) == 1; }, deadline_in(test::kIoTimeout)));
    // Opening the stream now is refused.
    open(x_.request(0));
    ASSERT_TRUE(
        poll_until([&] { return x_.count(x_.opened) == 1; }, deadline_in(test::kIoTimeout)));
    std::lock_guard lock(x_.mutex);
    EXPECT_FALSE(x_.opened[0]);
}

TEST_F(HandoffStreamTest, AFullOutputSaysSoAndWritableFollowsOnceTheClientReads) {
    ServerConfig config = test_config();
    config.max_pending_output = 256 * 1024;
    start_streams(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/h/1")));
    ASSERT_TRUE(wait_requests(1));
    const Ticket t = x_.request(0);
    open(t);
    // The client reads nothing: write until the output is over its high-water mark.
    const std::string piece(64 * 1024, 'x');
    size_t written = 0;
    bool full = false;
    for (int i = 0; i < 1000 && !full; ++i) {
        write(t, piece);
        written += piece.size();
        ASSERT_TRUE(poll_until([&] { return x_.count(x_.writes) == static_cast<size_t>(i + 1); },
                               deadline_in(test::kIoTimeout)));
        std::lock_guard lock(x_.mutex);
        full = x_.writes.back() == Completions::Write::kFull;
    }
    ASSERT_TRUE(full);
    EXPECT_EQ(x_.count(x_.writable), 0u);
    // Reading drains it: writable() is told, once.
    bool closed = false;
    std::string got;
    ASSERT_TRUE(poll_until(
        [&] {
            got += c.read_until_eof(deadline_in(20ms), &closed);
            return x_.count(x_.writable) == 1;
        },
        deadline_in(test::kIoTimeout)));
    {
        std::lock_guard lock(x_.mutex);
        EXPECT_EQ(x_.writable[0].seq, t.seq);
    }
    end(t);
    ASSERT_TRUE(poll_until(
        [&] {
            got += c.read_until_eof(deadline_in(20ms), &closed);
            return got.find("0\r\n\r\n") != std::string::npos;
        },
        deadline_in(test::kIoTimeout)));
    EXPECT_GT(got.size(), written);
}

}  // namespace
}  // namespace nexure::net
