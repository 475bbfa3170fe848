// Response compression's rules (net/http/compression.h) on Responses, without sockets: which
// answers qualify (status, type, size, fields, the answer's own override), what the fields
// become (Content-Encoding, Vary merged, weak ETag), and the encoded body decoded by the real
// libraries.
#include "net/http/compression.h"

#include <gtest/gtest.h>

#include <string>

#include "net/http/response_compressor.h"
#include "tests/support/decode.h"

namespace nexure::net::http {
namespace {

std::string text(size_t n) {
    std::string s;
    while (s.size() < n)
        s += "The quick brown fox jumps over the lazy dog. ";
    s.resize(n);
    return s;
}

TEST(CompressionRules, CompressibleTypes) {
    for (const char* t : {"text/html", "text/plain; charset=utf-8", "TEXT/CSS", "application/json",
                          "application/json; charset=utf-8", "application/problem+json",
                          "application/javascript", "application/xml", "image/svg+xml",
                          "application/ld+json", "text/event-stream", "application/wasm"}) {
        EXPECT_TRUE(compressible_type(t)) << t;
    }
    for (const char* t : {"", "image/png", "image/jpeg", "video/mp4", "audio/mpeg",
                          "application/zip", "application/gzip", "application/octet-stream",
                          "font/woff2", "application/pdf", "text"}) {
        EXPECT_FALSE(compressible_type(t)) << t;
    }
}

TEST(CompressionRules, CodingListsParseAndUnknownOnesAreNamed) {
    auto r = parse_codings(" br , GZIP,x-gzip");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(),
              (std::vector<ContentCoding>{ContentCoding::kBrotli, ContentCoding::kGzip}));
    auto bad = parse_codings("gzip, deflate");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find("'deflate'"), std::string::npos) << bad.error().message;
    EXPECT_EQ(codings_text({ContentCoding::kGzip, ContentCoding::kBrotli}), "gzip, br");
    auto z = parse_codings("zstd");
    EXPECT_EQ(z.ok(), compress::built_with(compress::Coding::kZstd));
}

struct ResponseCompressorTest : ::testing::Test {
    ResponseCompressor compressor{1024, compress::Levels{}};
    Response res;
};

TEST_F(ResponseCompressorTest, ABigJsonAnswerIsEncodedWithItsFields) {
    const std::string body = "[" + text(5000) + "]";
    res.type("application/json").header("ETag", "\"v1\"").body(body);
    for (ContentCoding c : {ContentCoding::kGzip, ContentCoding::kBrotli}) {
        const EncodedAnswer* e = compressor.encode(res, c);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->header_lines, "ETag: W/\"v1\"\r\nVary: Accept-Encoding\r\nContent-Encoding: " +
                                       std::string(coding_token(c)) + "\r\n");
        EXPECT_LT(e->body.size(), body.size() / 4);
        EXPECT_EQ(test::decode(coding_token(c), e->body), body);
    }
}

TEST_F(ResponseCompressorTest, IdentityForAQualifyingAnswerAddsOnlyVary) {
    res.type("text/html").header("ETag", "\"v1\"").body(text(4000));
    const EncodedAnswer* e = compressor.encode(res, ContentCoding::kIdentity);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->header_lines, "ETag: \"v1\"\r\nVary: Accept-Encoding\r\n");
    EXPECT_EQ(e->body, res.body_view());
}

TEST_F(ResponseCompressorTest, VaryIsMergedNotRepeated) {
    res.type("text/plain").header("Vary", "Origin").header("X-A", "1").body(text(2000));
    const EncodedAnswer* e = compressor.encode(res, ContentCoding::kGzip);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->header_lines.substr(0, e->header_lines.find("Content-Encoding")),
              "Vary: Origin, Accept-Encoding\r\nX-A: 1\r\n");
    Response r2;
    r2.type("text/plain").header("vary", "accept-encoding, Origin").body(text(2000));
    e = compressor.encode(r2, ContentCoding::kGzip);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->header_lines, "vary: accept-encoding, Origin\r\nContent-Encoding: gzip\r\n");
    Response r3;
    r3.type("text/plain").header("Vary", "*").header("ETag", "W/\"x\"").body(text(2000));
    e = compressor.encode(r3, ContentCoding::kBrotli);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->header_lines, "Vary: *\r\nETag: W/\"x\"\r\nContent-Encoding: br\r\n");
}

TEST_F(ResponseCompressorTest, SmallBodiesAndOtherTypesGoOutAsTheyAre) {
    res.type("application/json").body(text(1023));
    EXPECT_EQ(compressor.encode(res, ContentCoding::kGzip), nullptr);
    res.body(text(1024));
    EXPECT_NE(compressor.encode(res, ContentCoding::kGzip), nullptr);  // the threshold is inclusive
    Response png;
    png.type("image/png").body(text(50000));
    EXPECT_EQ(compressor.encode(png, ContentCoding::kGzip), nullptr);
    Response untyped;
    untyped.body(text(50000));
    EXPECT_EQ(compressor.encode(untyped, ContentCoding::kGzip), nullptr);
}

TEST_F(ResponseCompressorTest, StatusesWithoutABodyOrOfARangeAreNeverEncoded) {
    for (int status : {101, 204, 206, 304}) {
        Response r;
        r.status(status).type("text/plain").body(text(5000));
        EXPECT_EQ(compressor.encode(r, ContentCoding::kGzip), nullptr) << status;
    }
    Response e404;
    e404.status(404).type("text/html").body(text(5000));
    EXPECT_NE(compressor.encode(e404, ContentCoding::kGzip), nullptr);
}

TEST_F(ResponseCompressorTest, AnAnswerEncodedAlreadyOrNoTransformIsLeftAlone) {
    res.type("text/plain").header("Content-Encoding", "gzip").body(text(5000));
    EXPECT_EQ(compressor.encode(res, ContentCoding::kBrotli), nullptr);
    Response r;
    r.type("text/plain").header("Cache-Control", "public, no-transform").body(text(5000));
    EXPECT_EQ(compressor.encode(r, ContentCoding::kBrotli), nullptr);
}

TEST_F(ResponseCompressorTest, TheAnswersOwnOverrideWins) {
    res.type("text/plain").body(text(5000)).compress(false);
    EXPECT_EQ(compressor.encode(res, ContentCoding::kGzip), nullptr);
    Response forced;
    forced.type("application/octet-stream").body(text(100)).compress(true);
    const EncodedAnswer* e = compressor.encode(forced, ContentCoding::kGzip);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(test::decode("gzip", e->body), forced.body_view());
    forced.reset();
    EXPECT_EQ(forced.compression(), Compression::kAuto);
}

TEST_F(ResponseCompressorTest, BytesThatDoNotShrinkAreSentUnencodedWithVary) {
    std::string noise;
    uint32_t x = 1;
    for (int i = 0; i < 8000; ++i) {
        x = x * 1103515245 + 12345;
        noise.push_back(static_cast<char>(x >> 16));
    }
    res.type("text/plain").body(noise);
    const EncodedAnswer* e = compressor.encode(res, ContentCoding::kGzip);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->header_lines, "Vary: Accept-Encoding\r\n");
    EXPECT_EQ(e->body, res.body_view());
}

TEST_F(ResponseCompressorTest, AThousandAnswersMakeOneEncoderPerCoding) {
    res.type("application/json").body(text(3000));
    for (int i = 0; i < 1000; ++i) {
        ASSERT_NE(compressor.encode(res, i % 2 ? ContentCoding::kGzip : ContentCoding::kBrotli),
                  nullptr);
    }
    EXPECT_EQ(compressor.encoders().made(), 2u);
}

}  // namespace
}  // namespace nexure::net::http
