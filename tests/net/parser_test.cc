// RequestParser tests. Every input is replayed three ways — whole, split in two at every byte
// boundary, and one byte per feed — and all three must deliver the same requests and outcome.
// Each piece is fed from its own heap copy that is scribbled over right after feed() returns, so a
// parser that keeps a view into a buffer it was only lent would deliver garbage.
#include "net/http/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace nexure::net::http {
namespace {

using Outcome = RequestParser::Outcome;

struct Captured {
    std::string method;
    std::string target;
    std::string path;
    std::string query;
    std::string version;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool keep_alive = false;
    std::vector<std::string> lookups;  // results of the sink's header/query lookups

    bool operator==(const Captured&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Captured& c) {
    os << "{" << c.method << " target='" << c.target << "' path='" << c.path << "' query='"
       << c.query << "' HTTP/" << c.version << " keep_alive=" << c.keep_alive << " headers=[";
    for (const auto& [n, v] : c.headers)
        os << n << ": '" << v << "'; ";
    os << "] body='" << c.body << "' lookups=[";
    for (const auto& l : c.lookups)
        os << l << "; ";
    return os << "]}";
}

// Copies every field of each request it is handed into std::strings.
class CollectingSink final : public RequestSink {
  public:
    std::vector<Captured> requests;
    size_t stop_after = SIZE_MAX;             // return false from the stop_after-th request
    std::vector<std::string> header_lookups;  // Request::header() for each of these names
    std::vector<std::string> query_lookups;   // Request::query_param() for each of these names

    std::vector<size_t> paddings;  // Request::body_padding() of each request

    bool on_request(Request& r) noexcept override {
        // Every byte body_padding() promises is read: an ASan build reports a promise that goes
        // past the memory (the pieces are heap copies of their exact size, stitched bytes and
        // de-chunked bodies live in poisoned regions).
        const char* after = r.body().data() + r.body().size();
        unsigned sum = 0;
        for (size_t i = 0; i < r.body_padding(); ++i)
            sum += static_cast<unsigned char>(*static_cast<const volatile char*>(after + i));
        (void)sum;
        paddings.push_back(r.body_padding());
        Captured c;
        c.method = std::string(r.method_name());
        c.target = std::string(r.target());
        c.path = std::string(r.path());
        c.query = std::string(r.query());
        c.version = std::to_string(r.version_major()) + "." + std::to_string(r.version_minor());
        for (const Header& h : r.headers())
            c.headers.emplace_back(std::string(h.name), std::string(h.value));
        c.body = std::string(r.body());
        c.keep_alive = r.keep_alive();
        for (const std::string& name : header_lookups) {
            const std::optional<std::string_view> v = r.header(name);
            c.lookups.push_back("header " + name +
                                (v ? " = '" + std::string(*v) + "'" : " absent"));
        }
        for (const std::string& name : query_lookups) {
            const std::optional<std::string_view> v = r.query_param(name);
            c.lookups.push_back("query " + name + (v ? " = '" + std::string(*v) + "'" : " absent"));
        }
        requests.push_back(std::move(c));
        return requests.size() < stop_after;
    }
};

struct Parsed {
    std::vector<Captured> requests;
    Outcome outcome = Outcome::kNeedMore;
    int error_status = 0;
    std::string error_reason;  // ParseContext::error_reason() after a kError
    bool mid_request = false;
    int continues = 0;  // feeds that reported send_continue (compared separately)
    std::vector<size_t> paddings;  // body_padding() of each request (depends on the pieces)

    bool same_as(const Parsed& o) const {
        return requests == o.requests && outcome == o.outcome && error_status == o.error_status &&
               error_reason == o.error_reason && mid_request == o.mid_request;
    }
};

const char* outcome_name(Outcome o) {
    switch (o) {
        case Outcome::kNeedMore:
            return "kNeedMore";
        case Outcome::kStopped:
            return "kStopped";
        case Outcome::kError:
            return "kError";
    }
    return "?";
}

std::ostream& operator<<(std::ostream& os, const Parsed& r) {
    os << outcome_name(r.outcome) << " status=" << r.error_status << " reason='" << r.error_reason
       << "' mid_request=" << r.mid_request << " continues=" << r.continues << " requests("
       << r.requests.size() << "):";
    for (const Captured& c : r.requests)
        os << "\n  " << c;
    return os;
}

struct SinkSetup {
    size_t stop_after = SIZE_MAX;
    std::vector<std::string> header_lookups;
    std::vector<std::string> query_lookups;
};

Parsed feed_pieces(const std::vector<std::string_view>& pieces, const Limits& limits,
                   const SinkSetup& setup) {
    ParseContext ctx(limits);
    RequestParser parser;
    CollectingSink sink;
    sink.stop_after = setup.stop_after;
    sink.header_lookups = setup.header_lookups;
    sink.query_lookups = setup.query_lookups;
    Parsed result;
    for (std::string_view piece : pieces) {
        // A private copy, destroyed (after being scribbled over) as soon as feed() returns.
        auto copy = std::make_unique<char[]>(piece.size() + 1);
        std::memcpy(copy.get(), piece.data(), piece.size());
        const RequestParser::FeedResult r = parser.feed(ctx, copy.get(), piece.size(), sink);
        std::memset(copy.get(), '#', piece.size());
        if (r.send_continue) ++result.continues;
        result.outcome = r.outcome;
        result.error_status = r.error_status;
        if (r.outcome == Outcome::kError) result.error_reason = std::string(ctx.error_reason());
        if (r.outcome != Outcome::kNeedMore) break;
    }
    result.mid_request = parser.mid_request();
    result.requests = std::move(sink.requests);
    result.paddings = std::move(sink.paddings);
    return result;
}

// Replays `input` whole, split at every boundary and byte by byte; expects identical results and
// returns the whole-input one.
Parsed replay(std::string_view input, const Limits& limits = {}, const SinkSetup& setup = {}) {
    const Parsed whole = feed_pieces({input}, limits, setup);
    for (size_t i = 1; i < input.size(); ++i) {
        const Parsed split = feed_pieces({input.substr(0, i), input.substr(i)}, limits, setup);
        EXPECT_TRUE(split.same_as(whole))
            << "split at byte " << i << " ('" << input.substr(0, i) << "' | '" << input.substr(i)
            << "')\n split: " << split << "\n whole: " << whole;
        if (!split.same_as(whole)) break;  // one report is enough
    }
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < input.size(); ++i)
        bytes.push_back(input.substr(i, 1));
    const Parsed one_by_one = feed_pieces(bytes, limits, setup);
    EXPECT_TRUE(one_by_one.same_as(whole))
        << "byte by byte: " << one_by_one << "\n whole: " << whole;
    return whole;
}

TEST(HttpParser, SimpleGetIsParsed) {
    const Parsed r = replay("GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
    EXPECT_EQ(r.outcome, Outcome::kNeedMore);
    EXPECT_FALSE(r.mid_request);
    ASSERT_EQ(r.requests.size(), 1u);
    const Captured& c = r.requests[0];
    EXPECT_EQ(c.method, "GET");
    EXPECT_EQ(c.target, "/hello");
    EXPECT_EQ(c.path, "/hello");
    EXPECT_EQ(c.query, "");
    EXPECT_EQ(c.version, "1.1");
    EXPECT_TRUE(c.keep_alive);
    ASSERT_EQ(c.headers.size(), 1u);
    EXPECT_EQ(c.headers[0].first, "Host");
    EXPECT_EQ(c.headers[0].second, "example.com");
    EXPECT_EQ(c.body, "");
}

TEST(HttpParser, HeaderLookupIsCaseInsensitiveAndNamesKeepTheirCase) {
    SinkSetup setup;
    setup.header_lookups = {"content-type", "CONTENT-TYPE", "x-MiXeD", "X-Missing", "Content"};
    const Parsed r = replay(
        "GET / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nX-Mixed: one\r\nx-mixed: "
        "two\r\n\r\n",
        {}, setup);
    ASSERT_EQ(r.requests.size(), 1u);
    const Captured& c = r.requests[0];
    ASSERT_EQ(c.headers.size(), 4u);
    EXPECT_EQ(c.headers[1].first, "Content-Type");
    EXPECT_EQ(c.headers[3].first, "x-mixed");
    EXPECT_EQ(c.lookups,
              (std::vector<std::string>{
                  "header content-type = 'text/plain'", "header CONTENT-TYPE = 'text/plain'",
                  "header x-MiXeD = 'one'",  // the first of repeated fields
                  "header X-Missing absent",
                  "header Content absent",  // no prefix matches
              }));
}

TEST(HttpParser, HeaderValueWhitespaceIsTrimmed) {
    const Parsed r =
        replay("GET / HTTP/1.1\r\nX-Padded:   spaced out \t \r\nX-Tab:\tv\t\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    ASSERT_EQ(r.requests[0].headers.size(), 3u);
    EXPECT_EQ(r.requests[0].headers[0].second, "spaced out") << "inner whitespace stays";
    EXPECT_EQ(r.requests[0].headers[1].second, "v");
}

TEST(HttpParser, EmptyHeaderValueIsKept) {
    const Parsed r = replay("GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    const auto& h = r.requests[0].headers;
    ASSERT_EQ(h.size(), 3u);
    EXPECT_EQ(h[0], (std::pair<std::string, std::string>{"X-Empty", ""}));
    EXPECT_EQ(h[1], (std::pair<std::string, std::string>{"X-Blank", ""}));
    EXPECT_EQ(h[2], (std::pair<std::string, std::string>{"Host", "h"}));
}

TEST(HttpParser, QueryIsSplitFromThePath) {
    SinkSetup setup;
    setup.query_lookups = {"q", "page", "flag", "missing", "pag"};
    const Parsed r =
        replay("GET /search?q=nexure%20js&page=2&flag HTTP/1.1\r\nHost: h\r\n\r\n", {}, setup);
    ASSERT_EQ(r.requests.size(), 1u);
    const Captured& c = r.requests[0];
    EXPECT_EQ(c.target, "/search?q=nexure%20js&page=2&flag");
    EXPECT_EQ(c.path, "/search");
    EXPECT_EQ(c.query, "q=nexure%20js&page=2&flag");
    EXPECT_EQ(c.lookups, (std::vector<std::string>{
                             "query q = 'nexure%20js'",  // raw, not decoded
                             "query page = '2'",
                             "query flag = ''",
                             "query missing absent",
                             "query pag absent",
                         }));
}

TEST(HttpParser, EmptyQueryAfterQuestionMark) {
    const Parsed r = replay("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].path, "/a");
    EXPECT_EQ(r.requests[0].query, "");
    EXPECT_EQ(r.requests[0].target, "/a?");
}

TEST(HttpParser, PostWithContentLengthDeliversTheBody) {
    const Parsed r = replay(
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: "
        "16\r\n\r\n"
        "{\"hello\":\"you\"}\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].method, "POST");
    EXPECT_EQ(r.requests[0].body, "{\"hello\":\"you\"}\n");
    EXPECT_FALSE(r.mid_request);
}

TEST(HttpParser, BodyMayContainHttpLookingBytes) {
    const std::string body = "GET / HTTP/1.1\r\n\r\n";
    const Parsed r =
        replay("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body);
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].body, body);
}

TEST(HttpParser, ChunkedBodyIsDechunked) {
    const Parsed r = replay(
        "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nHello\r\n7\r\n, World\r\n1\r\n!\r\n0\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].body, "Hello, World!");
    EXPECT_FALSE(r.mid_request);
}

TEST(HttpParser, ChunkedBodyWithExtensionsAndTrailersIsDechunked) {
    const Parsed r = replay(
        "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4;name=value\r\nWiki\r\nA\r\npedia in c\r\n0\r\nX-Checksum: abc\r\n\r\n"
        "GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 2u);
    EXPECT_EQ(r.requests[0].body, "Wikipedia in c");
    EXPECT_EQ(r.requests[1].target, "/after");
}

// RFC 9110 6.5.1: trailer fields are never merged into the header section. Fields that would
// change framing, routing, authentication or the content's type leave the request as its head
// made it (Transfer-Encoding in a trailer is refused: tests/conformance/cases/te-in-trailer.case).
TEST(HttpParser, TrailerFieldsAreNeverMergedIntoTheHeaders) {
    SinkSetup setup;
    setup.header_lookups = {"host", "content-length", "authorization", "content-type"};
    const Parsed r = replay(
        "POST /u HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: "
        "chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\nContent-Length: 100\r\nHost: evil\r\nAuthorization: Basic eA==\r\n"
        "Content-Type: application/x-evil\r\n\r\n"
        "GET /after HTTP/1.1\r\nHost: h\r\n\r\n",
        {}, setup);
    ASSERT_EQ(r.requests.size(), 2u) << r;
    const Captured& post = r.requests[0];
    EXPECT_EQ(post.body, "hello");
    EXPECT_EQ(post.headers.size(), 3u) << post;
    EXPECT_EQ(post.lookups,
              (std::vector<std::string>{"header host = 'h'", "header content-length absent",
                                        "header authorization absent",
                                        "header content-type = 'text/plain'"}));
    EXPECT_EQ(r.requests[1].path, "/after");
}

TEST(HttpParser, SingleChunkBodyIsDelivered) {
    const Parsed r = replay(
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].body, "abc");
}

// Request::body_padding(): the bytes after the body a reader may load (net/json/ parses a body in
// place when there are 64). For a body in one read: what follows it in the read, and what the
// caller says follows the read in its buffer. (CollectingSink reads every byte it promises.)
TEST(HttpParser, BodyPaddingIsWhatFollowsTheBodyInItsRead) {
    const std::string post = "POST /j HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    const std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
    const std::string buffer = post + next + std::string(100, 'x');
    const auto paddings = [&](size_t len, size_t readable_after) {
        ParseContext ctx(Limits{});
        RequestParser parser;
        CollectingSink sink;
        parser.feed(ctx, buffer.data(), len, sink, readable_after);
        return sink.paddings;
    };
    EXPECT_EQ(paddings(post.size(), 0), std::vector<size_t>{0});
    EXPECT_EQ(paddings(post.size(), 100), std::vector<size_t>{100});
    // Pipelined: the next request's bytes follow the body. A request without a body has none.
    EXPECT_EQ(paddings(post.size() + next.size(), 0), (std::vector<size_t>{next.size(), 0}));
    EXPECT_EQ(paddings(post.size() + next.size(), 100),
              (std::vector<size_t>{next.size() + 100, 0}));
}

// A body that spans reads lies in the stitched bytes, a chunked one of several chunks in the block
// it is de-chunked into: the parser keeps Request::kBodyReadAhead bytes of room after both, so
// that they too are read in place, however the reads were cut.
TEST(HttpParser, BodiesThatSpanReadsOrAreDechunkedHaveReadAheadRoom) {
    const std::string post = "POST /j HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    const std::string chunked =
        "POST /j HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
    for (const std::string& request : {post, chunked}) {
        for (size_t i = 1; i < request.size(); ++i) {
            const Parsed r = feed_pieces(
                {std::string_view(request).substr(0, i), std::string_view(request).substr(i)},
                Limits{}, {});
            ASSERT_EQ(r.requests.size(), 1u) << "split at " << i;
            EXPECT_EQ(r.requests[0].body, "{\"a\":1}");
            EXPECT_GE(r.paddings[0], Request::kBodyReadAhead) << "split at " << i << " of\n"
                                                              << request;
        }
    }
    EXPECT_GE(feed_pieces({chunked}, Limits{}, {}).paddings[0], Request::kBodyReadAhead);
}

// The shortest request line there is: a one-letter method llhttp does not know. A one-letter
// field name after it ends 15 bytes into the message, so the parser's 16-byte check of the name
// must not look before the message (each piece is an exact heap copy: ASan would report it).
// Found by the parser fuzzer (tests/fuzz/corpus/parser/one-letter-method-and-name).
TEST(HttpParser, AOneLetterNameAfterAOneLetterMethodIsReadWithinTheMessage) {
    SinkSetup setup;
    setup.header_lookups = {"j"};
    const Parsed r = replay("X / HTTP/1.1\r\nJ: v\r\nHost: h\r\n\r\n", {}, setup);
    ASSERT_EQ(r.requests.size(), 1u) << r;
    EXPECT_EQ(r.requests[0].method, "X");
    EXPECT_EQ(r.requests[0].lookups, std::vector<std::string>{"header j = 'v'"});
    const Parsed bad = replay("X / HTTP/1.1\r\n@: v\r\nHost: h\r\n\r\n");
    EXPECT_EQ(bad.outcome, Outcome::kError);
    EXPECT_EQ(bad.error_status, 400);
}

TEST(HttpParser, PipelinedRequestsCompleteInOrder) {
    const Parsed r = replay(
        "GET /first HTTP/1.1\r\nHost: h\r\n\r\n"
        "POST /second HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
        "PUT /third HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
        "chunked\r\n\r\n2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n"
        "DELETE /fourth?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 4u);
    EXPECT_EQ(r.requests[0].method, "GET");
    EXPECT_EQ(r.requests[0].target, "/first");
    EXPECT_EQ(r.requests[1].method, "POST");
    EXPECT_EQ(r.requests[1].body, "abc");
    EXPECT_EQ(r.requests[2].method, "PUT");
    EXPECT_EQ(r.requests[2].body, "xyz");
    EXPECT_EQ(r.requests[3].method, "DELETE");
    EXPECT_EQ(r.requests[3].path, "/fourth");
    EXPECT_EQ(r.requests[3].query, "x=1");
    EXPECT_FALSE(r.mid_request);
}

TEST(HttpParser, IncompleteSecondRequestIsHeldUntilItCompletes) {
    const Parsed r = replay("GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost:");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].target, "/one");
    EXPECT_TRUE(r.mid_request);
    EXPECT_EQ(r.outcome, Outcome::kNeedMore);
}

TEST(HttpParser, Http10DefaultsToClose) {
    const Parsed r = replay("GET / HTTP/1.0\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].version, "1.0");
    EXPECT_FALSE(r.requests[0].keep_alive);
}

TEST(HttpParser, Http10KeepAliveHeaderKeepsTheConnection) {
    const Parsed r = replay(
        "GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: "
        "Keep-Alive\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 2u);
    EXPECT_TRUE(r.requests[0].keep_alive);
    EXPECT_TRUE(r.requests[1].keep_alive) << "the token is case-insensitive";
}

TEST(HttpParser, Http11DefaultsToKeepAlive) {
    const Parsed r = replay("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_TRUE(r.requests[0].keep_alive);
}

TEST(HttpParser, ConnectionCloseClearsKeepAlive) {
    const Parsed r = replay("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_FALSE(r.requests[0].keep_alive);
}

TEST(HttpParser, TargetAtTheLimitIsAccepted) {
    Limits limits;
    limits.max_target_size = 32;
    const std::string target = "/" + std::string(31, 'a');
    const Parsed r = replay("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n", limits);
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].target, target);
}

TEST(HttpParser, TargetOverTheLimitIs414) {
    Limits limits;
    limits.max_target_size = 32;
    const Parsed r =
        replay("GET /" + std::string(32, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", limits);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 414);
    EXPECT_TRUE(r.requests.empty());
}

TEST(HttpParser, TargetOverTheLimitIs414BeforeTheRequestLineEnds) {
    Limits limits;
    limits.max_target_size = 32;
    const Parsed r = replay("GET /" + std::string(40, 'a'), limits);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 414);
}

TEST(HttpParser, HeadOverTheLimitIs431) {
    Limits limits;
    limits.max_head_size = 128;
    std::string req = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 6; ++i)
        req += "X-Header-" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
    req += "\r\n";
    ASSERT_GT(req.size(), 128u);
    const Parsed r = replay(req, limits);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 431);
    EXPECT_TRUE(r.requests.empty());
}

TEST(HttpParser, HeadLimitAppliesToEachPipelinedRequestSeparately) {
    Limits limits;
    limits.max_head_size = 96;
    std::string one = "GET /x HTTP/1.1\r\nHost: h\r\nX-Fill: " + std::string(40, 'f') + "\r\n\r\n";
    ASSERT_LT(one.size(), 96u);
    const Parsed r = replay(one + one + one, limits);
    EXPECT_EQ(r.outcome, Outcome::kNeedMore);
    EXPECT_EQ(r.requests.size(), 3u);
}

TEST(HttpParser, TooManyHeadersIs431) {
    Limits limits;
    limits.max_header_count = 4;
    std::string ok = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 3; ++i)
        ok += "H" + std::to_string(i) + ": v\r\n";
    const Parsed accepted = replay(ok + "\r\n", limits);
    ASSERT_EQ(accepted.requests.size(), 1u);
    EXPECT_EQ(accepted.requests[0].headers.size(), 4u);

    const Parsed r = replay(ok + "H3: v\r\n\r\n", limits);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 431);
    EXPECT_TRUE(r.requests.empty());
}

// The reason goes to the after-response hooks (net/hooks.h) and is the same wherever the reads
// were cut (replay() compares it too).
TEST(HttpParser, RefusalsSayWhy) {
    Limits limits;
    limits.max_target_size = 16;
    limits.max_body_size = 10;
    struct Case {
        std::string request;
        int status;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {"GET / HTTP/1.1\r\n\r\n", 400, "Host missing, repeated or invalid"},
        {"GET /" + std::string(20, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 414,
         "request-target longer than max_target_size"},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", 413,
         "Content-Length over max_body_size"},
        {"GET / HTTP/1.1\r\nHost: h\r\nExpect: later\r\n\r\n", 417,
         "an expectation other than 100-continue"},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP major version other than 1"},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", 400,
         "malformed chunk-size line"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.request);
        const Parsed r = replay(c.request, limits);
        EXPECT_EQ(r.outcome, Outcome::kError);
        EXPECT_EQ(r.error_status, c.status);
        EXPECT_EQ(r.error_reason, c.reason);
    }
    // What llhttp refuses itself comes with llhttp's words.
    const Parsed bad = replay("GET / HTTP/1.1\r\nHost: h\r\nX-A: \x01\r\n\r\n");
    EXPECT_EQ(bad.error_status, 400);
    EXPECT_FALSE(bad.error_reason.empty());
}

TEST(HttpParser, ContentLengthOverTheLimitIs413BeforeTheBodyArrives) {
    Limits limits;
    limits.max_body_size = 16;
    const Parsed r = replay("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n", limits);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 413);
    const Parsed ok =
        replay("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\n\r\n0123456789abcdef", limits);
    ASSERT_EQ(ok.requests.size(), 1u);
    EXPECT_EQ(ok.requests[0].body, "0123456789abcdef");
}

TEST(HttpParser, ChunkedBodyOverTheLimitIs413) {
    Limits limits;
    limits.max_body_size = 16;
    const Parsed r = replay(
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
        "chunked\r\n\r\n8\r\n01234567\r\n9\r\n012345678\r\n0\r\n\r\n",
        limits);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 413);
    EXPECT_TRUE(r.requests.empty());
    const Parsed ok = replay(
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
        "chunked\r\n\r\n8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n",
        limits);
    ASSERT_EQ(ok.requests.size(), 1u);
    EXPECT_EQ(ok.requests[0].body, "0123456789abcdef");
}

TEST(HttpParser, MalformedRequestLineIs400) {
    for (const char* bad :
         {"GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "GET / FTP/1.1\r\n\r\n",
          "GET /a b HTTP/1.1\r\n\r\n", "FOO / HTTP/1.1\r\n\r\n"}) {
        SCOPED_TRACE(bad);
        const Parsed r = replay(bad);
        EXPECT_EQ(r.outcome, Outcome::kError);
        EXPECT_EQ(r.error_status, 400);
        EXPECT_TRUE(r.requests.empty());
    }
}

TEST(HttpParser, MalformedHeaderIs400) {
    for (const char* bad :
         {"GET / HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n",
          "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\nabc",
          "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
          "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
          "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
          "3\r\n\r\n0\r\n\r\n",
          "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nabc",
          "GET / HTTP/1.1\r\n Leading: space\r\n\r\n"}) {
        SCOPED_TRACE(bad);
        const Parsed r = replay(bad);
        EXPECT_EQ(r.outcome, Outcome::kError);
        EXPECT_EQ(r.error_status, 400);
    }
}

// RFC 9110 5.5: OWS around a field value is SP or HTAB, Content-Length included (llhttp 8.1
// refuses a tab after its digits; the parser reads such a value itself). The value the handler
// sees is the digits, and the body is as long as they say.
TEST(HttpParser, ContentLengthWithTabsAroundTheValueFramesTheBody) {
    SinkSetup setup;
    setup.header_lookups = {"content-length"};
    for (const char* value : {"\t5\t", "5\t", " \t 5 \t ", "\t005\t", "5"}) {
        SCOPED_TRACE(testing::PrintToString(std::string(value)));
        const Parsed r =
            replay(std::string("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length:") + value +
                       "\r\nX-After: 1\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
                   {}, setup);
        ASSERT_EQ(r.requests.size(), 2u) << r;
        EXPECT_EQ(r.requests[0].body, "hello");
        EXPECT_EQ(r.requests[0].headers[1].second,
                  std::string(value).find("005") != std::string::npos ? "005" : "5");
        EXPECT_EQ(r.requests[0].headers[2].second, "1");
        EXPECT_EQ(r.requests[1].path, "/next");
    }
    for (const char* value :
         {"\t5\t5", "5\t,5", "\t", "\t-5\t", "5\tx", "\t123456789012345678901\t"}) {
        SCOPED_TRACE(testing::PrintToString(std::string(value)));
        const Parsed r = replay(std::string("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length:") +
                                value + "\r\n\r\nhello");
        EXPECT_EQ(r.outcome, Outcome::kError) << r;
        EXPECT_EQ(r.error_status, 400);
    }
    const Parsed twice = replay(
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length:\t5\t\r\n\r\nhello");
    EXPECT_EQ(twice.error_status, 400) << twice;
}

// Leading zeros are decimal digits (tests/conformance/cases/cl-leading-zeros*.case).
TEST(HttpParser, ContentLengthWithLeadingZerosIsDecimal) {
    const Parsed r = replay(
        "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0010\r\n\r\n0123456789"
        "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 2u) << r;
    EXPECT_EQ(r.requests[0].body, "0123456789");
    EXPECT_EQ(r.requests[1].body, "");
}

// RFC 9110 5.1: a field name is a token, and a space is not a token character. llhttp 8 (in its
// default, non-strict build) accepts "Bad Name" as a name; the server must still answer 400.
TEST(HttpParser, HeaderNameWithSpaceIs400) {
    const Parsed r = replay("GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n");
    EXPECT_EQ(r.outcome, Outcome::kError) << r;
    EXPECT_EQ(r.error_status, 400);
    EXPECT_TRUE(r.requests.empty());
}

// RFC 9112 5.2: a server receiving obs-fold (a header line continued on the next line after
// whitespace) must either reject the request with 400 or replace each fold with spaces. Either
// way no CR or LF may end up in a header value handed to the application.
TEST(HttpParser, ObsoleteLineFoldingIsRejectedOrUnfolded) {
    const Parsed r = replay("GET / HTTP/1.1\r\nX-Folded: first\r\n second\r\nHost: h\r\n\r\n");
    if (r.outcome == Outcome::kError) {
        EXPECT_EQ(r.error_status, 400);
        return;
    }
    ASSERT_EQ(r.requests.size(), 1u) << r;
    ASSERT_EQ(r.requests[0].headers.size(), 2u) << r;
    const std::string& value = r.requests[0].headers[0].second;
    EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos)
        << "CR/LF inside a header value: " << r;
    EXPECT_TRUE(value.starts_with("first ") && value.ends_with(" second")) << r;
}

// Upgrade is not supported: an upgrade request is answered like any other and what follows it
// is parsed as HTTP again.
TEST(HttpParser, UpgradeRequestIsDeliveredAndParsingContinues) {
    const Parsed r = replay(
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /next "
        "HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 2u) << r;
    EXPECT_EQ(r.requests[0].target, "/ws");
    EXPECT_EQ(r.requests[1].target, "/next");
}

TEST(HttpParser, RequestsBeforeAMalformedOneAreDelivered) {
    const Parsed r = replay("GET /ok HTTP/1.1\r\nHost: h\r\n\r\nBROKEN\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].target, "/ok");
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 400);
}

// The engine speaks HTTP/1.x only: any other major version (0.9, 2.0, 3.0, ...) is answered 505
// (RFC 9110 15.6.6), and a higher minor version is handled as HTTP/1.1 (RFC 9110 2.5).
TEST(HttpParser, Http2RequestLineIs505) {
    const Parsed r = replay("GET / HTTP/2.0\r\nHost: h\r\n\r\n");
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 505);
    EXPECT_TRUE(r.requests.empty());
}

TEST(HttpParser, Http09RequestLineIs505) {
    const Parsed r = replay("GET / HTTP/0.9\r\n\r\n");
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 505);
}

TEST(HttpParser, HigherMajorVersionIs505) {
    const Parsed r = replay("GET / HTTP/3.0\r\nHost: h\r\n\r\n");
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 505);
}

TEST(HttpParser, HigherMinorVersionIsHandledAsHttp11) {
    const Parsed r = replay("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u) << r;
    EXPECT_EQ(r.requests[0].version, "1.2");
    EXPECT_TRUE(r.requests[0].keep_alive);
}

TEST(HttpParser, MalformedVersionIs400) {
    for (const char* bad : {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", "GET / HTTP/1\r\nHost: h\r\n\r\n",
                            "GET / HTTP/x.1\r\nHost: h\r\n\r\n"}) {
        SCOPED_TRACE(bad);
        const Parsed r = replay(bad);
        EXPECT_EQ(r.outcome, Outcome::kError);
        EXPECT_EQ(r.error_status, 400);
    }
}

// RFC 9112 3.2.2: an origin server uses the host of an absolute-form target, not the Host field;
// the handler reads it through Request::header("host") (and the JavaScript bridge copies the
// headers as the parser leaves them).
TEST(HttpParser, AbsoluteFormTargetsAuthorityIsTheHost) {
    SinkSetup setup;
    setup.header_lookups = {"host"};
    const Parsed r = replay(
        "GET http://other.example/plaintext HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET https://x.example:8443?q=1 HTTP/1.1\r\nHost: a\r\n\r\n"
        "GET /plain HTTP/1.1\r\nHost: a\r\n\r\n",
        {}, setup);
    ASSERT_EQ(r.requests.size(), 3u) << r;
    EXPECT_EQ(r.requests[0].path, "/plaintext");
    EXPECT_EQ(r.requests[0].lookups[0], "header host = 'other.example'");
    EXPECT_EQ(r.requests[0].headers[0].second, "other.example");
    EXPECT_EQ(r.requests[1].path, "/");
    EXPECT_EQ(r.requests[1].query, "q=1");
    EXPECT_EQ(r.requests[1].lookups[0], "header host = 'x.example:8443'");
    EXPECT_EQ(r.requests[2].lookups[0], "header host = 'a'");
}

// RFC 9112 3.2: origin-form for every method, asterisk-form for OPTIONS, absolute-form with a
// valid authority; CONNECT (authority-form) is not implemented and never routed.
TEST(HttpParser, RequestTargetFormsAreCheckedAgainstTheMethod) {
    const Parsed options = replay("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(options.requests.size(), 1u) << options;
    for (const auto& [bad, status] : std::vector<std::pair<std::string, int>>{
             {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
             {"POST * HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", 400},
             {"GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
             {"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
             {"GET http://user@h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
             {"GET http://h:port/x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
             {"GET 1http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
             {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501},
         }) {
        SCOPED_TRACE(bad);
        const Parsed r = replay(bad);
        EXPECT_EQ(r.outcome, Outcome::kError) << r;
        EXPECT_EQ(r.error_status, status);
        EXPECT_TRUE(r.requests.empty());
    }
}

// A fragment, and any byte outside ASCII, is refused wherever it is in the target (the check
// takes eight bytes at a time).
TEST(HttpParser, FragmentOrNonAsciiByteInTheTargetIs400) {
    for (size_t at = 1; at < 20; ++at) {
        for (const char bad : {'#', '\x80', '\xc3', '\xff', '\x7f'}) {
            std::string target = "/" + std::string(20, 'a');
            target[at] = bad;
            const std::string request = "GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n";
            const Parsed r = feed_pieces({request}, {}, {});
            if (bad == '\x7f') {  // DEL: outside RFC 3986 too, but llhttp's to judge (400)
                EXPECT_EQ(r.outcome, Outcome::kError) << at;
                continue;
            }
            EXPECT_EQ(r.outcome, Outcome::kError) << at << " " << int(bad);
            EXPECT_EQ(r.error_status, 400);
        }
    }
    const Parsed ok = replay("GET /a%23b?c=%C3%A9&d=!$&'()*+,;=:@/? HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(ok.requests.size(), 1u) << ok;
}

// RFC 9110 7.2: Host = uri-host [ ":" port ], port = *DIGIT; uri-host not empty here.
TEST(HttpParser, HostIsAHostAndANumericPort) {
    for (const char* good :
         {"h", "127.0.0.1:8080", "example.com:", "a-very-long-host-name.example.com:8443",
          "a-very-long-host-name.example.com", "[::1]", "[::1]:80", "[fe80::1%25eth0]:8080", "8080",
          "x.example:0123456789"}) {
        SCOPED_TRACE(good);
        const Parsed r = replay(std::string("GET / HTTP/1.1\r\nHost: ") + good + "\r\n\r\n");
        ASSERT_EQ(r.requests.size(), 1u) << r;
    }
    for (const char* bad :
         {"", ":80", "example.com:port", "example.com:80x", "a:b:80", "[::1", "[]", "[::1]x",
          "[::1]:x", "user@example.com", "a-very-long-host-name.example.com:http",
          "a-very-long-host-name.example.com:80:80", "exa mple.com"}) {
        SCOPED_TRACE(bad);
        const Parsed r = replay(std::string("GET / HTTP/1.1\r\nHost: ") + bad + "\r\n\r\n");
        EXPECT_EQ(r.outcome, Outcome::kError) << r;
        EXPECT_EQ(r.error_status, 400);
    }
}

TEST(HttpParser, UnknownButValidMethodIsDelivered) {
    const Parsed r = replay("PROPFIND /dav HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].method, "PROPFIND");
}

// RFC 9110 9.1: a method is a token. One llhttp does not know is delivered (as Method::kOther,
// which the router answers 501) with its own name, like PROPFIND.
TEST(HttpParser, AMethodLlhttpDoesNotKnowIsDeliveredByItsName) {
    const Parsed r = replay(
        "FOO /a HTTP/1.1\r\nHost: h\r\n\r\n"
        "\r\nget /b?x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
        "GETS /c HTTP/1.1\r\nHost: h\r\n\r\n"
        "M-SEARCHX * HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 3u) << r;
    EXPECT_EQ(r.requests[0].method, "FOO");
    EXPECT_EQ(r.requests[0].target, "/a");
    EXPECT_EQ(r.requests[1].method, "get");
    EXPECT_EQ(r.requests[1].query, "x");
    EXPECT_EQ(r.requests[1].body, "hi");
    EXPECT_EQ(r.requests[2].method, "GETS");
    EXPECT_EQ(r.outcome, Outcome::kError) << "M-SEARCHX *: asterisk-form is for OPTIONS only";
    EXPECT_EQ(r.error_status, 400);

    for (const char* bad : {"F\x01O / HTTP/1.1\r\nHost: h\r\n\r\n", "FOO\r\n\r\n",
                            "FOO  / HTTP/1.1\r\nHost: h\r\n\r\n", "(GET) / HTTP/1.1\r\n\r\n",
                            "FOO /\x80 HTTP/1.1\r\nHost: h\r\n\r\n"}) {
        SCOPED_TRACE(testing::PrintToString(std::string(bad)));
        const Parsed b = replay(bad);
        EXPECT_EQ(b.outcome, Outcome::kError) << b;
        EXPECT_EQ(b.error_status, 400);
    }
    const Parsed long_method = replay(std::string(300, 'X') + " / HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(long_method.error_status, 501) << long_method;
}

// Expect: 100-continue. The number of send_continue reports differs by feeding pattern only in
// when it happens, never in how often: exactly once while the body is still missing.
TEST(HttpParser, ExpectContinueIsReportedOnceWhileTheBodyIsMissing) {
    const std::string head =
        "POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    const Parsed r = replay(head);
    EXPECT_EQ(r.continues, 1) << "whole head";
    EXPECT_TRUE(r.requests.empty());
    EXPECT_TRUE(r.mid_request);

    const Limits limits;
    for (size_t i = 1; i < head.size(); ++i) {
        const Parsed split = feed_pieces(
            {std::string_view(head).substr(0, i), std::string_view(head).substr(i)}, limits, {});
        ASSERT_EQ(split.continues, 1) << "split at " << i;
    }
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < head.size(); ++i)
        bytes.push_back(std::string_view(head).substr(i, 1));
    // Then the body arrives, in two pieces: no further report, and the request completes.
    bytes.push_back("he");
    bytes.push_back("llo");
    const Parsed all = feed_pieces(bytes, limits, {});
    EXPECT_EQ(all.continues, 1);
    ASSERT_EQ(all.requests.size(), 1u);
    EXPECT_EQ(all.requests[0].body, "hello");
    EXPECT_FALSE(all.mid_request);
}

TEST(HttpParser, ExpectContinueIsNotReportedWhenTheBodyCameWithTheHead) {
    const Parsed r = replay(
        "POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_EQ(r.continues, 0);
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].body, "hello");
}

TEST(HttpParser, ExpectContinueWithoutABodyIsNotReported) {
    const Parsed r = replay("GET /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(r.continues, 0);
    EXPECT_EQ(r.requests.size(), 1u);
    const Parsed http10 =
        replay("POST /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    EXPECT_EQ(http10.continues, 0) << "HTTP/1.0 clients do not know 100 Continue";
}

TEST(HttpParser, ExpectContinueTokenIsCaseInsensitive) {
    const Parsed r =
        replay("POST /u HTTP/1.1\r\nHost: h\r\nexpect: 100-Continue\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(r.outcome, Outcome::kNeedMore);
    EXPECT_EQ(r.continues, 1);
}

TEST(HttpParser, UnknownExpectationIs417) {
    const Parsed r = replay(
        "POST /u HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 417);
    EXPECT_TRUE(r.requests.empty());
}

TEST(HttpParser, SinkReturningFalseStopsParsing) {
    SinkSetup setup;
    setup.stop_after = 1;
    const Parsed r = replay(
        "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
        {}, setup);
    EXPECT_EQ(r.outcome, Outcome::kStopped);
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].target, "/1");
    EXPECT_FALSE(r.mid_request);
}

TEST(HttpParser, SinkStoppingAtTheSecondRequestDropsTheRest) {
    SinkSetup setup;
    setup.stop_after = 2;
    const Parsed r = replay(
        "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
        {}, setup);
    EXPECT_EQ(r.outcome, Outcome::kStopped);
    ASSERT_EQ(r.requests.size(), 2u);
    EXPECT_EQ(r.requests[1].target, "/2");
}

TEST(HttpParser, RequestsSpanningReadsBeyondTheStitchPoolGet503) {
    // The stitch-state pool holds whole blocks of 64: a cap of 1 means 64.
    ParseContext ctx(Limits{}, -1, 1);
    CollectingSink sink;
    std::vector<RequestParser> parsers(65);
    const std::string half = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc";
    for (size_t i = 0; i < 64; ++i) {
        EXPECT_EQ(parsers[i].feed(ctx, half.data(), half.size(), sink).outcome, Outcome::kNeedMore)
            << i;
        EXPECT_TRUE(parsers[i].mid_request());
    }
    const auto r = parsers[64].feed(ctx, half.data(), half.size(), sink);
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 503);
    EXPECT_FALSE(parsers[64].mid_request());
    // A place freed by a completed request is reused.
    const std::string rest = "defghij";
    EXPECT_EQ(parsers[0].feed(ctx, rest.data(), rest.size(), sink).outcome, Outcome::kNeedMore);
    EXPECT_FALSE(parsers[0].mid_request());
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].body, "abcdefghij");
    RequestParser again;
    EXPECT_EQ(again.feed(ctx, half.data(), half.size(), sink).outcome, Outcome::kNeedMore);
    EXPECT_TRUE(again.mid_request());
    for (auto& p : parsers)
        p.reset(ctx);
    again.reset(ctx);
}

TEST(HttpParser, ResetForgetsAPartialRequest) {
    ParseContext ctx(Limits{});
    RequestParser parser;
    CollectingSink sink;
    const std::string half = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc";
    EXPECT_EQ(parser.feed(ctx, half.data(), half.size(), sink).outcome, Outcome::kNeedMore);
    EXPECT_TRUE(parser.mid_request());
    EXPECT_EQ(parser.buffered_bytes(), half.size());
    parser.reset(ctx);
    EXPECT_FALSE(parser.mid_request());
    EXPECT_EQ(parser.buffered_bytes(), 0u);
    const std::string next = "GET /fresh HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(parser.feed(ctx, next.data(), next.size(), sink).outcome, Outcome::kNeedMore);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].target, "/fresh");
}

// One ParseContext serves every connection of a worker: a request parked on one connection must
// survive other connections parsing in between.
TEST(HttpParser, ConnectionsSharingAContextDoNotMixUpPartialRequests) {
    ParseContext ctx(Limits{});
    RequestParser a;
    RequestParser b;
    CollectingSink sink_a;
    CollectingSink sink_b;
    auto feed = [&ctx](RequestParser& p, CollectingSink& s, std::string text) {
        const RequestParser::FeedResult r = p.feed(ctx, text.data(), text.size(), s);
        std::fill(text.begin(), text.end(), '#');
        return r.outcome;
    };
    EXPECT_EQ(feed(a, sink_a,
                   "POST /a HTTP/1.1\r\nX-Conn: a\r\nHost: h\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n"),
              Outcome::kNeedMore);
    EXPECT_EQ(feed(b, sink_b,
                   "PUT /b HTTP/1.1\r\nX-Conn: b\r\nHost: h\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n1\r\nx\r\n2\r\nyz\r\n0\r\n\r\nGET /b2 HTTP/1.1\r\nX-Co"),
              Outcome::kNeedMore);
    EXPECT_EQ(feed(a, sink_a, "1\r\nf\r\n0\r\n\r\n"), Outcome::kNeedMore);
    EXPECT_EQ(feed(b, sink_b, "nn: b2\r\nHost: h\r\n\r\n"), Outcome::kNeedMore);
    ASSERT_EQ(sink_a.requests.size(), 1u);
    EXPECT_EQ(sink_a.requests[0].target, "/a");
    EXPECT_EQ(sink_a.requests[0].body, "abcdef");
    ASSERT_EQ(sink_a.requests[0].headers.size(), 3u);
    EXPECT_EQ(sink_a.requests[0].headers[0].second, "a");
    ASSERT_EQ(sink_b.requests.size(), 2u);
    EXPECT_EQ(sink_b.requests[0].body, "xyz");
    EXPECT_EQ(sink_b.requests[1].target, "/b2");
    ASSERT_EQ(sink_b.requests[1].headers.size(), 2u);
    EXPECT_EQ(sink_b.requests[1].headers[0], (std::pair<std::string, std::string>{"X-Conn", "b2"}));
}

TEST(HttpParser, LargeBodyAcrossManyFeedsIsDeliveredIntact) {
    std::string body;
    for (int i = 0; i < 5000; ++i)
        body += static_cast<char>('a' + i % 26);
    const std::string req =
        "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    std::vector<std::string_view> pieces;
    for (size_t off = 0; off < req.size(); off += 97)
        pieces.push_back(std::string_view(req).substr(off, 97));
    const Parsed r = feed_pieces(pieces, Limits{}, {});
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].body, body);
}

// Feeds `stream` in pieces of `piece` bytes, each from its own scribbled-over heap copy.
void feed_in_pieces(RequestParser& parser, ParseContext& ctx, RequestSink& sink,
                    const std::string& stream, size_t piece) {
    for (size_t at = 0; at < stream.size(); at += piece) {
        const size_t n = std::min(piece, stream.size() - at);
        std::vector<char> copy(stream.begin() + static_cast<std::ptrdiff_t>(at),
                               stream.begin() + static_cast<std::ptrdiff_t>(at + n));
        ASSERT_EQ(parser.feed(ctx, copy.data(), n, sink).outcome, Outcome::kNeedMore) << at;
        std::memset(copy.data(), '#', n);
    }
}

TEST(HttpParser, AConnectionThatAlwaysStopsMidRequestHoldsBoundedStitchMemory) {
    // Pipelined chunked requests, read so that every read ends halfway through a request: the
    // stitch state is never given back, and each read completes one request and begins the next.
    // 10,000 requests still take no more than a first chunk in each of the state's three regions
    // (two for the stitched bytes, one for the de-chunked body).
    ParseContext ctx(Limits{});
    RequestParser parser;
    CollectingSink sink;
    const std::string one =
        "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    std::string stream;
    for (int i = 0; i < 10000; ++i)
        stream += one;
    const size_t half = one.size() / 2;
    feed_in_pieces(parser, ctx, sink, stream.substr(0, half), half);
    feed_in_pieces(parser, ctx, sink, stream.substr(half), one.size());
    ASSERT_EQ(sink.requests.size(), 10000u);
    EXPECT_EQ(sink.requests.front().body, "hello world");
    EXPECT_EQ(sink.requests.back().body, "hello world");
    EXPECT_LE(ctx.stitch_chunks_mapped(), 3u);
}

TEST(HttpParser, ALongBodyArrivingInManyReadsIsStitchedIntoOneBlock) {
    // 200 KiB announced by Content-Length, received 1 KiB at a time: the request is complete and
    // exact, and the stitch memory is one mapping of its own (no standard chunks piling up).
    Limits limits;
    ParseContext ctx(limits);
    RequestParser parser;
    CollectingSink sink;
    std::string body(200 * 1024, '\0');
    for (size_t i = 0; i < body.size(); ++i)
        body[i] = static_cast<char>('a' + i % 26);
    const std::string request =
        "PUT /file HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    feed_in_pieces(parser, ctx, sink, request, 1024);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].body, body);
    EXPECT_FALSE(parser.mid_request());
    EXPECT_LE(ctx.stitch_chunks_mapped(), 1u);
}

TEST(HttpParser, AHeadArrivingOneByteAtATimeHoldsOneChunk) {
    ParseContext ctx(Limits{});
    RequestParser parser;
    CollectingSink sink;
    std::string request = "GET /slow HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 90; ++i)
        request += "X-Field-" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
    request += "\r\n";
    ASSERT_LT(request.size(), Limits{}.max_head_size);
    feed_in_pieces(parser, ctx, sink, request.substr(0, request.size() - 1), 1);
    EXPECT_TRUE(parser.mid_request());
    EXPECT_EQ(parser.buffered_bytes(), request.size() - 1);
    EXPECT_LE(ctx.stitch_chunks_mapped(), 1u);
    feed_in_pieces(parser, ctx, sink, "\n", 1);
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].headers.size(), 91u);
    EXPECT_EQ(sink.requests[0].headers.back().second, std::string(60, 'v'));
}

TEST(HttpParser, AChunkSizeLineOfEndlessZerosIsCutOffWith400) {
    // Leading zeros are valid hex, but they count towards the chunk-line budget (the head's).
    Limits limits;
    limits.max_head_size = 1024;
    limits.max_body_size = 1024;
    ParseContext ctx(limits);
    RequestParser parser;
    CollectingSink sink;
    const std::string head = "POST /z HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    ASSERT_EQ(parser.feed(ctx, head.data(), head.size(), sink).outcome, Outcome::kNeedMore);
    const std::string zeros(256, '0');
    size_t fed = 0;
    RequestParser::FeedResult r;
    while (fed < 10 * RequestParser::max_stitched_bytes(limits)) {
        r = parser.feed(ctx, zeros.data(), zeros.size(), sink);
        fed += zeros.size();
        if (r.outcome != Outcome::kNeedMore) break;
    }
    EXPECT_EQ(r.outcome, Outcome::kError);
    EXPECT_EQ(r.error_status, 400);
    EXPECT_LE(fed, limits.max_head_size + zeros.size());
    EXPECT_FALSE(parser.mid_request());
    EXPECT_TRUE(sink.requests.empty());
}

// RFC 9112 7.1.1: BWS around ';' and '=', quoted-string values with quoted-pairs (and ';' inside),
// several extensions after token values: all valid, all ignored; the body is the same.
TEST(HttpParser, ChunkExtensionsAreReadByTheRfcGrammar) {
    const std::string head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const char* line :
         {"5", "5;a", "5;a=1;b=2", "5 ;a = 1 ; b", "5\t;\ta\t=\t\"x\"", "5;name=\"a \\\"q\\\"; v\"",
          "5;q=\"\\\t\x80\xff\"", "0005;a=\"\"", "5;a;b;c=\"=;\""}) {
        SCOPED_TRACE(line);
        const Parsed r = replay(head + line + "\r\nhello\r\n0;end\r\n\r\n");
        ASSERT_EQ(r.requests.size(), 1u) << r;
        EXPECT_EQ(r.requests[0].body, "hello");
    }
    for (const char* line : {"",
                             ";a",
                             " 5",
                             "5 ",
                             "5;",
                             "5; ",
                             "5;a=",
                             "5;=1",
                             "5;a=1 ",
                             "5;a b",
                             "5;a=\"x",
                             "5;a=\"x\"y",
                             "5;a=\"\\\x01\"",
                             "5;a=\"\x7f\"",
                             "5;a=\"\r\"",
                             "5;a=b\"c\"",
                             "5;a==1",
                             "x5",
                             "0x5",
                             "+5",
                             "-5",
                             "5;a\x80",
                             "10000000000000000",
                             "5;a=1\n",
                             "5\r"}) {
        SCOPED_TRACE(testing::PrintToString(std::string(line)));
        const Parsed r = replay(head + line + "\r\nhello\r\n0\r\n\r\n");
        EXPECT_EQ(r.outcome, Outcome::kError) << r;
        EXPECT_EQ(r.error_status, 400);
    }
}

TEST(HttpParser, OneByteChunksUpToTheBodyLimitStayWithinTheStitchBound) {
    Limits limits;
    limits.max_body_size = 4096;
    ParseContext ctx(limits);
    RequestParser parser;
    CollectingSink sink;
    std::string request = "POST /z HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t i = 0; i < limits.max_body_size; ++i)
        request += "1\r\nx\r\n";
    request += "0\r\n\r\n";
    for (size_t at = 0; at < request.size(); at += 512) {
        const size_t n = std::min<size_t>(512, request.size() - at);
        ASSERT_EQ(parser.feed(ctx, request.data() + at, n, sink).outcome, Outcome::kNeedMore) << at;
    }
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].body, std::string(limits.max_body_size, 'x'));
}

}  // namespace
}  // namespace nexure::net::http
