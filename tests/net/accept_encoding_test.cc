// http::choose_coding (net/http/accept_encoding.h): qvalues, the server's order on ties, "*",
// refusals with q=0, several fields, malformed elements skipped, and no field at all.
#include "net/http/accept_encoding.h"

#include <gtest/gtest.h>

#include <string>

#include "net/http/parser.h"

namespace nexure::net::http {
namespace {

constexpr ContentCoding kBrGzip[] = {ContentCoding::kBrotli, ContentCoding::kGzip};
constexpr ContentCoding kAll[] = {ContentCoding::kBrotli, ContentCoding::kZstd,
                                  ContentCoding::kGzip};

ContentCoding pick(std::string_view value, std::span<const ContentCoding> offered = kBrGzip) {
    return choose_coding(value, offered);
}

TEST(AcceptEncoding, TheServersOrderDecidesAmongEqualWeights) {
    EXPECT_EQ(pick("gzip, deflate, br"), ContentCoding::kBrotli);
    EXPECT_EQ(pick("gzip, deflate, br, zstd", kAll), ContentCoding::kBrotli);
    EXPECT_EQ(pick("gzip"), ContentCoding::kGzip);
    EXPECT_EQ(pick("x-gzip"), ContentCoding::kGzip);
    EXPECT_EQ(pick("GZIP, BR"), ContentCoding::kBrotli);
}

TEST(AcceptEncoding, TheClientsHighestWeightWins) {
    EXPECT_EQ(pick("br;q=0.5, gzip"), ContentCoding::kGzip);
    EXPECT_EQ(pick("br;q=0.5, gzip;q=0.4"), ContentCoding::kBrotli);
    EXPECT_EQ(pick("br ; q=0.001 , gzip ; Q=0.002"), ContentCoding::kGzip);
    EXPECT_EQ(pick("zstd;q=1.0, br;q=0.9", kAll), ContentCoding::kZstd);
}

TEST(AcceptEncoding, ZeroRefusesAndStarCoversTheRest) {
    EXPECT_EQ(pick("br;q=0, gzip"), ContentCoding::kGzip);
    EXPECT_EQ(pick("br;q=0, gzip;q=0"), ContentCoding::kIdentity);
    EXPECT_EQ(pick("*"), ContentCoding::kBrotli);
    EXPECT_EQ(pick("*;q=0.5, br;q=0"), ContentCoding::kGzip);
    EXPECT_EQ(pick("*;q=0"), ContentCoding::kIdentity);
    EXPECT_EQ(pick("identity"), ContentCoding::kIdentity);
    EXPECT_EQ(pick("deflate, compress"), ContentCoding::kIdentity);
    EXPECT_EQ(pick(""), ContentCoding::kIdentity);
}

TEST(AcceptEncoding, IdentityCanBeOfferedAndLosesToANamedCoding) {
    constexpr ContentCoding kGzipOrNot[] = {ContentCoding::kIdentity, ContentCoding::kGzip};
    EXPECT_EQ(pick("gzip", kGzipOrNot), ContentCoding::kGzip);
    EXPECT_EQ(pick("gzip;q=0.5, identity", kGzipOrNot), ContentCoding::kIdentity);
}

TEST(AcceptEncoding, MalformedElementsAreSkipped) {
    EXPECT_EQ(pick("br;q=2, gzip"), ContentCoding::kGzip);
    EXPECT_EQ(pick("br;q=0.5x, gzip;q=0.1"), ContentCoding::kGzip);
    EXPECT_EQ(pick("br;q, gzip;q=0.1"), ContentCoding::kGzip);
    EXPECT_EQ(pick("br;q=1.001, gzip;q=0.1"), ContentCoding::kGzip);
    EXPECT_EQ(pick("br;q=0.1234, gzip;q=0.1"), ContentCoding::kGzip);
    EXPECT_EQ(pick(",,, br ,"), ContentCoding::kBrotli);
    EXPECT_EQ(pick("br;level=5"), ContentCoding::kBrotli);  // other parameters are ignored
}

// Parses `request` and asks choose_coding(request, kBrGzip) while the Request is alive.
class Choosing final : public RequestSink {
  public:
    bool on_request(Request& r) noexcept override {
        answer = choose_coding(r, kBrGzip);
        ++requests;
        return true;
    }
    ContentCoding answer = ContentCoding::kIdentity;
    int requests = 0;
};

ContentCoding ask(const std::string& fields) {
    ParseContext ctx(Limits{});
    RequestParser parser;
    Choosing sink;
    const std::string request = "GET /r HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n";
    (void)parser.feed(ctx, request.data(), request.size(), sink);
    EXPECT_EQ(sink.requests, 1);
    return sink.answer;
}

TEST(AcceptEncoding, SeveralFieldsAreOneList) {
    EXPECT_EQ(ask(""), ContentCoding::kIdentity);
    EXPECT_EQ(ask("Accept-Encoding: gzip\r\n"), ContentCoding::kGzip);
    EXPECT_EQ(ask("Accept-Encoding: gzip;q=0.5\r\naccept-encoding: br\r\n"), ContentCoding::kBrotli);
    EXPECT_EQ(ask("Accept-Encoding: br;q=0\r\nAccept-Encoding: gzip\r\n"), ContentCoding::kGzip);
}

TEST(AcceptEncoding, TokensForContentEncoding) {
    EXPECT_EQ(coding_token(ContentCoding::kGzip), "gzip");
    EXPECT_EQ(coding_token(ContentCoding::kBrotli), "br");
    EXPECT_EQ(coding_token(ContentCoding::kZstd), "zstd");
    EXPECT_EQ(coding_token(ContentCoding::kIdentity), "identity");
}

}  // namespace
}  // namespace nexure::net::http
