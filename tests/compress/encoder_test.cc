// nexure::compress: every coding round-trips through the real decoders (whole messages, empty,
// large, incompressible), streamed pieces flushed with kSync decode as they arrive, encoders are
// reused without making new ones, and levels are clamped.
#include "net/compress/encoder.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "net/compress/encoder_pool.h"
#include "tests/support/decode.h"

namespace nexure::compress {
namespace {

std::vector<Coding> built() {
    std::vector<Coding> v{Coding::kGzip, Coding::kBrotli};
    if (built_with(Coding::kZstd)) v.push_back(Coding::kZstd);
    return v;
}

std::string json_like(size_t bytes) {
    std::string s = "[";
    for (int i = 0; s.size() < bytes; ++i) {
        s += "{\"id\":" + std::to_string(i) + ",\"name\":\"user " +
             std::to_string(i * 7919 % 1000) + "\",\"active\":" + (i % 3 ? "true" : "false") + "},";
    }
    s.resize(bytes);
    return s;
}

std::string random_bytes(size_t n) {
    std::mt19937 rng(42);
    std::string s(n, '\0');
    for (char& c : s)
        c = static_cast<char>(rng());
    return s;
}

TEST(CompressCoding, TokensAndAvailability) {
    EXPECT_EQ(token(Coding::kGzip), "gzip");
    EXPECT_EQ(token(Coding::kBrotli), "br");
    EXPECT_EQ(token(Coding::kZstd), "zstd");
    EXPECT_TRUE(built_with(Coding::kGzip));
    EXPECT_TRUE(built_with(Coding::kBrotli));
    EXPECT_EQ(make_encoder(Coding::kZstd, 3) != nullptr, built_with(Coding::kZstd));
}

TEST(CompressEncoder, EveryCodingRoundTripsWholeMessagesOfEverySize) {
    for (Coding c : built()) {
        auto e = make_encoder(c, c == Coding::kBrotli ? 4 : 6);
        ASSERT_TRUE(e) << token(c);
        for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{200 * 1024}, size_t{5 << 20}}) {
            const std::string in = json_like(n);
            alloc::ByteBuffer out;
            ASSERT_TRUE(compress(*e, in, out)) << token(c) << " " << n;
            const auto back = test::decode(token(c), out.view());
            ASSERT_TRUE(back.has_value()) << token(c) << " " << n;
            EXPECT_EQ(*back, in) << token(c) << " " << n;
            if (n >= 100 * 1024) {
                EXPECT_LT(out.size(), n / 4) << token(c) << ": JSON compresses";
            }
        }
    }
}

TEST(CompressEncoder, IncompressibleBytesStillRoundTrip) {
    const std::string in = random_bytes(300 * 1024);
    for (Coding c : built()) {
        auto e = make_encoder(c, 6);
        alloc::ByteBuffer out;
        ASSERT_TRUE(compress(*e, in, out));
        EXPECT_GE(out.size(), in.size() * 99 / 100) << token(c);
        EXPECT_EQ(test::decode(token(c), out.view()), in) << token(c);
    }
}

TEST(CompressEncoder, AnEncoderIsReusedMessageAfterMessage) {
    for (Coding c : built()) {
        auto e = make_encoder(c, 5);
        for (int i = 0; i < 50; ++i) {
            const std::string in = json_like(1000 + static_cast<size_t>(i) * 997);
            alloc::ByteBuffer out;
            ASSERT_TRUE(compress(*e, in, out));
            ASSERT_EQ(test::decode(token(c), out.view()), in) << token(c) << " message " << i;
        }
    }
}

TEST(CompressEncoder, SyncFlushedPiecesDecodeAsTheyArrive) {
    // A streamed response: each piece is flushed, so a client can decode it before the next
    // one comes (Server-Sent Events must not wait in the encoder).
    for (Coding c : built()) {
        auto e = make_encoder(c, 4);
        e->reset(0);
        alloc::ByteBuffer out;
        std::string sent;
        for (int i = 0; i < 20; ++i) {
            const std::string piece = "data: event " + std::to_string(i) + "\n\n";
            sent += piece;
            ASSERT_TRUE(e->write(piece, Flush::kSync, out));
            const auto so_far = test::decode_prefix(token(c), out.view());
            ASSERT_TRUE(so_far.has_value()) << token(c);
            EXPECT_EQ(*so_far, sent) << token(c) << " after piece " << i;
        }
        ASSERT_TRUE(e->write({}, Flush::kFinish, out));
        EXPECT_EQ(test::decode(token(c), out.view()), sent) << token(c);
    }
}

TEST(CompressEncoder, UnflushedWritesThenFinishRoundTrip) {
    for (Coding c : built()) {
        auto e = make_encoder(c, 6);
        e->reset(0);
        alloc::ByteBuffer out;
        const std::string in = json_like(1 << 20);
        for (size_t at = 0; at < in.size(); at += 10000) {
            ASSERT_TRUE(e->write(std::string_view(in).substr(at, 10000), Flush::kNone, out));
        }
        ASSERT_TRUE(e->write({}, Flush::kFinish, out));
        EXPECT_EQ(test::decode(token(c), out.view()), in) << token(c);
    }
}

TEST(CompressEncoder, LevelsAreClampedToTheCodingsRange) {
    EXPECT_EQ(level_range(Coding::kGzip).max, 9);
    EXPECT_EQ(level_range(Coding::kBrotli).max, 11);
    for (Coding c : built()) {
        for (int level : {-5, 0, 100}) {
            auto e = make_encoder(c, level);
            ASSERT_TRUE(e) << token(c) << " " << level;
            alloc::ByteBuffer out;
            const std::string in = json_like(5000);
            ASSERT_TRUE(compress(*e, in, out));
            EXPECT_EQ(test::decode(token(c), out.view()), in);
        }
    }
}

TEST(CompressEncoderPool, OneEncoderPerCodingServesEveryWholeMessage) {
    EncoderPool pool;
    const std::string in = json_like(20000);
    for (int i = 0; i < 100; ++i) {
        for (Coding c : built()) {
            std::unique_ptr<Encoder> e = pool.take(c, in.size());
            ASSERT_TRUE(e);
            alloc::ByteBuffer out;
            ASSERT_TRUE(e->write(in, Flush::kFinish, out));
            if (i % 25 == 0) {
                EXPECT_EQ(test::decode(token(c), out.view()), in);
            }
            pool.give(std::move(e));
        }
    }
    EXPECT_EQ(pool.made(), built().size());
}

TEST(CompressEncoderPool, KeepsAtMostAFewIdleEncodersPerCoding) {
    EncoderPool pool;
    std::vector<std::unique_ptr<Encoder>> held;
    for (int i = 0; i < 10; ++i)
        held.push_back(pool.take(Coding::kGzip, 0));
    EXPECT_EQ(pool.made(), 10u);
    for (auto& e : held)
        pool.give(std::move(e));
    // The first kKeepPerCoding came back from the pool, the rest are new.
    for (int i = 0; i < 10; ++i)
        held[static_cast<size_t>(i)] = pool.take(Coding::kGzip, 0);
    EXPECT_EQ(pool.made(), 10u + 10u - EncoderPool::kKeepPerCoding);
}

}  // namespace
}  // namespace nexure::compress
