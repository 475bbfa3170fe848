// ResponseParser: every input is fed whole, split in two at every byte, and one byte at a time;
// all three must report the same responses (status and size on the wire) and the same outcome.
#include "bench/load/response_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace nexure::load {
namespace {

struct Collected final : ResponseSink {
    std::vector<std::pair<int, uint64_t>> responses;
    void on_response(int status, uint64_t bytes) noexcept override {
        responses.emplace_back(status, bytes);
    }
};

struct Outcome {
    std::vector<std::pair<int, uint64_t>> responses;
    bool ok = true;        // no parse error while feeding
    bool finished = true;  // finish() at the end succeeded
    bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    os << "{ok=" << o.ok << " finished=" << o.finished << " responses=[";
    for (const auto& [status, bytes] : o.responses)
        os << status << "/" << bytes << " ";
    return os << "]}";
}

Outcome run(const std::string& stream, const std::vector<size_t>& cuts, bool head,
            bool close_at_end) {
    ResponseParser parser(head);
    Collected sink;
    Outcome out;
    size_t from = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(stream.size());
    for (size_t to : ends) {
        const std::string piece = stream.substr(from, to - from);  // its own copy
        if (!parser.feed(piece.data(), piece.size(), sink)) {
            out.ok = false;
            break;
        }
        from = to;
    }
    if (out.ok && close_at_end) out.finished = parser.finish(sink);
    out.responses = sink.responses;
    return out;
}

// The outcome of `stream`, checked to be the same however it is cut.
Outcome parse(const std::string& stream, bool head = false, bool close_at_end = false) {
    const Outcome whole = run(stream, {}, head, close_at_end);
    for (size_t cut = 1; cut < stream.size(); ++cut) {
        EXPECT_EQ(run(stream, {cut}, head, close_at_end), whole) << "split at " << cut;
    }
    std::vector<size_t> every;
    for (size_t cut = 1; cut < stream.size(); ++cut)
        every.push_back(cut);
    EXPECT_EQ(run(stream, every, head, close_at_end), whole) << "one byte at a time";
    return whole;
}

const std::string kHello =
    "HTTP/1.1 200 OK\r\nServer: NexureJS\r\nDate: Sat, 21 Nov 2026 10:00:00 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

TEST(ResponseParser, PipelinedContentLengthResponsesAreCountedWithTheirSize) {
    const Outcome o = parse(kHello + kHello + kHello);
    EXPECT_TRUE(o.ok);
    ASSERT_EQ(o.responses.size(), 3u);
    for (const auto& [status, bytes] : o.responses) {
        EXPECT_EQ(status, 200);
        EXPECT_EQ(bytes, kHello.size());
    }
}

TEST(ResponseParser, ChunkedBodiesWithExtensionsAndTrailers) {
    const std::string r =
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n";
    const Outcome o = parse(r + kHello);
    EXPECT_TRUE(o.ok);
    ASSERT_EQ(o.responses.size(), 2u);
    EXPECT_EQ(o.responses[0], std::make_pair(201, uint64_t{r.size()}));
    EXPECT_EQ(o.responses[1].first, 200);
}

TEST(ResponseParser, ResponsesWithoutABodyIgnoreTheirLengthFields) {
    const std::string no_content = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
    const std::string not_modified = "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n";
    const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
    const Outcome o = parse(cont + no_content + not_modified + kHello);
    EXPECT_TRUE(o.ok);
    ASSERT_EQ(o.responses.size(), 4u);
    EXPECT_EQ(o.responses[0], std::make_pair(100, uint64_t{cont.size()}));
    EXPECT_EQ(o.responses[1], std::make_pair(204, uint64_t{no_content.size()}));
    EXPECT_EQ(o.responses[2], std::make_pair(304, uint64_t{not_modified.size()}));
}

TEST(ResponseParser, HeadResponsesHaveNoBodyWhateverTheirHeadersSay) {
    const std::string head = kHello.substr(0, kHello.size() - 13);
    const Outcome o = parse(head + head, /*head=*/true);
    EXPECT_TRUE(o.ok);
    ASSERT_EQ(o.responses.size(), 2u);
    EXPECT_EQ(o.responses[1], std::make_pair(200, uint64_t{head.size()}));
}

TEST(ResponseParser, ABodyWithoutLengthRunsUntilTheClose) {
    const std::string r = "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nuntil the end";
    const Outcome o = parse(r, false, /*close_at_end=*/true);
    EXPECT_TRUE(o.ok);
    EXPECT_TRUE(o.finished);
    ASSERT_EQ(o.responses.size(), 1u);
    EXPECT_EQ(o.responses[0], std::make_pair(200, uint64_t{r.size()}));
}

TEST(ResponseParser, AStatusLineWithoutAReasonIsValid) {
    const Outcome o = parse("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n");
    EXPECT_TRUE(o.ok);
    ASSERT_EQ(o.responses.size(), 1u);
    EXPECT_EQ(o.responses[0].first, 404);
}

TEST(ResponseParser, ClosingInsideAResponseIsAnError) {
    const Outcome o = parse(kHello + kHello.substr(0, 30), false, true);
    EXPECT_TRUE(o.ok);
    EXPECT_FALSE(o.finished);
    EXPECT_EQ(o.responses.size(), 1u);
    EXPECT_TRUE(parse(kHello, false, true).finished);  // between responses: fine
}

TEST(ResponseParser, MalformedResponsesAreErrorsAfterWhatCameBefore) {
    const std::vector<std::string> bad = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 20x OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",
    };
    for (const std::string& b : bad) {
        const Outcome o = parse(kHello + b);
        EXPECT_FALSE(o.ok) << b;
        EXPECT_EQ(o.responses.size(), 1u) << b;  // the good one before it still counts
    }
}

TEST(ResponseParser, AnOverlongHeadIsAnError) {
    const std::string huge =
        "HTTP/1.1 200 OK\r\nX-Big: " + std::string(ResponseParser::kMaxHead, 'x') + "\r\n\r\n";
    ResponseParser whole;
    Collected sink;
    EXPECT_FALSE(whole.feed(huge.data(), huge.size(), sink));
    EXPECT_NE(whole.error().find("too long"), std::string::npos) << whole.error();
    ResponseParser pieces;
    bool ok = true;
    for (size_t at = 0; at < huge.size() && ok; at += 1000)
        ok = pieces.feed(huge.data() + at, std::min<size_t>(1000, huge.size() - at), sink);
    EXPECT_FALSE(ok);
    EXPECT_TRUE(sink.responses.empty());
}

}  // namespace
}  // namespace nexure::load

namespace nexure::load {
namespace {

// closes() inside on_response: whether the server ends the connection after that response.
struct CloseCollector final : ResponseSink {
    explicit CloseCollector(const ResponseParser* p) : parser(p) {}
    const ResponseParser* parser;
    std::vector<bool> closes;
    void on_response(int, uint64_t) noexcept override { closes.push_back(parser->closes()); }
};

TEST(ResponseParserClose, ConnectionCloseAndHttp10WithoutKeepAliveEndTheConnection) {
    const std::pair<std::string, bool> cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", true},
        {"HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE \r\nContent-Length: 0\r\n\r\n", true},
        {"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false},
        {"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", false},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", true},
        {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", false},
    };
    for (const auto& [response, closes] : cases) {
        ResponseParser parser;
        CloseCollector sink(&parser);
        // The same response twice in a row: the flag is per response, not sticky.
        const std::string plain = "HTTP/1.1 204 No Content\r\n\r\n";
        const std::string stream = response + plain;
        ASSERT_TRUE(parser.feed(stream.data(), stream.size(), sink)) << parser.error();
        ASSERT_EQ(sink.closes.size(), 2u) << response;
        EXPECT_EQ(sink.closes[0], closes) << response;
        EXPECT_FALSE(sink.closes[1]) << response;
    }
}

}  // namespace
}  // namespace nexure::load
