// Response compression (net/http/compression.h) over real sockets: the coding Accept-Encoding
// chooses (q-values, identity;q=0, the server's order, a route's own list), the answers that stay
// unencoded (small bodies, images, HEAD's missing body, 304, 204, an answer's compress(false), a
// route that turns it off), HEAD's head equal to GET's, big bodies, deferred answers and
// pipelined ones in order, streamed answers encoded and flushed piece by piece — every encoded
// body decoded with the real libraries.
#include "net/http/compression.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/server.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/decode.h"
#include "tests/support/http_client.h"

namespace nexure::net {
namespace {

using test::get_request;
using test::HttpClient;

std::string json_body(size_t n) {
    std::string s = "{\"items\":[";
    for (int i = 0; s.size() + 40 < n; ++i)
        s += "{\"id\":" + std::to_string(i) + ",\"ok\":true},";
    if (s.size() + 3 < n) s.append(n - s.size() - 3, ' ');  // exactly n bytes
    s += "0]}";
    return s;
}

class CompressionTest : public ServerTest {
  protected:
    void start_compressing(http::CompressionConfig compression = {}) {
        ServerConfig cfg = test_config();
        compression.enabled = true;
        cfg.compression = compression;
        auto s = std::make_unique<Server>(cfg);
        s->get("/json/:n", [](const Request& req, Response& res) {
            res.type("application/json").body(json_body(std::stoul(std::string(req.param("n")))));
        });
        s->get("/etag", [](const Request&, Response& res) {
            res.type("text/html")
                .header("ETag", "\"abc\"")
                .header("Vary", "Origin")
                .body(json_body(5000));
        });
        s->get("/png", [](const Request&, Response& res) {
            res.type("image/png").body(std::string(5000, 'x'));
        });
        s->get("/not-modified", [](const Request&, Response& res) {
            res.status(304).type("text/plain").header("ETag", "\"abc\"");
        });
        s->get("/no-content", [](const Request&, Response& res) { res.status(204); });
        s->get("/raw", [](const Request&, Response& res) {
            res.type("text/plain").body(json_body(5000)).compress(false);
        });
        s->get("/later", [](const Request&, Response& res) {
            Later later = res.defer();
            std::thread([later = std::move(later)]() mutable {
                later.respond([](Response& r) { r.type("text/plain").body(json_body(9000)); });
            }).detach();
        });
        RouteOptions off;
        off.compression.mode = http::RouteCompression::Mode::kOff;
        s->route(
            Method::kGet, "/off",
            [](const Request&, Response& res) { res.type("text/plain").body(json_body(5000)); },
            off);
        RouteOptions gzip_only;
        gzip_only.compression.encodings = {http::ContentCoding::kGzip};
        s->route(
            Method::kGet, "/gzip-only",
            [](const Request&, Response& res) { res.type("text/plain").body(json_body(5000)); },
            gzip_only);
        start_server(std::move(s));
    }

    test::Response get(const std::string& target, const std::string& accept, bool head = false) {
        std::string req = (head ? "HEAD " : "GET ") + target + " HTTP/1.1\r\nHost: t\r\n" +
                          (accept.empty() ? "" : "Accept-Encoding: " + accept + "\r\n") + "\r\n";
        return exchange(req, head);
    }

    // The body as the client would see it once decoded.
    static std::string decoded(const test::Response& r) {
        const std::string coding = r.header("content-encoding");
        if (coding.empty()) return r.body;
        auto d = test::decode(coding, r.body);
        EXPECT_TRUE(d.has_value()) << "undecodable " << coding;
        return d.value_or("");
    }
};

TEST_F(CompressionTest, TheClientsBestCodingWinsThenTheServersOrder) {
    start_compressing();
    const std::string body = json_body(20000);
    struct Case {
        const char* accept;
        const char* coding;
    } cases[] = {
        {"gzip", "gzip"},
        {"br", "br"},
        {"gzip, br", "br"},              // equal q: the server prefers br
        {"gzip;q=1, br;q=0.5", "gzip"},  // the client's q wins
        {"*", "br"},
        {"br;q=0, *", compress::built_with(compress::Coding::kZstd) ? "zstd" : "gzip"},
        {"identity", ""},
        {"deflate", ""},
        {"", ""},                                          // no Accept-Encoding: identity
        {"gzip;q=0, br;q=0, zstd;q=0, identity;q=0", ""},  // nothing acceptable: unencoded, not 406
    };
    for (const Case& c : cases) {
        const test::Response r = get("/json/20000", c.accept);
        ASSERT_EQ(r.status, 200) << c.accept;
        EXPECT_EQ(r.header("content-encoding"), c.coding) << c.accept;
        EXPECT_EQ(r.header("vary"), "Accept-Encoding") << c.accept;
        EXPECT_EQ(std::stoul(r.header("content-length")), r.body.size()) << c.accept;
        EXPECT_EQ(decoded(r), body) << c.accept;
        if (*c.coding != 0) {
            EXPECT_LT(r.body.size(), body.size() / 3) << c.accept;
        }
    }
}

TEST_F(CompressionTest, IdentityRefusedStillGetsAnEncodedAnswerWhenOneIsAcceptable) {
    start_compressing();
    const test::Response r = get("/json/4000", "identity;q=0, gzip;q=0.1");
    EXPECT_EQ(r.header("content-encoding"), "gzip");
    EXPECT_EQ(decoded(r), json_body(4000));
}

TEST_F(CompressionTest, TheThresholdIsTheServers) {
    http::CompressionConfig c;
    c.threshold = 3000;
    start_compressing(c);
    test::Response small = get("/json/2999", "gzip");
    EXPECT_FALSE(small.has_header("content-encoding"));
    EXPECT_FALSE(small.has_header("vary"));
    EXPECT_EQ(small.body, json_body(2999));
    test::Response big = get("/json/3000", "gzip");
    EXPECT_EQ(big.header("content-encoding"), "gzip");
    EXPECT_EQ(decoded(big), json_body(3000));
}

TEST_F(CompressionTest, TheServersEncodingsAndLevelsAreUsed) {
    http::CompressionConfig c;
    c.encodings = {http::ContentCoding::kGzip};
    c.levels.gzip = 1;
    start_compressing(c);
    EXPECT_EQ(get("/json/9000", "br, gzip").header("content-encoding"), "gzip");
    EXPECT_EQ(get("/json/9000", "br").header("content-encoding"), "");
}

TEST_F(CompressionTest, ETagBecomesWeakAndVaryIsMerged) {
    start_compressing();
    const test::Response r = get("/etag", "br");
    EXPECT_EQ(r.header("content-encoding"), "br");
    EXPECT_EQ(r.header("etag"), "W/\"abc\"");
    EXPECT_EQ(r.header("vary"), "Origin, Accept-Encoding");
    EXPECT_EQ(r.header_count("vary"), 1u);
    const test::Response plain = get("/etag", "");
    EXPECT_EQ(plain.header("etag"), "\"abc\"");
    EXPECT_EQ(plain.header("vary"), "Origin, Accept-Encoding");
}

TEST_F(CompressionTest, HeadGetsTheHeadOfTheEncodedGet) {
    start_compressing();
    const test::Response g = get("/json/8000", "gzip");
    const test::Response h = get("/json/8000", "gzip", true);
    EXPECT_EQ(h.status, 200);
    EXPECT_TRUE(h.body.empty());
    EXPECT_EQ(h.header("content-encoding"), "gzip");
    EXPECT_EQ(h.header("content-length"), g.header("content-length"));
    EXPECT_EQ(h.header("vary"), "Accept-Encoding");
}

TEST_F(CompressionTest, BodilessAnswersImagesAndOptOutsStayUnencoded) {
    start_compressing();
    const test::Response nm = get("/not-modified", "gzip");
    EXPECT_EQ(nm.status, 304);
    EXPECT_FALSE(nm.has_header("content-encoding"));
    EXPECT_EQ(nm.header("etag"), "\"abc\"");
    EXPECT_FALSE(get("/no-content", "gzip").has_header("content-encoding"));
    const test::Response png = get("/png", "gzip");
    EXPECT_FALSE(png.has_header("content-encoding"));
    EXPECT_FALSE(png.has_header("vary"));
    EXPECT_EQ(png.body, std::string(5000, 'x'));
    const test::Response raw = get("/raw", "gzip");
    EXPECT_FALSE(raw.has_header("content-encoding"));
    EXPECT_EQ(raw.body, json_body(5000));
    const test::Response off = get("/off", "gzip");
    EXPECT_FALSE(off.has_header("content-encoding"));
    EXPECT_FALSE(off.has_header("vary"));
    EXPECT_EQ(get("/gzip-only", "br, gzip;q=0.5").header("content-encoding"), "gzip");
    EXPECT_EQ(get("/gzip-only", "br").header("content-encoding"), "");
    // The engine's own answers are not compressed (a 404 is small)
    EXPECT_FALSE(get("/nothing-here", "gzip").has_header("content-encoding"));
}

TEST_F(CompressionTest, BigBodiesRoundTrip) {
    start_compressing();
    for (const char* coding : {"gzip", "br"}) {
        const test::Response r = get("/json/3000000", coding);
        ASSERT_EQ(r.status, 200);
        EXPECT_EQ(r.header("content-encoding"), coding);
        EXPECT_EQ(decoded(r), json_body(3000000)) << coding;
    }
}

TEST_F(CompressionTest, DeferredAndPipelinedAnswersAreEncodedInOrder) {
    start_compressing();
    HttpClient c;
    ASSERT_TRUE(connect(c));
    std::string batch;
    const char* targets[] = {"/json/2000", "/later", "/png", "/json/5000", "/later"};
    const char* accepts[] = {"gzip", "br", "gzip", "br", "identity"};
    for (int i = 0; i < 5; ++i) {
        batch += "GET " + std::string(targets[i]) +
                 " HTTP/1.1\r\nHost: t\r\nAccept-Encoding: " + accepts[i] + "\r\n\r\n";
    }
    ASSERT_TRUE(c.send_all(batch));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(5, &rs));
    EXPECT_EQ(rs[0].header("content-encoding"), "gzip");
    EXPECT_EQ(decoded(rs[0]), json_body(2000));
    EXPECT_EQ(rs[1].header("content-encoding"), "br");
    EXPECT_EQ(decoded(rs[1]), json_body(9000));
    EXPECT_EQ(rs[2].header("content-encoding"), "");
    EXPECT_EQ(rs[3].header("content-encoding"), "br");
    EXPECT_EQ(decoded(rs[3]), json_body(5000));
    EXPECT_EQ(rs[4].header("content-encoding"), "");
    EXPECT_EQ(rs[4].body, json_body(9000));
}

TEST_F(CompressionTest, OffByDefaultUnlessARouteTurnsItOn) {
    ServerConfig cfg = test_config();
    auto s = std::make_unique<Server>(cfg);
    s->get("/default",
           [](const Request&, Response& res) { res.type("text/plain").body(json_body(5000)); });
    RouteOptions on;
    on.compression.mode = http::RouteCompression::Mode::kOn;
    s->route(
        Method::kGet, "/on",
        [](const Request&, Response& res) { res.type("text/plain").body(json_body(5000)); }, on);
    start_server(std::move(s));
    EXPECT_FALSE(get("/default", "gzip").has_header("content-encoding"));
    const test::Response r = get("/on", "gzip");
    EXPECT_EQ(r.header("content-encoding"), "gzip");
    EXPECT_EQ(decoded(r), json_body(5000));
}

// Streamed answers of unknown length are encoded piece by piece, each piece flushed: a client
// decodes the first event before the second is written (Server-Sent Events keep flowing).
struct StreamHolder {
    std::mutex mutex;
    Stream stream;
};

// The body bytes of a chunked response in `raw` so far (after its head), de-chunked.
std::string dechunk_prefix(const std::string& raw) {
    size_t at = raw.find("\r\n\r\n");
    if (at == std::string::npos) return {};
    at += 4;
    std::string body;
    for (;;) {
        const size_t eol = raw.find("\r\n", at);
        if (eol == std::string::npos) break;
        const size_t size = std::stoul(raw.substr(at, eol - at), nullptr, 16);
        if (size == 0 || raw.size() < eol + 2 + size + 2) break;
        body.append(raw, eol + 2, size);
        at = eol + 2 + size + 2;
    }
    return body;
}

TEST_F(CompressionTest, StreamsOfUnknownLengthAreEncodedAndFlushedPieceByPiece) {
    auto holder = std::make_shared<StreamHolder>();
    ServerConfig cfg = test_config();
    cfg.compression.enabled = true;
    auto s = std::make_unique<Server>(cfg);
    s->get("/events", [holder](const Request&, Response& res) {
        res.type("text/event-stream").header("Cache-Control", "no-cache");
        Stream st = res.stream();
        st.write("data: first\n\n");
        std::lock_guard<std::mutex> lock(holder->mutex);
        holder->stream = std::move(st);
    });
    s->get("/sized", [](const Request&, Response& res) {
        res.type("text/plain");
        Stream st = res.stream(5000);
        st.write(std::string(5000, 'z'));
        st.end();
    });
    start_server(std::move(s));
    for (const char* coding : {"gzip", "br", "zstd"}) {
        if (std::string_view(coding) == "zstd" && !compress::built_with(compress::Coding::kZstd)) {
            continue;
        }
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all("GET /events HTTP/1.1\r\nHost: t\r\nAccept-Encoding: " +
                               std::string(coding) + "\r\n\r\n"));
        // The first event arrives, decodable, while the stream is still open.
        std::string raw;
        const auto deadline = test::deadline_in(test::kIoTimeout);
        std::optional<std::string> so_far;
        while (test::Clock::now() < deadline) {
            pollfd pfd{c.fd(), POLLIN, 0};
            if (::poll(&pfd, 1, 50) == 1) {
                char buf[4096];
                const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
                ASSERT_GT(n, 0);
                raw.append(buf, static_cast<size_t>(n));
            }
            so_far = test::decode_prefix(coding, dechunk_prefix(raw));
            if (so_far && *so_far == "data: first\n\n") break;
        }
        ASSERT_TRUE(so_far.has_value()) << coding;
        EXPECT_EQ(*so_far, "data: first\n\n") << coding;
        EXPECT_NE(raw.find("Content-Encoding: " + std::string(coding) + "\r\n"), std::string::npos);
        EXPECT_NE(raw.find("Vary: Accept-Encoding\r\n"), std::string::npos);
        EXPECT_NE(raw.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
        {
            std::lock_guard<std::mutex> lock(holder->mutex);
            ASSERT_TRUE(holder->stream.open());
            holder->stream.write("data: second\n\n");
            holder->stream.end();
            holder->stream = Stream{};
        }
        test::ResponseStream rs;
        rs.append(raw);
        test::Response r;
        std::string error;
        while (rs.next(false, false, &r, &error) == test::ResponseStream::Step::kNeedMore) {
            pollfd pfd{c.fd(), POLLIN, 0};
            ASSERT_EQ(::poll(&pfd, 1, 5000), 1) << coding;
            char buf[4096];
            const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
            ASSERT_GT(n, 0);
            rs.append(std::string_view(buf, static_cast<size_t>(n)));
        }
        EXPECT_EQ(test::decode(coding, r.body), "data: first\n\ndata: second\n\n") << coding;
    }
    // A stream with a Content-Length goes out as it is.
    const test::Response sized = get("/sized", "gzip");
    EXPECT_FALSE(sized.has_header("content-encoding"));
    EXPECT_EQ(sized.body, std::string(5000, 'z'));
    // HEAD gets the head a GET would get.
    HttpClient h;
    ASSERT_TRUE(connect(h));
    ASSERT_TRUE(h.send_all("HEAD /events HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n"));
    test::Response head;
    ASSERT_TRUE(h.read_response(&head, test::deadline_in(test::kIoTimeout), true));
    EXPECT_EQ(head.header("content-encoding"), "br");
    {
        std::lock_guard<std::mutex> lock(holder->mutex);
        holder->stream.end();
        holder->stream = Stream{};
    }
}

TEST(CompressionConfig, AnEncodingThisBuildLacksIsRefusedWithItsName) {
    ServerConfig cfg = test_config();
    cfg.compression.enabled = true;
    cfg.compression.encodings = {http::ContentCoding::kZstd};
    if (compress::built_with(compress::Coding::kZstd)) {
        EXPECT_NO_THROW(Server{cfg});
    } else {
        EXPECT_THROW(Server{cfg}, std::invalid_argument);
    }
}

}  // namespace
}  // namespace nexure::net
