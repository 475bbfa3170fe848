// http::not_modified (net/http/conditional.h): If-None-Match read by RFC 9110 13.1.2 — weak
// comparison, lists, "*", several fields — for GET and HEAD only, and malformed values ignored.
#include "net/http/conditional.h"

#include <gtest/gtest.h>

#include <string>

#include "net/http/parser.h"

namespace nexure::net::http {
namespace {

// Parses `request` and asks not_modified(request, etag) while the Request is alive.
class Asking final : public RequestSink {
  public:
    explicit Asking(std::string_view etag) : etag_(etag) {}
    bool on_request(Request& r) noexcept override {
        answer = not_modified(r, etag_);
        ++requests;
        return true;
    }
    bool answer = false;
    int requests = 0;

  private:
    std::string_view etag_;
};

bool ask(const std::string& fields, std::string_view etag, std::string_view method = "GET") {
    ParseContext ctx(Limits{});
    RequestParser parser;
    Asking sink(etag);
    const std::string request =
        std::string(method) + " /r HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n";
    const RequestParser::FeedResult r = parser.feed(ctx, request.data(), request.size(), sink);
    EXPECT_EQ(r.outcome, RequestParser::Outcome::kNeedMore);
    EXPECT_EQ(sink.requests, 1);
    return sink.answer;
}

TEST(NotModified, TheClientsTagMatchesByWeakComparison) {
    EXPECT_TRUE(ask("If-None-Match: \"v1\"\r\n", "\"v1\""));
    EXPECT_TRUE(ask("If-None-Match: W/\"v1\"\r\n", "\"v1\""));
    EXPECT_TRUE(ask("If-None-Match: \"v1\"\r\n", "W/\"v1\""));
    EXPECT_FALSE(ask("If-None-Match: \"v2\"\r\n", "\"v1\""));
    EXPECT_FALSE(ask("If-None-Match: \"V1\"\r\n", "\"v1\""));  // opaque tags are case-sensitive
}

TEST(NotModified, ListsStarsAndSeveralFields) {
    EXPECT_TRUE(ask("If-None-Match: \"a\", W/\"v1\" ,\"b\"\r\n", "\"v1\""));
    EXPECT_FALSE(ask("If-None-Match: \"a\", \"b\"\r\n", "\"v1\""));
    EXPECT_TRUE(ask("If-None-Match: *\r\n", "\"anything\""));
    EXPECT_TRUE(ask("If-None-Match: \"a\"\r\nIf-None-Match: \"v1\"\r\n", "\"v1\""));
}

TEST(NotModified, OnlyGetAndHeadWithAValidFieldAndTag) {
    EXPECT_TRUE(ask("If-None-Match: \"v1\"\r\n", "\"v1\"", "HEAD"));
    EXPECT_FALSE(ask("If-None-Match: \"v1\"\r\nContent-Length: 0\r\n", "\"v1\"", "PUT"));
    EXPECT_FALSE(ask("", "\"v1\""));                                 // no If-None-Match
    EXPECT_FALSE(ask("If-None-Match: v1\r\n", "\"v1\""));            // not an entity-tag
    EXPECT_FALSE(ask("If-None-Match: \"v1\r\n", "\"v1\""));          // unterminated
    EXPECT_FALSE(ask("If-None-Match: \"a\" \"v1\"\r\n", "\"v1\""));  // no comma: malformed
    EXPECT_FALSE(ask("If-None-Match: *, \"v1\"\r\n", "\"v1\""));     // "*" stands alone
    EXPECT_FALSE(ask("If-None-Match: \"v1\"\r\n", "v1"));            // the server's tag is no tag
}

}  // namespace
}  // namespace nexure::net::http
