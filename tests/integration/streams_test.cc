// Deferred and streamed answers (net/later.h, net/stream.h) over real sockets: answers from
// another thread and from a worker timer, request order kept with deferred, streamed and
// immediate answers mixed, abort callbacks when the client leaves or the handler timeout fires,
// Server-Sent Events arriving one by one, HEAD and HTTP/1.0 framing of streams, and handles used
// wrongly (dropped, or answered twice).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
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
using namespace std::chrono_literals;

// Writes `pieces` pieces "piece <i>\n", one per timer tick of `gap_ms`, then ends.
struct Ticker : std::enable_shared_from_this<Ticker> {
    Ticker(Stream s, int n, uint64_t gap) : stream(std::move(s)), pieces(n), gap_ms(gap) {}
    void next() {
        if (done == pieces) {
            stream.end();
            return;
        }
        Loop::current().after(gap_ms, [self = shared_from_this()] {
            self->stream.write("piece " + std::to_string(self->done++) + "\n");
            self->next();
        });
    }
    Stream stream;
    int pieces;
    uint64_t gap_ms;
    int done = 0;
};

// /slow-reader: pauses the body after its first piece, resumes 100 ms later from a timer, and
// answers with the total; counts the bytes that still arrived while it was paused.
struct SlowReader : std::enable_shared_from_this<SlowReader> {
    SlowReader(BodyReader b, Later l) : body(std::move(b)), later(std::move(l)) {}
    void start(std::atomic<uint64_t>* during_pause) {
        auto self = shared_from_this();
        body.on_data([self, during_pause](std::string_view piece) {
            self->total += piece.size();
            if (self->paused) during_pause->fetch_add(piece.size());
            if (self->pieces++ == 0) {
                self->paused = true;
                self->body.pause();
                Loop::current().after(100, [self] {
                    self->paused = false;
                    self->body.resume();
                });
            }
        });
        body.on_end([self] {
            self->later.respond(
                [n = self->total](http::Response& r) { r.body(std::to_string(n)); });
        });
    }
    BodyReader body;
    Later later;
    uint64_t total = 0;
    uint64_t pieces = 0;
    bool paused = false;
};

// Makes closing `c` send a reset (SO_LINGER 0): the client is gone, not just done sending.
bool reset_on_close(HttpClient& c) {
    const linger reset{1, 0};
    return setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0;
}

class StreamsTest : public ServerTest {
  protected:
    void start_streams(ServerConfig config = test_config()) {
        auto s = std::make_unique<Server>(config);
        s->get("/now", [](const Request&, http::Response& res) { res.body("now"); });
        s->get("/timer/:ms", [](const Request& req, http::Response& res) {
            const uint64_t ms = std::stoull(std::string(req.param("ms")));
            Loop::current().after(ms, [later = res.defer(), ms]() mutable {
                later.respond([ms](http::Response& r) { r.body("timer " + std::to_string(ms)); });
            });
        });
        s->get("/thread/:ms", [this](const Request& req, http::Response& res) {
            const auto ms = std::chrono::milliseconds(std::stoull(std::string(req.param("ms"))));
            threads_.emplace_back([later = res.defer(), ms]() mutable {
                std::this_thread::sleep_for(ms);
                later.respond([](http::Response& r) {
                    r.type("text/plain").header("X-From", "thread").body("from a thread");
                });
            });
        });
        s->get("/ticks/:n", [](const Request& req, http::Response& res) {
            const int n = std::stoi(std::string(req.param("n")));
            res.type("text/plain").header("X-Stream", "yes");
            std::make_shared<Ticker>(res.stream(), n, 20)->next();
        });
        s->get("/sized", [](const Request&, http::Response& res) {
            Stream st = res.stream(10);
            st.write("01234");
            st.write("56789");
            st.end();
        });
        s->get("/short", [](const Request&, http::Response& res) {
            Stream st = res.stream(10);
            st.write("0123");
            st.end();  // 6 bytes short: the connection must end
        });
        s->get("/trailers", [](const Request&, http::Response& res) {
            Stream st = res.stream();
            st.write("body");
            st.end("X-Checksum: 42\r\n");
        });
        s->get("/forever", [this](const Request&, http::Response& res) {
            auto ticker = std::make_shared<Ticker>(res.stream(), 1'000'000, 5);
            ticker->stream.on_abort([this] { aborts_.fetch_add(1); });
            ticker->next();
        });
        s->get("/never", [this](const Request&, http::Response& res) {
            auto later = std::make_shared<Later>(res.defer());
            later->on_abort([this] { aborts_.fetch_add(1); });
            kept_.push_back(later);  // never answered: the handler timeout or a close aborts it
        });
        s->get("/dropped", [](const Request&, http::Response& res) {
            Later later = res.defer();  // destroyed at once without an answer: 500
        });
        s->get("/twice", [](const Request&, http::Response& res) {
            Later later = res.defer();
            later.respond([](http::Response& r) { r.body("first"); });
            later.respond([](http::Response& r) { r.body("second"); });  // ignored
            Later again = res.defer();  // the answer is taken already: empty
            EXPECT_FALSE(again.pending());
        });
        s->get("/throws", [](const Request&, http::Response& res) {
            Later later = res.defer();
            later.respond([](http::Response&) { throw std::runtime_error("fill failed"); });
        });
        // Streamed request bodies (net/body.h).
        const RouteOptions streamed{.stream_body = true, .max_body_size = 0};
        s->route(
            Method::kPost, "/count",
            [this](const Request& req, http::Response& res) {
                auto stats = std::make_shared<std::pair<uint64_t, uint64_t>>(0, 0);  // bytes, calls
                BodyReader body = req.body_stream();
                body.on_data([stats](std::string_view piece) {
                    stats->first += piece.size();
                    ++stats->second;
                });
                body.on_abort([this] { aborts_.fetch_add(1); });
                body.on_end([stats, later = res.defer()]() mutable {
                    later.respond([stats](http::Response& r) {
                        r.body(std::to_string(stats->first) + " bytes in " +
                               std::to_string(stats->second) + " pieces");
                    });
                });
            },
            streamed);
        s->route(
            Method::kPost, "/limited",
            [](const Request& req, http::Response& res) {
                auto n = std::make_shared<uint64_t>(0);
                BodyReader body = req.body_stream();
                body.on_data([n](std::string_view piece) { *n += piece.size(); });
                body.on_end([n, later = res.defer()]() mutable {
                    later.respond([n](http::Response& r) { r.body(std::to_string(*n)); });
                });
            },
            RouteOptions{.stream_body = true, .max_body_size = 1000});
        s->route(
            Method::kPost, "/refuse",
            [](const Request&, http::Response& res) {
                res.status(401).body("no");  // answered at once, the body not taken
            },
            streamed);
        s->route(
            Method::kPost, "/slow-reader",
            [this](const Request& req, http::Response& res) {
                auto st = std::make_shared<SlowReader>(req.body_stream(), res.defer());
                st->start(&paused_bytes_);
            },
            streamed);
        s->route(
            Method::kPost, "/to-file",
            [this](const Request& req, http::Response& res) {
                const int fd = ::open(upload_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
                if (fd < 0) {
                    res.status(500).body("open failed");
                    return;
                }
                auto file = std::shared_ptr<int>(new int(fd), [](int* f) {
                    ::close(*f);
                    delete f;
                });
                BodyReader body = req.body_stream();
                body.on_data([file](std::string_view piece) {
                    while (!piece.empty()) {  // (a blocking write on the worker: fine for a test)
                        const ssize_t n = ::write(*file, piece.data(), piece.size());
                        if (n <= 0) return;
                        piece.remove_prefix(static_cast<size_t>(n));
                    }
                });
                body.on_end([file, later = res.defer()]() mutable {
                    later.respond([](http::Response& r) { r.body("stored"); });
                });
            },
            streamed);
        // A protocol upgrade (net/upgrade.h): "echo" sends back every byte, on a thread of its
        // own, starting with what came along with the request.
        s->get("/echo-proto", [this](const Request& req, http::Response& res) {
            if (req.header("upgrade").value_or("") != "echo") {
                res.status(426).header("Upgrade", "echo").body("upgrade to echo\n");
                return;
            }
            res.status(101).header("Upgrade", "echo");
            res.upgrade([this](Upgraded u) {
                threads_.emplace_back([u = std::move(u)] {
                    auto write_all = [fd = u.fd](const char* p, size_t n) {
                        while (n > 0) {
                            const ssize_t w = ::write(fd, p, n);
                            if (w <= 0) return;
                            p += w;
                            n -= static_cast<size_t>(w);
                        }
                    };
                    write_all(u.received.data(), u.received.size());
                    char buf[4096];
                    for (;;) {
                        const ssize_t n = ::read(u.fd, buf, sizeof buf);
                        if (n <= 0) break;
                        write_all(buf, static_cast<size_t>(n));
                    }
                    ::close(u.fd);
                });
            });
        });
        s->get("/bad-upgrade", [](const Request&, http::Response& res) {
            res.upgrade([](Upgraded u) { ::close(u.fd); });  // no status(101): refused, 500
        });
        start_server(std::move(s));
    }
    void TearDown() override {
        ServerTest::TearDown();  // stops the server: later answers find no server
        for (std::thread& t : threads_)
            t.join();
        kept_.clear();
    }

    std::vector<std::thread> threads_;
    std::vector<std::shared_ptr<Later>> kept_;  // touched on the worker thread only
    std::atomic<int> aborts_{0};
    std::atomic<uint64_t> paused_bytes_{0};  // /slow-reader: bytes that came while paused
    std::string upload_path_ = "/tmp/nexure-streams-test-" + std::to_string(getpid());
};

TEST_F(StreamsTest, ADeferredAnswerFromAnotherThreadArrives) {
    start_streams();
    const Response r = exchange(get_request("/thread/20"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("X-From"), "thread");
    EXPECT_EQ(r.body, "from a thread");
}

TEST_F(StreamsTest, ADeferredAnswerAfterAWorkerTimerArrives) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/timer/500")));
    ASSERT_TRUE(c.wait_until_delivered());
    // The server has the request, and its answer waits for the timer: nothing has come yet.
    EXPECT_EQ(c.unread_bytes(), 0);
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "timer 500");
}

TEST_F(StreamsTest, PipelinedAnswersLeaveInRequestOrderWhateverProducesThem) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    // A slow timer, a slower thread, a stream, an immediate answer, a fast timer, a 404.
    ASSERT_TRUE(c.send_all(get_request("/timer/80") + get_request("/thread/120") +
                           get_request("/ticks/3") + get_request("/now") + get_request("/timer/1") +
                           get_request("/missing")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(6, &rs));
    EXPECT_EQ(rs[0].body, "timer 80");
    EXPECT_EQ(rs[1].body, "from a thread");
    EXPECT_EQ(rs[2].header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(rs[2].body, "piece 0\npiece 1\npiece 2\n");
    EXPECT_EQ(rs[3].body, "now");
    EXPECT_EQ(rs[4].body, "timer 1");
    EXPECT_EQ(rs[5].status, 404);
    // The connection is still usable.
    ASSERT_TRUE(c.send_all(get_request("/now")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "now");
}

TEST_F(StreamsTest, StreamPiecesArriveOneByOneBeforeTheEnd) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/ticks/3")));
    // The head and the first piece come while the stream is still open: no terminating chunk.
    std::string seen;
    ASSERT_TRUE(test::poll_until(
        [&] {
            char buf[4096];
            const ssize_t n = recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) seen.append(buf, static_cast<size_t>(n));
            return seen.find("piece 0\n") != std::string::npos;
        },
        deadline_in(test::kIoTimeout)));
    EXPECT_EQ(seen.find("piece 2"), std::string::npos) << seen;
    EXPECT_EQ(seen.find("\r\n0\r\n\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << seen;
}

TEST_F(StreamsTest, AKnownLengthStreamHasContentLengthAndStaysKeptAlive) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/sized") + get_request("/now")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].header("Content-Length"), "10");
    EXPECT_FALSE(rs[0].has_header("Transfer-Encoding"));
    EXPECT_EQ(rs[0].body, "0123456789");
    EXPECT_EQ(rs[1].body, "now");
}

TEST_F(StreamsTest, AStreamEndingShortOfItsLengthClosesTheConnection) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/short") + get_request("/now")));
    bool closed = false;
    const std::string got = c.read_until_eof(deadline_in(test::kIoTimeout), &closed);
    EXPECT_TRUE(closed);
    EXPECT_NE(got.find("Content-Length: 10\r\n"), std::string::npos) << got;
    EXPECT_TRUE(got.ends_with("\r\n\r\n0123")) << "[" << got << "]";  // cut: the client sees it
}

TEST_F(StreamsTest, TrailersFollowTheLastChunk) {
    start_streams();
    const Response r = exchange(get_request("/trailers"));
    EXPECT_EQ(r.body, "body");
    ASSERT_EQ(r.trailers.size(), 1u);
    EXPECT_EQ(r.trailers[0].first, "X-Checksum");
    EXPECT_EQ(r.trailers[0].second, "42");
}

TEST_F(StreamsTest, HeadOfAStreamedRouteIsTheHeadOnly) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("HEAD /ticks/2 HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/now")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs, deadline_in(test::kIoTimeout), {true, false}));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].header("X-Stream"), "yes");
    EXPECT_EQ(rs[0].body, "");
    EXPECT_EQ(rs[1].body, "now") << "a streamed body leaked after a HEAD's head";
}

TEST_F(StreamsTest, AnHttp10ClientGetsACloseDelimitedStream) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("GET /ticks/2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    bool closed = false;
    const std::string got = c.read_until_eof(deadline_in(test::kIoTimeout), &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(got.find("Transfer-Encoding"), std::string::npos) << got;
    EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
    EXPECT_TRUE(got.ends_with("\r\n\r\npiece 0\npiece 1\n")) << got;
}

TEST_F(StreamsTest, AClientLeavingMidStreamAbortsItOnceAndServingGoesOn) {
    start_streams();
    {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/forever")));
        char first[16];
        ASSERT_EQ(recv(c.fd(), first, sizeof first, MSG_WAITALL), 16);  // it is streaming
        ASSERT_TRUE(reset_on_close(c));
    }
    ASSERT_TRUE(test::poll_until([&] { return aborts_ >= 1; }, deadline_in(test::kIoTimeout)));
    // Served after the abort (a round trip to the one worker), still exactly once.
    EXPECT_EQ(exchange(get_request("/now")).body, "now");
    EXPECT_EQ(aborts_.load(), 1);
}

TEST_F(StreamsTest, TheHandlerTimeoutAnswers503AndAbortsTheDeferredAnswer) {
    ServerConfig config = test_config();
    config.handler_timeout_ms = 100;
    start_streams(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/never") + get_request("/now")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 503);
    EXPECT_EQ(rs[1].body, "now");
    EXPECT_EQ(aborts_.load(), 1);
}

TEST_F(StreamsTest, AClientLeavingAbortsAWaitingDeferredAnswer) {
    start_streams();
    {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/never")));
        ASSERT_TRUE(c.wait_until_delivered());
        // A reset: a client that only half-closes (FIN) may still read its answer, so that
        // does not abort it.
        ASSERT_TRUE(reset_on_close(c));
    }
    ASSERT_TRUE(test::poll_until([&] { return aborts_ >= 1; }, deadline_in(test::kIoTimeout)));
    EXPECT_EQ(exchange(get_request("/now")).body, "now");
    EXPECT_EQ(aborts_.load(), 1);
}

TEST_F(StreamsTest, ADeferredAnswerDroppedUnansweredIs500) {
    start_streams();
    const Response r = exchange(get_request("/dropped"));
    EXPECT_EQ(r.status, 500);
}

TEST_F(StreamsTest, OnlyTheFirstAnswerCountsAndAThrowingFillIs500) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/twice") + get_request("/throws") + get_request("/now")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].body, "first");
    EXPECT_EQ(rs[1].status, 500);
    EXPECT_EQ(rs[2].body, "now");
}

// ---- a graceful stop loses nothing that arrived ---------------------------------------------

// Makes sure the one worker has processed everything sent so far on other connections: it
// handles completions in arrival order, so a round trip on a fresh connection comes after them.
void barrier(uint16_t port) {
    HttpClient c;
    ASSERT_TRUE(c.connect(port));
    ASSERT_TRUE(c.send_all(get_request("/now")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
}

TEST_F(StreamsTest, AStopAnswersEveryReceivedRequestAndTheLastAnswerSaysClose) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/timer/150") + get_request("/now") + get_request("/now")));
    barrier(port_);
    server_->stop();
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].body, "timer 150");
    EXPECT_EQ(rs[1].body, "now");
    EXPECT_EQ(rs[2].body, "now");
    EXPECT_FALSE(rs[0].has_header("Connection"));
    EXPECT_FALSE(rs[1].has_header("Connection"));
    EXPECT_EQ(rs[2].header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(test::kIoTimeout)));
    server_->wait();
}

TEST_F(StreamsTest, AStopAnswersEveryRequestOfConcurrentPipeliningClients) {
    start_streams();
    constexpr int kClients = 8;
    std::vector<HttpClient> clients(kClients);
    for (HttpClient& c : clients) {
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/timer/100") + get_request("/now") +
                               get_request("/thread/50") + get_request("/now")));
    }
    barrier(port_);
    server_->stop();
    for (HttpClient& c : clients) {
        std::vector<Response> rs;
        ASSERT_TRUE(c.read_responses(4, &rs));
        EXPECT_EQ(rs[0].body, "timer 100");
        EXPECT_EQ(rs[1].body, "now");
        EXPECT_EQ(rs[2].body, "from a thread");
        EXPECT_EQ(rs[3].body, "now");
        for (int i = 0; i < 3; ++i)
            EXPECT_FALSE(rs[i].has_header("Connection")) << i;
        EXPECT_EQ(rs[3].header("Connection"), "close");
        EXPECT_TRUE(c.detect_peer_closed(deadline_in(test::kIoTimeout)));
    }
    server_->wait();
}

TEST_F(StreamsTest, AStopWithAnImmediateAnswerQueuedAddsCloseToIt) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    // Two answers written at once behind a slow one: the last of them gets the field.
    ASSERT_TRUE(c.send_all(get_request("/thread/150") + get_request("/now")));
    barrier(port_);
    server_->stop();
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body, "from a thread");
    EXPECT_EQ(rs[1].body, "now");
    EXPECT_EQ(rs[1].header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(test::kIoTimeout)));
    server_->wait();
}

TEST_F(StreamsTest, AtTheDrainTimeoutAnAwaitedAnswerIs503AndTheRestStillGoesOut) {
    ServerConfig config = test_config();
    config.drain_timeout_ms = 200;
    start_streams(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/never") + get_request("/now")));
    barrier(port_);
    server_->stop();
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 503);
    EXPECT_EQ(rs[1].body, "now");
    EXPECT_EQ(rs[1].header("Connection"), "close");
    server_->wait();
    EXPECT_EQ(aborts_.load(), 1);
}

// ---- streamed request bodies ----------------------------------------------------------------

std::string post(std::string_view target, const std::string& body, std::string_view extra = {}) {
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string chunked(const std::vector<std::string>& pieces, std::string_view trailers = {}) {
    std::string out;
    char size[16];
    for (const std::string& p : pieces) {
        std::snprintf(size, sizeof size, "%zx", p.size());
        out += size;
        out += "\r\n" + p + "\r\n";
    }
    return out + "0\r\n" + std::string(trailers) + "\r\n";
}

TEST_F(StreamsTest, AStreamedBodyArrivesInPiecesAndThePipelineGoesOn) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const std::string body(1 << 20, 'u');
    ASSERT_TRUE(c.send_all(post("/count", body) + get_request("/now")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_TRUE(rs[0].body.starts_with("1048576 bytes in ")) << rs[0].body;
    EXPECT_NE(rs[0].body, "1048576 bytes in 1 pieces");  // delivered as it was read
    EXPECT_EQ(rs[1].body, "now");
}

TEST_F(StreamsTest, AChunkedBodyStreamsWithItsTrailersChecked) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(
        "POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
        chunked({std::string(3000, 'a'), "bcd", std::string(70000, 'e')}, "X-Trailer: 1\r\n") +
        get_request("/now")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_TRUE(rs[0].body.starts_with("73003 bytes in ")) << rs[0].body;
    EXPECT_EQ(rs[1].body, "now");
}

TEST_F(StreamsTest, ARoutesBodyLimitIsEnforcedWhileItStreams) {
    start_streams();
    EXPECT_EQ(exchange(post("/limited", std::string(1000, 'x'))).body, "1000");
    // By Content-Length: 413 before any of the body is taken.
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(post("/limited", std::string(1001, 'x'))));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.header("Connection"), "close");
    // Chunked: when a chunk would pass it.
    HttpClient d;
    ASSERT_TRUE(connect(d));
    ASSERT_TRUE(
        d.send_all("POST /limited HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   chunked({std::string(600, 'a'), std::string(600, 'b')})));
    ASSERT_TRUE(d.read_response(&r));
    EXPECT_EQ(r.status, 413);
    // Collected bodies keep the server's limit (1 MiB by default) on the same server.
    EXPECT_EQ(exchange(post("/echo-none", std::string(2 << 20, 'x'))).status, 413);
}

TEST_F(StreamsTest, APausedBodyIsNotReadUntilItsReaderResumes) {
    start_streams();
    const std::string body(4 << 20, 's');  // far more than the socket buffers hold
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(post("/slow-reader", body)));
    Response r;
    ASSERT_TRUE(c.read_response(&r, deadline_in(20'000ms)));
    EXPECT_EQ(r.body, std::to_string(body.size()));
    // While paused, only what the read in progress held arrived (one receive buffer at most).
    EXPECT_LE(paused_bytes_.load(), test_config().recv_buffer_size);
}

TEST_F(StreamsTest, ContinueIsSentOnlyWhenTheBodyIsWanted) {
    start_streams();
    // Wanted: 100 Continue, then the body, then the answer.
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(
        c.send_all("POST /count HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   "Content-Length: 5\r\n\r\n"));
    Response interim;
    ASSERT_TRUE(c.read_response(&interim));
    EXPECT_EQ(interim.status, 100);
    ASSERT_TRUE(c.send_all("12345"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "5 bytes in 1 pieces");
    // Refused by the handler at once: its answer instead of 100, and the connection closes.
    HttpClient d;
    ASSERT_TRUE(connect(d));
    ASSERT_TRUE(
        d.send_all("POST /refuse HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   "Content-Length: 5\r\n\r\n"));
    ASSERT_TRUE(d.read_response(&r));
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(d.detect_peer_closed(deadline_in(test::kIoTimeout)));
    // No route: 404 instead of 100, and the connection closes.
    HttpClient e;
    ASSERT_TRUE(connect(e));
    ASSERT_TRUE(
        e.send_all("POST /missing HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                   "Content-Length: 5\r\n\r\n"));
    ASSERT_TRUE(e.read_response(&r));
    EXPECT_EQ(r.status, 404);
    EXPECT_TRUE(e.detect_peer_closed(deadline_in(test::kIoTimeout)));
}

TEST_F(StreamsTest, AClientLeavingMidBodyAbortsItsReaderOnce) {
    start_streams();
    {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(
            c.send_all("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" +
                       std::string(1000, 'p')));
        ASSERT_TRUE(c.wait_until_delivered());
        ASSERT_TRUE(reset_on_close(c));
    }
    ASSERT_TRUE(test::poll_until([&] { return aborts_ >= 1; }, deadline_in(test::kIoTimeout)));
    EXPECT_EQ(exchange(get_request("/now")).body, "now");
    EXPECT_EQ(aborts_.load(), 1);
}

TEST_F(StreamsTest, AGibibyteUploadGoesToAFileInBoundedMemory) {
    start_streams();
    const uint64_t total = uint64_t{1} << 30;
    const std::string piece(1 << 20, 'f');
    const long before = test::rss_kib();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("POST /to-file HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                           std::to_string(total) + "\r\n\r\n"));
    long max_rss = before;
    for (uint64_t sent = 0; sent < total; sent += piece.size()) {
        ASSERT_TRUE(c.send_all(piece)) << "after " << sent << " bytes";
        if (sent % (64u << 20) == 0) max_rss = std::max(max_rss, test::rss_kib());
    }
    Response r;
    ASSERT_TRUE(c.read_response(&r, deadline_in(60'000ms)));
    EXPECT_EQ(r.body, "stored");
    struct stat st {};
    ASSERT_EQ(::stat(upload_path_.c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), total);
    ::unlink(upload_path_.c_str());
    RecordProperty("rss_growth_kib", std::to_string(max_rss - before));
    ASSERT_GT(before, 0);
    EXPECT_LT(max_rss - before, 16 * 1024) << before << " KiB -> " << max_rss << " KiB";
}

// ---- protocol upgrades -----------------------------------------------------------------------

// Reads from `c` until `want` has arrived after what is pending (bounded by the deadline).
std::string read_exactly(HttpClient& c, size_t want) {
    std::string got;
    char buf[4096];
    const auto deadline = deadline_in(test::kIoTimeout);
    while (got.size() < want && test::Clock::now() < deadline) {
        const ssize_t n = recv(c.fd(), buf, std::min(sizeof buf, want - got.size()), 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
    }
    return got;
}

TEST_F(StreamsTest, AnUpgradeHandsTheSocketOverWithTheBytesAlreadySent) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    // The first bytes of the new protocol come in the same write as the request.
    ASSERT_TRUE(
        c.send_all("GET /echo-proto HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\n"
                   "Connection: Upgrade\r\n\r\nhello"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 101);
    EXPECT_EQ(r.header("Upgrade"), "echo");
    EXPECT_EQ(r.header("Connection"), "Upgrade");
    EXPECT_FALSE(r.has_header("Content-Length"));
    std::string echoed = c.take_pending_bytes();
    echoed += read_exactly(c, 5 - echoed.size());
    EXPECT_EQ(echoed, "hello");
    ASSERT_TRUE(c.send_all("GET / HTTP/1.1\r\n\r\n"));  // not HTTP any more: echoed back
    EXPECT_EQ(read_exactly(c, 18), "GET / HTTP/1.1\r\n\r\n");
}

TEST_F(StreamsTest, AnUpgradeBehindAnAwaitedAnswerWaitsForItsTurn) {
    start_streams();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/timer/50") +
                           "GET /echo-proto HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\n"
                           "Connection: Upgrade\r\n\r\nabc"));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body, "timer 50");
    EXPECT_EQ(rs[1].status, 101);
    std::string echoed = c.take_pending_bytes();
    echoed += read_exactly(c, 3 - echoed.size());
    EXPECT_EQ(echoed, "abc");
}

TEST_F(StreamsTest, UpgradesAreRefusedWithoutTheHeaderOrWithoutStatus101) {
    start_streams();
    Response r = exchange(get_request("/echo-proto"));
    EXPECT_EQ(r.status, 426);
    EXPECT_EQ(r.header("Upgrade"), "echo");
    r = exchange(get_request("/bad-upgrade"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(exchange(get_request("/now")).body, "now");
}

TEST_F(StreamsTest, AnUploadMayTakeLongerThanTheHandlerTimeout) {
    ServerConfig config = test_config();
    config.handler_timeout_ms = 200;  // the handler's time starts when the body is in
    start_streams(config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const std::string body(60'000, 'b');
    ASSERT_TRUE(c.send_all("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n"));
    // 6 KB every 60 ms: 600 ms in all, three times the handler timeout.
    ASSERT_TRUE(c.send_in_pieces(body, 6000, 60ms));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body.starts_with("60000 bytes in ")) << r.body;
}

TEST_F(StreamsTest, AClientThatStopsSendingMidBodyIsAnswered400AndItsReaderAbortedAtOnce) {
    start_streams();  // handler timeout 30 s: the abort must not wait for it
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" +
                           std::string(1000, 'p')));
    c.shutdown_write();  // FIN: the body can never be complete
    ASSERT_TRUE(test::poll_until([&] { return aborts_ >= 1; }, deadline_in(2000ms)));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(test::kIoTimeout)));
    EXPECT_EQ(aborts_.load(), 1);
}

}  // namespace
}  // namespace nexure::net
