// An in-process nexure::net::Server on 127.0.0.1, a kernel-chosen port, and test routes; every
// test talks to it over real loopback sockets and checks the bytes that come back.
#include "net/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace nexure::net {
namespace {

using test::deadline_in;
using test::get_request;
using test::HttpClient;
using test::kIoTimeout;
using test::Response;
using namespace std::chrono_literals;

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7) and within a minute of now.
::testing::AssertionResult is_current_imf_fixdate(const std::string& value) {
    static const std::regex kFormat(
        R"(^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$)");
    if (!std::regex_match(value, kFormat))
        return ::testing::AssertionFailure() << "'" << value << "' is not an IMF-fixdate";
    tm parsed{};
    if (strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parsed) == nullptr) {
        return ::testing::AssertionFailure() << "cannot parse '" << value << "'";
    }
    const time_t when = timegm(&parsed);
    const time_t now = time(nullptr);
    if (when < now - 60 || when > now + 60) {
        return ::testing::AssertionFailure() << "'" << value << "' is not the current time";
    }
    // The weekday must agree with the date.
    tm check{};
    gmtime_r(&when, &check);
    if (check.tm_wday != parsed.tm_wday)
        return ::testing::AssertionFailure() << "wrong weekday in '" << value << "'";
    return ::testing::AssertionSuccess();
}

TEST_F(ServerTest, GetRootReturnsHelloWorldWithStandardHeaders) {
    start();
    const Response r = exchange(get_request("/"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.reason, "OK");
    EXPECT_EQ(r.body, "Hello, World!");
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.header("Content-Length"), "13");
    EXPECT_EQ(r.header_count("Content-Length"), 1u);
    EXPECT_EQ(r.header("Server"), "NexureJS");
    EXPECT_TRUE(is_current_imf_fixdate(r.header("Date")));
    EXPECT_FALSE(r.has_header("Connection"))
        << "HTTP/1.1 keep-alive is the default and not spelled out";
    EXPECT_TRUE(r.raw.starts_with("HTTP/1.1 200 OK\r\n")) << r.raw;
}

TEST_F(ServerTest, HandlerHeadersAndStatusReachTheWire) {
    start();
    const Response r = exchange(get_request("/custom"));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.reason, "Created");
    EXPECT_EQ(r.header("X-Custom"), "yes");
    EXPECT_EQ(r.body, "created");
    EXPECT_EQ(r.header("Content-Length"), "7");
}

TEST_F(ServerTest, KeepAliveConnectionServesSequentialRequests) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(c.send_all(get_request("/users/" + std::to_string(i))));
        Response r;
        ASSERT_TRUE(c.read_response(&r));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "user " + std::to_string(i));
    }
}

std::string pipelined_users(int count) {
    std::string all;
    for (int i = 1; i <= count; ++i)
        all += get_request("/users/" + std::to_string(i));
    return all;
}

void expect_users_in_order(const std::vector<Response>& rs, int count) {
    ASSERT_EQ(rs.size(), static_cast<size_t>(count));
    for (int i = 1; i <= count; ++i) {
        const Response& r = rs[static_cast<size_t>(i - 1)];
        EXPECT_EQ(r.status, 200) << "response " << i;
        EXPECT_EQ(r.body, "user " + std::to_string(i)) << "response " << i << " out of order";
        EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
    }
}

TEST_F(ServerTest, ThreePipelinedRequestsInOneWriteAreAnsweredInOrder) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(pipelined_users(3)));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    expect_users_in_order(rs, 3);
    EXPECT_FALSE(c.detect_peer_closed(deadline_in(50ms))) << "the connection stays open";
    EXPECT_EQ(c.pending(), "") << "no extra bytes after the responses";
}

TEST_F(ServerTest, SixtyFourPipelinedRequestsInOneWriteAreAnsweredInOrder) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(pipelined_users(64)));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(64, &rs));
    expect_users_in_order(rs, 64);
}

TEST_F(ServerTest, PipelinedRequestsWrittenOneByteAtATimeAreAnsweredInOrder) {
    start();
    for (int count : {3, 64}) {
        SCOPED_TRACE(count);
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_in_pieces(pipelined_users(count), 1));
        std::vector<Response> rs;
        ASSERT_TRUE(c.read_responses(static_cast<size_t>(count), &rs));
        expect_users_in_order(rs, count);
    }
}

TEST_F(ServerTest, PipelinedRequestsInOddSizedPiecesAreAnsweredInOrder) {
    start();
    for (size_t piece : {7u, 33u, 100u, 1000u}) {
        SCOPED_TRACE(piece);
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_in_pieces(pipelined_users(40), piece));
        std::vector<Response> rs;
        ASSERT_TRUE(c.read_responses(40, &rs));
        expect_users_in_order(rs, 40);
    }
}

std::string post_request(const std::string& target, const std::string& body,
                         const std::string& type, const std::string& extra = {}) {
    return "POST " + target + " HTTP/1.1\r\nHost: t\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

std::string patterned(size_t n) {
    std::string s;
    s.reserve(n);
    for (size_t i = 0; i < n; ++i)
        s += static_cast<char>('A' + (i * 7 + i / 251) % 58);
    return s;
}

TEST_F(ServerTest, BodyLargerThanAReceiveBufferIsStitched) {
    ServerConfig cfg = test_config();
    cfg.recv_buffer_size = 4096;
    start(cfg);
    const std::string body = patterned(100 * 1024);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(post_request("/echo", body, "application/x-test") +
                           get_request("/users/after")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].header("Content-Type"), "application/x-test");
    EXPECT_EQ(rs[0].header("Content-Length"), std::to_string(body.size()));
    EXPECT_TRUE(rs[0].body == body) << "echoed body differs (" << rs[0].body.size() << " bytes)";
    EXPECT_EQ(rs[1].body, "user after") << "the request after the big one is parsed correctly";
}

TEST_F(ServerTest, LargeBodyWithTheDefaultBufferSizeIsEchoed) {
    start();
    const std::string body = patterned(100 * 1024);
    const Response r = exchange(post_request("/echo", body, "text/plain"));
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == body) << "echoed body differs (" << r.body.size() << " bytes)";
}

TEST_F(ServerTest, HeadersLargerThanAReceiveBufferAreStitched) {
    ServerConfig cfg = test_config();
    cfg.recv_buffer_size = 4096;
    start(cfg);
    std::string extra;
    size_t bytes = std::string("Host").size() + std::string("t").size();
    for (int i = 0; i < 80; ++i) {
        const std::string name = "X-Fill-" + std::to_string(i);
        const std::string value = patterned(240);
        extra += name + ": " + value + "\r\n";
        bytes += name.size() + value.size();
    }
    ASSERT_GT(extra.size(), 20'000u);
    ASSERT_LT(extra.size(), 32'000u) << "must stay within the default 32 KiB head limit";
    const std::string request = "GET /headers HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(request + get_request("/users/next")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].body, "81 " + std::to_string(bytes));
    EXPECT_EQ(rs[1].body, "user next");
}

TEST_F(ServerTest, HeadGetsTheGetHeadersWithoutABody) {
    start();
    const Response get = exchange(get_request("/"));
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
    Response head;
    ASSERT_TRUE(c.read_response(&head, deadline_in(kIoTimeout), /*head=*/true));
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), "13");
    EXPECT_EQ(head.header("Content-Type"), get.header("Content-Type"));
    EXPECT_EQ(head.header("Server"), get.header("Server"));
    EXPECT_TRUE(head.has_header("Date"));
    EXPECT_EQ(head.body, "");
    EXPECT_TRUE(head.raw.ends_with("\r\n\r\n"));
    // Nothing follows the head: the next bytes on the connection would be a body.
    EXPECT_FALSE(c.detect_peer_closed(deadline_in(100ms)));
    EXPECT_EQ(c.pending(), "") << "HEAD response carried a body";
}

TEST_F(ServerTest, HeadFollowedByAPipelinedGetParsesCorrectly) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/json") +
                           "HEAD /users/3 HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/users/4")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(4, &rs, deadline_in(kIoTimeout), {true, false, true, false}));
    EXPECT_EQ(rs[0].body, "");
    EXPECT_EQ(rs[0].header("Content-Length"), "27");
    EXPECT_EQ(rs[1].body, R"({"message":"Hello, World!"})");
    EXPECT_EQ(rs[2].body, "");
    EXPECT_EQ(rs[2].header("Content-Length"), "6");
    EXPECT_EQ(rs[3].body, "user 4");
}

TEST_F(ServerTest, Http10WithoutKeepAliveGetsConnectionCloseAndIsClosed) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("GET / HTTP/1.0\r\n\r\n"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.raw.starts_with("HTTP/1.1 200 OK\r\n"));
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_EQ(r.body, "Hello, World!");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
    EXPECT_EQ(c.pending(), "");
}

TEST_F(ServerTest, Http10WithKeepAliveStaysOpen) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(c.send_all("GET /users/" + std::to_string(i) +
                               " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        Response r;
        ASSERT_TRUE(c.read_response(&r));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.header("Connection"), "keep-alive");
        EXPECT_EQ(r.body, "user " + std::to_string(i));
    }
    EXPECT_FALSE(c.detect_peer_closed(deadline_in(50ms)));
}

TEST_F(ServerTest, ConnectionCloseIsHonouredAndLaterPipelinedRequestsAreNotAnswered) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(
        c.send_all(get_request("/users/1", "Connection: close\r\n") + get_request("/users/2")));
    bool closed = false;
    const std::string all = c.read_until_eof(deadline_in(kIoTimeout), &closed);
    EXPECT_TRUE(closed) << "the server did not close";
    test::ResponseStream stream;
    stream.append(all);
    Response r;
    std::string error;
    ASSERT_EQ(stream.next(false, true, &r, &error), test::ResponseStream::Step::kResponse)
        << error << all;
    EXPECT_EQ(r.body, "user 1");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_EQ(stream.pending(), "") << "the request after Connection: close was answered";
}

TEST_F(ServerTest, HandlerRequestedCloseClosesTheConnection) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/close") + get_request("/")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.body, "bye");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
    EXPECT_EQ(c.pending(), "");
}

std::string chunked(const std::vector<std::string>& chunks) {
    std::string out;
    char size[32];
    for (const std::string& ch : chunks) {
        std::snprintf(size, sizeof(size), "%zx\r\n", ch.size());
        out += size + ch + "\r\n";
    }
    return out + "0\r\n\r\n";
}

TEST_F(ServerTest, ChunkedPostIsEchoedWithTheRequestContentType) {
    start();
    const std::string request =
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-chunks\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        chunked({"Hello", ", ", "chunked ", "World", "!"});
    const Response r = exchange(request);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "Hello, chunked World!");
    EXPECT_EQ(r.header("Content-Type"), "text/x-chunks");
    EXPECT_EQ(r.header("Content-Length"), "21");
    EXPECT_FALSE(r.has_header("Transfer-Encoding"));
}

TEST_F(ServerTest, ChunkedPostInManySmallWritesIsEchoed) {
    start();
    std::vector<std::string> pieces;
    std::string expected;
    for (int i = 0; i < 50; ++i) {
        pieces.push_back("piece-" + std::to_string(i) + ";");
        expected += pieces.back();
    }
    const std::string request =
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-pieces\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        chunked(pieces) + get_request("/users/z");
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_in_pieces(request, 3));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body, expected);
    EXPECT_EQ(rs[0].header("Content-Type"), "application/x-pieces");
    EXPECT_EQ(rs[1].body, "user z");
}

TEST_F(ServerTest, UnknownPathIs404) {
    start();
    const Response r = exchange(get_request("/no/such/path"));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.reason, "Not Found");
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
}

TEST_F(ServerTest, WrongMethodIs405WithAllowHeader) {
    start();
    const Response r = exchange("DELETE /json HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "GET, HEAD, OPTIONS");
    const Response post_only = exchange("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(post_only.status, 405);
    EXPECT_EQ(post_only.header("Allow"), "POST, OPTIONS");
}

// RFC 9110 9.3.7: without an OPTIONS handler the server answers OPTIONS itself with the methods
// the path has (HEAD with GET, OPTIONS always), as a 204 with no content.
TEST_F(ServerTest, OptionsOnARoutedPathWithoutAHandlerIs204WithAllowAndNoBody) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(
        c.send_all("OPTIONS /users/7 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "OPTIONS /echo HTTP/1.1\r\nHost: t\r\n\r\n" +
                   get_request("/")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].status, 204);
    EXPECT_EQ(rs[0].header("Allow"), "GET, HEAD, OPTIONS");
    EXPECT_EQ(rs[0].body, "");
    EXPECT_FALSE(rs[0].has_header("Content-Length"));
    EXPECT_EQ(rs[1].status, 204);
    EXPECT_EQ(rs[1].header("Allow"), "POST, OPTIONS");
    EXPECT_EQ(rs[2].status, 200);
    EXPECT_EQ(rs[2].body, "Hello, World!") << "bytes after a 204 were taken for a body";
}

TEST_F(ServerTest, OptionsOnAnUnknownPathIs404) {
    start();
    const Response r = exchange("OPTIONS /no/such/path HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 404);
    EXPECT_FALSE(r.has_header("Allow"));
}

TEST_F(ServerTest, OptionsAsteriskListsEveryRoutedMethod) {
    start();
    const Response r = exchange("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.header("Allow"), "GET, HEAD, POST, OPTIONS");
    EXPECT_EQ(r.body, "");
}

TEST_F(ServerTest, OptionsHandlerAnswersWhenOneIsRegistered) {
    server_ = std::make_unique<Server>(test_config());
    server_->get("/cors", [](const Request&, http::Response& res) { res.body("get"); });
    server_->options("/cors", [](const Request&, http::Response& res) {
        res.status(200).header("Access-Control-Allow-Origin", "*").body("preflight");
    });
    Result<void> started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    port_ = server_->port();
    const Response r = exchange("OPTIONS /cors HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(r.body, "preflight");
}

TEST_F(ServerTest, CatchAllRouteGetsTheRestOfThePath) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/static/css/app.css?v=3") + get_request("/static/") +
                           get_request("/static")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].body, "static [css/app.css]") << "the query is not part of '*'";
    EXPECT_EQ(rs[1].status, 200);
    EXPECT_EQ(rs[1].body, "static []");
    EXPECT_EQ(rs[2].status, 404);
}

TEST_F(ServerTest, ParamWithStaticSuffixRouteIsAnswered) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/files/report.json") + get_request("/files/a.b.json") +
                           get_request("/files/report.xml")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].body, "json [report]");
    EXPECT_EQ(rs[1].body, "json [a.b]");
    EXPECT_EQ(rs[2].status, 404);
}

TEST_F(ServerTest, HandlerDecodesAPercentEncodedParam) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/decoded/caf%C3%A9%20%2F+x") + get_request("/decoded/%G1") +
                           get_request("/decoded/50%")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[0].body, "[caf\xC3\xA9 /+x]");
    EXPECT_EQ(rs[1].status, 400);
    EXPECT_EQ(rs[1].body, "bad escape");
    EXPECT_EQ(rs[2].status, 400);
}

// llhttp accepts PROPFIND (a WebDAV method); the router cannot route it, so the server answers
// 501 and keeps the connection.
TEST_F(ServerTest, ValidButUnroutableMethodIs501) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("PROPFIND / HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 501);
    EXPECT_EQ(rs[0].reason, "Not Implemented");
    EXPECT_EQ(rs[1].status, 200);
}

TEST_F(ServerTest, MalformedRequestIs400AndTheServerCloses) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("THIS IS NOT HTTP\r\n\r\n"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
}

TEST_F(ServerTest, MalformedRequestAfterAGoodOneStillAnswersTheGoodOne) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/users/7") + "GET /x HTTP/1.1\r\nBad Header\r\n\r\n"));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body, "user 7");
    EXPECT_EQ(rs[1].status, 400);
    EXPECT_EQ(rs[1].header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
}

TEST_F(ServerTest, Http2RequestLineIs505) {
    start();
    const Response r = exchange("GET / HTTP/2.0\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 505);
    EXPECT_EQ(r.header("Connection"), "close");
}

TEST_F(ServerTest, OverLongTargetIs414) {
    start();
    const Response r = exchange(get_request("/" + std::string(9000, 'a')));
    EXPECT_EQ(r.status, 414);
}

TEST_F(ServerTest, OversizedContentLengthIs413WithoutSendingTheBody) {
    start();
    const Response r =
        exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n");
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.header("Connection"), "close");
}

TEST_F(ServerTest, ExpectContinueGets100BeforeTheBody) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(
        c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                   "Content-Length: 11\r\nExpect: 100-continue\r\n\r\n"));
    Response interim;
    ASSERT_TRUE(c.read_response(&interim));
    EXPECT_EQ(interim.status, 100);
    EXPECT_EQ(interim.raw, "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(c.send_all("hello world"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello world");
    EXPECT_EQ(c.pending(), "");
}

// RFC 9112 5.2: obs-fold in a request must be rejected with 400 or replaced by spaces before the
// value is used. Here the folded value is the Content-Type that /echo copies into its response.
TEST_F(ServerTest, ObsoleteLineFoldingIsRejectedOrUnfolded) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(
        c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n folded\r\n"
                   "Content-Length: 2\r\n\r\nok"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    if (r.status != 400) {
        EXPECT_EQ(r.status, 200);
        std::string type = r.header("Content-Type");
        EXPECT_TRUE(type.starts_with("text/plain ") && type.ends_with(" folded"))
            << "'" << type << "'";
    }
    // The server is still there for everyone else.
    EXPECT_EQ(exchange(get_request("/")).status, 200);
}

TEST_F(ServerTest, UnknownExpectationIs417) {
    start();
    const Response r =
        exchange("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: magic\r\n\r\nhi");
    EXPECT_EQ(r.status, 417);
}

// RFC 9110 9.3.2: a response to HEAD never carries content, errors included. A client that sent
// HEAD reads only the head; any body bytes would be taken for the next response.
TEST_F(ServerTest, ErrorAnswerToAHeadRequestHasNoBody) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("HEAD / HTTP/1.1\r\nHost: t\r\nExpect: magic\r\n\r\n"));
    Response r;
    ASSERT_TRUE(c.read_response(&r, deadline_in(kIoTimeout), /*head=*/true));
    EXPECT_EQ(r.status, 417);
    bool closed = false;
    const std::string rest = c.read_until_eof(deadline_in(kIoTimeout), &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(rest, "") << "bytes after the head of the answer to HEAD";
}

TEST_F(ServerTest, ThrowingHandlerGives500AndServingContinues) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/throw") + get_request("/users/1") +
                           get_request("/throw-int") + get_request("/users/2")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(4, &rs));
    EXPECT_EQ(rs[0].status, 500);
    EXPECT_EQ(rs[0].body.find("partial output"), std::string::npos)
        << "the handler's output leaked";
    EXPECT_EQ(rs[1].status, 200);
    EXPECT_EQ(rs[1].body, "user 1");
    EXPECT_EQ(rs[2].status, 500);
    EXPECT_EQ(rs[3].body, "user 2");
    // The same connection and new ones keep working.
    ASSERT_TRUE(c.send_all(get_request("/")));
    Response again;
    ASSERT_TRUE(c.read_response(&again));
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(exchange(get_request("/throw")).status, 500);
    EXPECT_EQ(exchange(get_request("/")).body, "Hello, World!");
}

TEST_F(ServerTest, HandlerSettingAnInvalidHeaderGets500) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/bad-header") + get_request("/")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 500);
    EXPECT_FALSE(rs[0].has_header("X-Injected"));
    EXPECT_FALSE(rs[0].has_header("X-Bad"));
    EXPECT_EQ(rs[0].body.find("should not be sent"), std::string::npos);
    EXPECT_EQ(rs[1].status, 200);
}

TEST_F(ServerTest, NoContentResponseHasNoBodyAndNoContentLength) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/no-content") + get_request("/")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 204);
    EXPECT_FALSE(rs[0].has_header("Content-Length"));
    EXPECT_EQ(rs[0].body, "");
    EXPECT_EQ(rs[1].body, "Hello, World!") << "the 204's body leaked into the stream";
}

TEST_F(ServerTest, ManyConcurrentConnectionsAreAllAnswered) {
    ServerConfig cfg = test_config();
    cfg.threads = 2;
    start(cfg);
    constexpr int kConnections = 200;
    std::vector<HttpClient> clients(kConnections);
    for (int i = 0; i < kConnections; ++i)
        ASSERT_TRUE(clients[i].connect(port_)) << "connection " << i;
    for (int i = 0; i < kConnections; ++i) {
        ASSERT_TRUE(clients[i].send_all(get_request("/users/" + std::to_string(i))));
    }
    const auto deadline = deadline_in(10s);
    for (int i = 0; i < kConnections; ++i) {
        Response r;
        ASSERT_TRUE(clients[i].read_response(&r, deadline)) << "connection " << i;
        EXPECT_EQ(r.body, "user " + std::to_string(i));
    }
}

TEST_F(ServerTest, HeadToAnUnknownPathIs404WithoutABody) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("HEAD /missing HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs, deadline_in(kIoTimeout), {true, false}));
    EXPECT_EQ(rs[0].status, 404);
    EXPECT_EQ(rs[0].body, "");
    EXPECT_EQ(rs[1].status, 200);
    EXPECT_EQ(rs[1].body, "Hello, World!");
}

TEST_F(ServerTest, RequestFollowedByHalfCloseIsStillAnswered) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/users/1") + get_request("/users/2")));
    c.shutdown_write();
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body, "user 1");
    EXPECT_EQ(rs[1].body, "user 2");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
}

TEST_F(ServerTest, ResponseLargerThanTheSocketBuffersArrivesWhole) {
    start();
    const std::string body = patterned(1000 * 1000);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const int small = 16 * 1024;
    setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    ASSERT_TRUE(
        c.send_all(post_request("/echo", body, "application/x-big") + get_request("/users/tail")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs, deadline_in(10s)));
    EXPECT_EQ(rs[0].body.size(), body.size());
    EXPECT_TRUE(rs[0].body == body);
    EXPECT_EQ(rs[1].body, "user tail");
}

TEST_F(ServerTest, ConnectionsBeyondThePerWorkerCapWaitUntilOneCloses) {
    ServerConfig cfg = test_config();
    cfg.max_connections_per_worker = 2;
    start(cfg);
    HttpClient a;
    HttpClient b;
    for (HttpClient* c : {&a, &b}) {
        ASSERT_TRUE(connect(*c));
        ASSERT_TRUE(c->send_all(get_request("/")));
        Response r;
        ASSERT_TRUE(c->read_response(&r));
    }
    // At the cap the worker stops accepting: the third client is queued by the kernel (its
    // connect succeeds), neither served nor refused.
    HttpClient over;
    ASSERT_TRUE(connect(over));
    ASSERT_TRUE(over.send_all(get_request("/users/over")));
    Response r;
    EXPECT_FALSE(over.read_response(&r, deadline_in(300ms)))
        << "a connection over the cap was served";
    EXPECT_FALSE(over.detect_peer_closed(deadline_in(50ms))) << "a waiting connection was closed";

    // Closing one frees its place: the waiting client is accepted and answered.
    a.close();
    ASSERT_TRUE(over.read_response(&r, deadline_in(kIoTimeout)));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "user over");
    // The established connection was never disturbed.
    ASSERT_TRUE(b.send_all(get_request("/users/b")));
    Response rb;
    ASSERT_TRUE(b.read_response(&rb));
    EXPECT_EQ(rb.body, "user b");
}

TEST_F(ServerTest, ManyClientsBeyondTheCapAreAllServedInTurn) {
    ServerConfig cfg = test_config();
    cfg.max_connections_per_worker = 4;
    start(cfg);
    // 32 clients against a cap of 4: each sends one request with Connection: close, so places
    // free up as responses complete and every client is eventually accepted and answered.
    std::vector<HttpClient> clients(32);
    for (HttpClient& c : clients) {
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/", "Connection: close\r\n")));
    }
    for (size_t i = 0; i < clients.size(); ++i) {
        Response rr;
        ASSERT_TRUE(clients[i].read_response(&rr, deadline_in(kIoTimeout))) << "client " << i;
        EXPECT_EQ(rr.status, 200) << "client " << i;
        clients[i].close();  // the server's linger ends with our FIN: the place frees at once
    }
}

TEST_F(ServerTest, FewReceiveBuffersStillServeManyBusyConnections) {
    ServerConfig cfg = test_config();
    cfg.recv_buffer_count = 2;
    cfg.recv_buffer_size = 512;
    start(cfg);
    constexpr int kConnections = 50;
    std::vector<HttpClient> clients(kConnections);
    for (int i = 0; i < kConnections; ++i)
        ASSERT_TRUE(clients[i].connect(port_));
    for (int i = 0; i < kConnections; ++i) {
        std::string pipeline;
        for (int j = 0; j < 5; ++j)
            pipeline += get_request("/users/" + std::to_string(i * 10 + j));
        ASSERT_TRUE(clients[i].send_all(pipeline));
    }
    const auto deadline = deadline_in(10s);
    for (int i = 0; i < kConnections; ++i) {
        std::vector<Response> rs;
        ASSERT_TRUE(clients[i].read_responses(5, &rs, deadline)) << "connection " << i;
        for (int j = 0; j < 5; ++j)
            EXPECT_EQ(rs[j].body, "user " + std::to_string(i * 10 + j));
    }
}

std::string bytes_body(size_t count) {
    const std::string n = std::to_string(count);
    std::string body;
    while (body.size() < count)
        body += n + ";";
    body.resize(count);
    return body;
}

// A client that pipelines many requests and reads nothing until it has sent them all: the
// server stops reading past max_pending_output and must resume once the client reads.
TEST_F(ServerTest, PipeliningClientThatReadsLateIsServedCompletely) {
    ServerConfig cfg = test_config();
    cfg.max_pending_output = 64 * 1024;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const int small = 32 * 1024;
    setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    constexpr int kRequests = 200;
    std::string pipeline;
    for (int i = 0; i < kRequests; ++i)
        pipeline += get_request("/bytes/" + std::to_string(20000 + i));
    ASSERT_TRUE(c.send_all(pipeline));
    ASSERT_TRUE(c.wait_until_delivered());
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(kRequests, &rs, deadline_in(20s)));
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_TRUE(rs[i].body == bytes_body(20000 + static_cast<size_t>(i))) << "response " << i;
    }
}

// Requests keep coming while responses pile up: sending and reading run concurrently, as a
// well-behaved client does, and every response arrives in order.
TEST_F(ServerTest, BackpressureDoesNotStallAConcurrentReaderAndWriter) {
    ServerConfig cfg = test_config();
    cfg.max_pending_output = 32 * 1024;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    constexpr int kRequests = 1000;
    const std::string padding = "X-Pad: " + std::string(900, 'p') + "\r\n";
    std::string pipeline;
    for (int i = 0; i < kRequests; ++i) {
        pipeline += get_request("/bytes/" + std::to_string(8000 + i), padding);
    }
    // send_all and read_responses touch disjoint parts of the client (the fd's two directions).
    ::testing::AssertionResult sent = ::testing::AssertionSuccess();
    std::thread writer([&] { sent = c.send_all(pipeline); });
    std::vector<Response> rs;
    const ::testing::AssertionResult read = c.read_responses(kRequests, &rs, deadline_in(20s));
    writer.join();
    ASSERT_TRUE(sent);
    ASSERT_TRUE(read);
    for (int i = 0; i < kRequests; ++i) {
        ASSERT_TRUE(rs[i].body == bytes_body(8000 + static_cast<size_t>(i))) << "response " << i;
    }
}

TEST_F(ServerTest, IdleMidRequestConnectionGets408) {
    ServerConfig cfg = test_config();
    cfg.idle_timeout_ms = 200;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("GET /users/slow HTTP/1.1\r\nHost: t\r\n"));
    Response r;
    ASSERT_TRUE(c.read_response(&r, deadline_in(kIoTimeout)));
    EXPECT_EQ(r.status, 408);
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
}

TEST_F(ServerTest, IdleConnectionIsClosedSilently) {
    ServerConfig cfg = test_config();
    cfg.idle_timeout_ms = 200;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/")));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
    EXPECT_EQ(c.pending(), "");
}

// The idle time counts from the request, not from when the worker last woke: a worker asleep for
// a while handles what woke it at the time it arrived (a request stamped with the time the worker
// fell asleep would make a short idle timeout close its connection early).
TEST_F(ServerTest, IdleTimeoutCountsFromTheLastRequestAfterTheWorkerSlept) {
    ServerConfig cfg = test_config();
    cfg.idle_timeout_ms = 400;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    auto ask = [&c](int step) {
        ASSERT_TRUE(c.send_all(get_request("/")));
        Response r;
        ASSERT_TRUE(c.read_response(&r)) << "closed within the idle timeout, at step " << step;
        EXPECT_EQ(r.status, 200);
    };
    ask(0);
    for (int i = 1; i <= 8; ++i) {
        // 300 ms then 150 ms without a byte, each well within the 400 ms: the worker sleeps
        // through the first gap, and the request that wakes it starts a full idle period.
        std::this_thread::sleep_for(i % 2 == 1 ? 300ms : 150ms);
        ask(i);
    }
}

TEST_F(ServerTest, StopWithARequestInFlightFinishesItThenStops) {
    start();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    // A first exchange makes sure the connection is established on the worker.
    ASSERT_TRUE(c.send_all(get_request("/users/0")));
    Response first;
    ASSERT_TRUE(c.read_response(&first));

    ASSERT_TRUE(c.send_all("GET /users/1 HTTP/1.1\r\nHost: t\r\nX-Half: "));
    ASSERT_TRUE(c.wait_until_delivered());
    // The worker handles completions in arrival order; once a request sent after the half one
    // has been answered, the half one has been parsed, so stop() finds it in flight.
    {
        HttpClient probe;
        ASSERT_TRUE(connect(probe));
        ASSERT_TRUE(probe.send_all(get_request("/")));
        Response pr;
        ASSERT_TRUE(probe.read_response(&pr));
    }
    std::thread stopper([&] { server_->stop(); });
    stopper.join();
    // stop() only asks; the worker has begun draining once its listener is closed.
    ASSERT_TRUE(test::wait_until_refused(port_, deadline_in(kIoTimeout)));

    ASSERT_TRUE(c.send_all("yes\r\n\r\n"));
    Response r;
    ASSERT_TRUE(c.read_response(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "user 1");
    EXPECT_EQ(r.header("Connection"), "close");
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(kIoTimeout)));
    c.close();

    std::atomic<bool> waited{false};
    std::thread waiter([&] {
        server_->wait();
        waited = true;
    });
    const auto deadline = deadline_in(kIoTimeout);
    while (!waited && test::Clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(waited) << "wait() did not return after the last connection closed";
    waiter.join();  // bounded anyway: the drain timeout ends the workers
}

TEST_F(ServerTest, StopGivesUpOnAnUnfinishedRequestAfterTheDrainTimeout) {
    ServerConfig cfg = test_config();
    cfg.drain_timeout_ms = 300;
    start(cfg);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/")));
    Response first;
    ASSERT_TRUE(c.read_response(&first));
    ASSERT_TRUE(c.send_all("GET /never-finished HTTP/1.1\r\n"));
    ASSERT_TRUE(c.wait_until_delivered());
    {
        HttpClient probe;  // answered after the half request was parsed (see above)
        ASSERT_TRUE(connect(probe));
        ASSERT_TRUE(probe.send_all(get_request("/")));
        Response pr;
        ASSERT_TRUE(probe.read_response(&pr));
    }
    const auto stopped_at = test::Clock::now();
    server_->stop();
    std::atomic<bool> waited{false};
    std::thread waiter([&] {
        server_->wait();
        waited = true;
    });
    const auto deadline = deadline_in(kIoTimeout);
    while (!waited && test::Clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(waited) << "wait() did not return after the drain timeout";
    waiter.join();
    EXPECT_GE(test::Clock::now() - stopped_at, 250ms)
        << "the unfinished request was not waited for";
    // The drain gave up on the connection ("close everything now"): once wait() has returned it
    // must be closed, not left open until the Server object is destroyed.
    EXPECT_TRUE(c.detect_peer_closed(deadline_in(2000ms)))
        << "the connection is still open after wait()";
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndWaitReturns) {
    start();
    HttpClient idle;
    ASSERT_TRUE(connect(idle));
    ASSERT_TRUE(idle.send_all(get_request("/")));
    Response r;
    ASSERT_TRUE(idle.read_response(&r));
    server_->stop();
    EXPECT_TRUE(idle.detect_peer_closed(deadline_in(kIoTimeout)));
    server_->wait();
}

TEST_F(ServerTest, PortZeroPicksAFreePortAndReportsIt) {
    start();
    EXPECT_NE(server_->port(), 0);
    EXPECT_EQ(server_->address(), "127.0.0.1");
    EXPECT_EQ(server_->threads(), 1u);
    EXPECT_NE(server_->ring_mode(), engine::RingMode::kAuto);
}

TEST(ServerSetup, RoutesCannotBeAddedAfterStart) {
    NEXURE_SKIP_WITHOUT_IO_URING();
    Server server(test_config());
    server.get("/", [](const Request&, http::Response& res) { res.body("x"); });
    Result<void> r = server.start();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_THROW(server.get("/late", [](const Request&, http::Response&) {}), std::logic_error);
    server.stop();
    server.wait();
}

TEST(ServerSetup, InvalidRoutesAndEmptyHandlersAreRejected) {
    Server server(test_config());
    EXPECT_THROW(server.get("no-slash", [](const Request&, http::Response&) {}),
                 std::invalid_argument);
    EXPECT_THROW(server.get("/x", Handler{}), std::invalid_argument);
    server.get("/x", [](const Request&, http::Response&) {});
    EXPECT_THROW(server.get("/x", [](const Request&, http::Response&) {}), std::invalid_argument);
}

TEST(ServerSetup, PortInUseFailsToStartWithAMessage) {
    NEXURE_SKIP_WITHOUT_IO_URING();
    Server first(test_config());
    first.get("/", [](const Request&, http::Response&) {});
    Result<void> r = first.start();
    ASSERT_TRUE(r.ok()) << r.error().message;
    ServerConfig cfg = test_config();
    cfg.port = first.port();
    Server second(cfg);
    second.get("/", [](const Request&, http::Response&) {});
    Result<void> r2 = second.start();
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().code, EADDRINUSE);
    EXPECT_NE(r2.error().message.find("in use"), std::string::npos) << r2.error().message;
    first.stop();
    first.wait();
}

// Handler errors are logged at most 20 lines a second per worker; the rest are counted and said
// once a second, so every one of them is accounted for on stderr.
TEST_F(ServerTest, HandlerErrorsBeyondTheLogLimitAreCountedNotDropped) {
    start();
    std::FILE* log = std::tmpfile();
    ASSERT_NE(log, nullptr);
    std::fflush(stderr);
    const int saved = ::dup(STDERR_FILENO);
    ASSERT_GE(saved, 0);
    ASSERT_GE(::dup2(::fileno(log), STDERR_FILENO), 0);
    auto read_log = [log] {
        std::fflush(stderr);
        std::string text;
        std::rewind(log);
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, log)) > 0;)
            text.append(buf, n);
        return text;
    };
    // Shown lines plus the counts of the summary lines ("...: N more handler error(s) ...").
    auto accounted = [](const std::string& text, size_t* shown) {
        *shown = 0;
        size_t total = 0;
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);) {
            const size_t more = line.find(" more handler error(s)");
            if (line.find("handler error, answered 500") != std::string::npos) {
                ++*shown;
                ++total;
            } else if (more != std::string::npos) {
                total += std::stoul(line.substr(line.rfind(": ", more) + 2));
            }
        }
        return total;
    };
    HttpClient c;
    ASSERT_TRUE(connect(c));
    std::string batch;
    for (int i = 0; i < 100; ++i)
        batch += get_request("/throw");
    ASSERT_TRUE(c.send_all(batch));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(100, &rs));
    size_t shown = 0;
    const bool all =
        test::poll_until([&] { return accounted(read_log(), &shown) == 100; }, deadline_in(5000ms));
    const std::string text = read_log();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::fclose(log);
    EXPECT_TRUE(all) << text;
    EXPECT_LE(shown, 40u) << "more than 20 lines a second";  // the 100 may straddle one tick
    EXPECT_EQ(rs.back().status, 500);
}

}  // namespace
}  // namespace nexure::net
