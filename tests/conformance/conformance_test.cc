// RFC 9110/9112 conformance. Every case in tests/conformance/cases (format: README.md there) is
// replayed
//   - against RequestParser, whole, split in two at every byte boundary and one byte per feed:
//     all three must give the statuses and connection outcome the case expects;
//   - once, whole, against an in-process nexure::net::Server on 127.0.0.1 over a real socket:
//     the statuses on the wire and whether the server closed the connection must match too.
// Every network wait is bounded (2 s), so a server that hangs fails the case instead of the run.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/parser.h"
#include "net/server.h"
#include "tests/conformance/case_file.h"
#include "tests/conformance/conformance_routes.h"
#include "tests/support/http_client.h"
#include "tests/support/io_uring_probe.h"

#ifndef NEXURE_CONFORMANCE_CASES
#error "NEXURE_CONFORMANCE_CASES must name the cases directory (tests/CMakeLists.txt sets it)"
#endif

namespace nexure::test::conformance {

// Test parameters print as their case name (found by argument-dependent lookup).
void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name;
}

namespace {

using namespace std::chrono_literals;
using net::http::ParseContext;
using net::http::RequestParser;

constexpr std::chrono::milliseconds kWireTimeout{2000};

struct Loaded {
    std::vector<Case> cases;
    std::vector<std::string> errors;
};

const Loaded& loaded() {
    static const Loaded l = [] {
        Loaded out;
        out.cases = load_cases(NEXURE_CONFORMANCE_CASES, &out.errors);
        return out;
    }();
    return l;
}

// The bytes of a case as they would be written in a case file (for failure messages).
std::string escaped(std::string_view bytes) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        switch (c) {
            case '\r':
                out += "\\r";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\\':
                out += "\\\\";
                break;
            default:
                if (c < 0x20 || c > 0x7e) {
                    out += "\\x";
                    out += kHex[c >> 4];
                    out += kHex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out;
}

std::string describe(const Case& c) {
    std::ostringstream os;
    os << c.path << "\n";
    for (const std::string& r : c.rfc)
        os << "  rfc: " << r << "\n";
    os << "  bytes: " << escaped(c.bytes);
    return os.str();
}

// ---------------------------------------------------------------------------------------------
// The parser alone

// Records each delivered request and, like the server, stops after one that ends the connection.
class RecordingSink final : public net::http::RequestSink {
  public:
    std::vector<bool> head;  // per delivered request: it was a HEAD request

    bool on_request(net::http::Request& r) noexcept override {
        head.push_back(r.method() == net::http::Method::kHead);
        return r.keep_alive();
    }
};

struct ParserRun {
    std::vector<int> statuses;  // 200 for each delivered request, then the error status if any
    std::vector<bool> head;     // per status: the request was HEAD
    std::string outcome;        // "close", "keep-alive", or "incomplete" (waits for more bytes)

    std::string text() const {
        std::string s;
        for (int status : statuses)
            s += std::to_string(status) + " ";
        return s + outcome;
    }
};

// Feeds the pieces in order, each from its own heap copy scribbled over as soon as feed()
// returns, so that a parser keeping a view into bytes it was only lent delivers garbage.
ParserRun run_parser(const std::vector<std::string_view>& pieces,
                     const net::http::Limits& limits = {}) {
    ParseContext ctx{limits};
    RequestParser parser;
    RecordingSink sink;
    RequestParser::FeedResult last;
    for (std::string_view piece : pieces) {
        auto copy = std::make_unique<char[]>(piece.size() + 1);
        std::memcpy(copy.get(), piece.data(), piece.size());
        last = parser.feed(ctx, copy.get(), piece.size(), sink);
        std::memset(copy.get(), '#', piece.size());
        if (last.outcome != RequestParser::Outcome::kNeedMore) break;
    }
    ParserRun run;
    run.head = sink.head;
    run.statuses.assign(sink.head.size(), 200);
    switch (last.outcome) {
        case RequestParser::Outcome::kError:
            run.statuses.push_back(last.error_status);
            run.head.push_back(last.head_request);
            run.outcome = "close";
            break;
        case RequestParser::Outcome::kStopped:
            run.outcome = "close";
            break;
        case RequestParser::Outcome::kNeedMore:
            run.outcome = parser.mid_request() ? "incomplete" : "keep-alive";
            break;
    }
    parser.reset(ctx);
    return run;
}

// The expectation as the parser alone reports it: a request that reached the application or the
// router is "200" whatever status they then chose. That is every 2xx, and every status that is
// not the last one or is followed by keep-alive (the engine closes after its own errors), such
// as the router's 501 for a method it does not route.
std::string parser_view(const Expectation& e) {
    Expectation p = e;
    for (size_t i = 0; i < p.statuses.size(); ++i) {
        if (p.statuses[i] < 300 || i + 1 < p.statuses.size() || !p.close) p.statuses[i] = 200;
    }
    return to_string(p);
}

class ConformanceParser : public ::testing::TestWithParam<Case> {};

TEST_P(ConformanceParser, WholeSplitAndByteByByte) {
    const Case& c = GetParam();
    const std::string_view bytes = c.bytes;
    const ParserRun whole = run_parser({bytes});
    EXPECT_EQ(whole.text(), parser_view(c.expect)) << describe(c);
    for (size_t i = 1; i < bytes.size(); ++i) {
        const ParserRun split = run_parser({bytes.substr(0, i), bytes.substr(i)});
        if (split.text() != whole.text()) {
            ADD_FAILURE() << "split at byte " << i << " ('" << escaped(bytes.substr(0, i))
                          << "' | '" << escaped(bytes.substr(i)) << "'): " << split.text()
                          << ", whole: " << whole.text() << "\n"
                          << describe(c);
            break;  // one report is enough
        }
    }
    std::vector<std::string_view> one_by_one;
    for (size_t i = 0; i < bytes.size(); ++i)
        one_by_one.push_back(bytes.substr(i, 1));
    const ParserRun bytewise = run_parser(one_by_one);
    EXPECT_EQ(bytewise.text(), whole.text()) << "one byte per feed\n" << describe(c);
}

// Replays `bytes` whole, split at every byte boundary and one byte per feed; all three must give
// `expected` ("200 413 close").
void expect_everywhere(std::string_view bytes, const std::string& expected,
                       const net::http::Limits& limits) {
    EXPECT_EQ(run_parser({bytes}, limits).text(), expected) << "whole: " << escaped(bytes);
    for (size_t i = 1; i < bytes.size(); ++i) {
        const ParserRun split = run_parser({bytes.substr(0, i), bytes.substr(i)}, limits);
        if (split.text() != expected) {
            ADD_FAILURE() << "split at byte " << i << ": " << split.text() << "\n"
                          << escaped(bytes);
            break;
        }
    }
    std::vector<std::string_view> one_by_one;
    for (size_t i = 0; i < bytes.size(); ++i)
        one_by_one.push_back(bytes.substr(i, 1));
    EXPECT_EQ(run_parser(one_by_one, limits).text(), expected) << "one byte per feed";
}

// The parts of a chunked body that are not data have budgets of their own, so that they cannot
// pile up in a request that spans reads (these need limits smaller than the defaults the case
// files run with).

// RFC 9112 §7.1.1: "A server ought to limit the total length of chunk extensions received in a
// request to an amount reasonable for the services provided ... and generate an appropriate 4xx
// (Client Error) response if that amount is exceeded." The budget is the head's, for all chunks;
// a chunk-size line beyond it is malformed (400), not a large body.
TEST(ConformanceLimits, ChunkExtensionsOverTheHeadBudgetAre400) {
    net::http::Limits limits;
    limits.max_head_size = 256;
    const std::string head = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string ext = ";name=" + std::string(100, 'v');
    expect_everywhere(head + "1" + ext + "\r\na\r\n1" + ext + "\r\nb\r\n0\r\n\r\n",
                      "200 keep-alive", limits);
    expect_everywhere(
        head + "1" + ext + "\r\na\r\n1" + ext + "\r\nb\r\n1" + ext + "\r\nc\r\n0\r\n\r\n",
        "400 close", limits);
    // One line over the budget is answered before it ends.
    expect_everywhere(head + "1;name=" + std::string(300, 'v'), "400 close", limits);
}

// Trailer fields are not kept, but they are counted: as many fields and bytes as a head may have,
// and not against the head's own budget (the body comes in between).
TEST(ConformanceLimits, TrailerFieldsHaveABudgetOfTheirOwn) {
    net::http::Limits limits;
    limits.max_head_size = 128;
    limits.max_header_count = 3;
    const std::string head = "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string body = "c8\r\n" + std::string(200, 'd') + "\r\n0\r\n";
    expect_everywhere(head + body + "T1: 1\r\nT2: 2\r\nT3: 3\r\n\r\n", "200 keep-alive", limits);
    expect_everywhere(head + body + "T1: 1\r\nT2: 2\r\nT3: 3\r\nT4: 4\r\n\r\n", "431 close",
                      limits);
    expect_everywhere(head + body + "T: " + std::string(130, 't') + "\r\n\r\n", "431 close",
                      limits);
}

// ---------------------------------------------------------------------------------------------
// A live server

class ConformanceServer : public ::testing::TestWithParam<Case> {
  protected:
    static void SetUpTestSuite() {
        net::ServerConfig config;
        config.host = "127.0.0.1";
        config.port = 0;
        config.threads = 1;
        config.pin_threads = false;
        config.recv_buffer_count = 64;
        config.send_buffer_count = 32;
        config.max_connections_per_worker = 256;
        config.idle_timeout_ms = 10'000;  // longer than any wait here: a hang shows as "open"
        config.linger_timeout_ms = 500;
        config.drain_timeout_ms = 1000;
        server_ = new net::Server(config);
        add_conformance_routes(*server_);
        const Result<void> r = server_->start();
        if (!r) {
            start_error_ = new std::string(r.error().message);
            delete server_;
            server_ = nullptr;
        }
    }

    static void TearDownTestSuite() {
        if (server_ != nullptr) {
            server_->stop();
            server_->wait();
            delete server_;
            server_ = nullptr;
        }
        delete start_error_;
        start_error_ = nullptr;
    }

    void SetUp() override {
        NEXURE_SKIP_WITHOUT_IO_URING();
        if (server_ == nullptr) {
            FAIL() << "the server did not start: "
                   << (start_error_ != nullptr ? *start_error_ : "not started");
        }
    }

    static net::Server* server_;
    static std::string* start_error_;
};

net::Server* ConformanceServer::server_ = nullptr;
std::string* ConformanceServer::start_error_ = nullptr;

TEST_P(ConformanceServer, OverTheWire) {
    const Case& c = GetParam();
    // Which responses answer HEAD requests (those carry no body): as the parser saw the requests.
    const std::vector<bool> head = run_parser({c.bytes}).head;

    HttpClient client;
    ASSERT_TRUE(client.connect(server_->port()));
    const ::testing::AssertionResult sent = client.send_all(c.bytes);
    std::vector<int> statuses;
    const Deadline deadline = deadline_in(kWireTimeout);
    while (statuses.size() < c.expect.statuses.size()) {
        Response r;
        const bool is_head = statuses.size() < head.size() && head[statuses.size()];
        if (!client.read_response(&r, deadline, is_head)) break;
        if (r.status >= 200) statuses.push_back(r.status);  // skip 100 Continue
    }

    std::string outcome;
    if (c.expect.close) {
        outcome = client.detect_peer_closed(deadline_in(kWireTimeout)) ? "close" : "open";
    } else {
        // Still open and in step: a further request gets its own answer.
        Response probe;
        const bool answered =
            client.send_all("GET /conformance-probe HTTP/1.1\r\nHost: probe\r\n\r\n") &&
            client.read_response(&probe, deadline_in(kWireTimeout));
        if (answered && probe.status == 200) {
            outcome = "keep-alive";
        } else {
            outcome = client.detect_peer_closed(deadline_in(kWireTimeout)) ? "close" : "open";
        }
    }
    std::string got;
    for (int status : statuses)
        got += std::to_string(status) + " ";
    got += outcome;
    EXPECT_EQ(got, to_string(c.expect)) << (sent ? "" : "(sending failed part-way) ") << "unread: '"
                                        << escaped(client.pending()) << "'\n"
                                        << describe(c);
    EXPECT_TRUE(client.pending().empty())
        << "bytes after the expected responses: '" << escaped(client.pending()) << "'\n"
        << describe(c);
}

// ---------------------------------------------------------------------------------------------

TEST(ConformanceCases, EveryFileLoadsAndCitesTheRfc) {
    for (const std::string& e : loaded().errors)
        ADD_FAILURE() << e;
    EXPECT_GE(loaded().cases.size(), 60u) << "cases in " << NEXURE_CONFORMANCE_CASES;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    std::string name = info.param.name;
    for (char& ch : name) {
        if (ch == '-') ch = '_';
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceParser, ::testing::ValuesIn(loaded().cases), case_name);
INSTANTIATE_TEST_SUITE_P(Cases, ConformanceServer, ::testing::ValuesIn(loaded().cases), case_name);

}  // namespace
}  // namespace nexure::test::conformance
