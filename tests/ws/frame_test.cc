// Frame headers, masking and close codes (net/ws/frame.h), byte for byte against RFC 6455 §5.
#include "net/ws/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "tests/ws/ws_test_util.h"

namespace nexure::net::ws {
namespace {

TEST(WsFrame, ParsesTheRfcMaskedHelloExample) {
    // RFC 6455 §5.7: a single-frame masked text message "Hello".
    const std::string bytes("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    FrameHeader h;
    ASSERT_EQ(parse_frame_header(bytes, h), HeaderStatus::kComplete);
    EXPECT_TRUE(h.fin);
    EXPECT_FALSE(h.rsv1);
    EXPECT_EQ(h.opcode, Opcode::kText);
    EXPECT_TRUE(h.masked);
    EXPECT_EQ(h.length, 5u);
    EXPECT_EQ(h.header_size, 6);
    std::string payload = bytes.substr(6);
    apply_mask(payload.data(), payload.size(), h.mask, 0);
    EXPECT_EQ(payload, "Hello");
}

TEST(WsFrame, ParsesEveryLengthFormAndRefusesNonMinimalOnes) {
    FrameHeader h;
    // 16-bit length 256, unmasked binary (RFC 6455 §5.7's example).
    EXPECT_EQ(parse_frame_header(std::string("\x82\x7E\x01\x00", 4), h), HeaderStatus::kComplete);
    EXPECT_EQ(h.length, 256u);
    EXPECT_EQ(h.header_size, 4);
    // 64-bit length 65536.
    EXPECT_EQ(parse_frame_header(std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10), h),
              HeaderStatus::kComplete);
    EXPECT_EQ(h.length, 65536u);
    EXPECT_EQ(h.header_size, 10);
    // Not minimal: 125 in the 16-bit form, 65535 in the 64-bit form; the top bit set.
    EXPECT_EQ(parse_frame_header(std::string("\x82\x7E\x00\x7D", 4), h), HeaderStatus::kInvalid);
    EXPECT_EQ(parse_frame_header(std::string("\x82\x7F\x00\x00\x00\x00\x00\x00\xFF\xFF", 10), h),
              HeaderStatus::kInvalid);
    EXPECT_EQ(parse_frame_header(std::string("\x82\x7F\x80\x00\x00\x00\x00\x00\x00\x00", 10), h),
              HeaderStatus::kInvalid);
    // Incomplete at every prefix of a full 14-byte header.
    const std::string full("\x82\xFF\x00\x00\x00\x00\x00\x01\x00\x00\x01\x02\x03\x04", 14);
    for (size_t n = 0; n < full.size(); ++n)
        EXPECT_EQ(parse_frame_header(full.substr(0, n), h), HeaderStatus::kIncomplete) << n;
    ASSERT_EQ(parse_frame_header(full, h), HeaderStatus::kComplete);
    EXPECT_EQ(h.header_size, 14);
    EXPECT_EQ(std::memcmp(&h.mask, "\x01\x02\x03\x04", 4), 0);
}

TEST(WsFrame, ReadsFlagsAndRawOpcodes) {
    FrameHeader h;
    ASSERT_EQ(parse_frame_header(std::string("\x7B\x00", 2), h), HeaderStatus::kComplete);
    EXPECT_FALSE(h.fin);
    EXPECT_TRUE(h.rsv1);
    EXPECT_TRUE(h.rsv2);
    EXPECT_TRUE(h.rsv3);
    EXPECT_EQ(static_cast<int>(h.opcode), 0xB);
    EXPECT_FALSE(h.masked);
}

TEST(WsFrame, WritesHeadersInTheShortestForm) {
    char buf[kMaxHeaderSize];
    EXPECT_EQ(write_frame_header(buf, Opcode::kText, true, false, 5, nullptr), 2u);
    EXPECT_EQ(std::string(buf, 2), std::string("\x81\x05", 2));
    EXPECT_EQ(write_frame_header(buf, Opcode::kBinary, true, true, 126, nullptr), 4u);
    EXPECT_EQ(std::string(buf, 4), std::string("\xC2\x7E\x00\x7E", 4));
    EXPECT_EQ(write_frame_header(buf, Opcode::kBinary, false, false, 65536, nullptr), 10u);
    EXPECT_EQ(std::string(buf, 10), std::string("\x02\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10));
    uint32_t mask;
    std::memcpy(&mask, test::kKey, 4);
    EXPECT_EQ(write_frame_header(buf, Opcode::kPing, true, false, 0, &mask), 6u);
    EXPECT_EQ(std::string(buf, 6), std::string("\x89\x80\x37\xfa\x21\x3d", 6));
    EXPECT_EQ(frame_header_size(125, false), 2u);
    EXPECT_EQ(frame_header_size(65535, true), 8u);
    EXPECT_EQ(frame_header_size(65536, true), 14u);
}

TEST(WsFrame, AppendFrameWritesWholeFramesMaskedOrNot) {
    alloc::ByteBuffer out;
    append_frame(out, Opcode::kText, true, false, "Hello");
    EXPECT_EQ(std::string(out.view()), std::string("\x81\x05Hello", 7));
    out.clear();
    uint32_t mask;
    std::memcpy(&mask, test::kKey, 4);
    append_frame(out, Opcode::kText, true, false, "Hello", &mask);
    EXPECT_EQ(std::string(out.view()),
              std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
    out.clear();
    const std::string big(70000, 'x');
    append_frame(out, Opcode::kBinary, true, false, big);
    EXPECT_EQ(std::string(out.view()), test::server_frame(0x82, big));
}

TEST(WsFrame, ApplyMaskMatchesByteByByteAtEveryOffsetAndLength) {
    const uint32_t mask = 0x9A3C51E7;
    uint8_t key[4];
    std::memcpy(key, &mask, 4);
    std::string plain(300, '\0');
    for (size_t i = 0; i < plain.size(); ++i)
        plain[i] = static_cast<char>(i * 31 + 7);
    for (uint64_t offset = 0; offset < 9; ++offset) {
        for (size_t len : {0, 1, 3, 7, 8, 15, 16, 17, 63, 64, 65, 130, 300}) {
            std::string data = plain.substr(0, len);
            apply_mask(data.data(), data.size(), mask, offset);
            for (size_t i = 0; i < len; ++i)
                ASSERT_EQ(static_cast<uint8_t>(data[i]),
                          static_cast<uint8_t>(plain[i] ^ key[(offset + i) % 4]))
                    << "offset " << offset << " len " << len << " at " << i;
        }
    }
    // A payload unmasked in pieces equals it unmasked whole.
    std::string whole = plain;
    apply_mask(whole.data(), whole.size(), mask, 0);
    std::string pieces = plain;
    size_t at = 0;
    for (size_t n : {1, 2, 5, 13, 64, 29, 186}) {
        apply_mask(pieces.data() + at, n, mask, at);
        at += n;
    }
    ASSERT_EQ(at, pieces.size());
    EXPECT_EQ(pieces, whole);
}

TEST(WsFrame, ValidCloseCodes) {
    for (int c = 0; c < 6000; ++c) {
        const bool expect =
            (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
        EXPECT_EQ(valid_close_code(static_cast<uint16_t>(c)), expect) << c;
    }
    EXPECT_FALSE(valid_close_code(close_code::kNoStatus));
    EXPECT_FALSE(valid_close_code(close_code::kAbnormal));
    EXPECT_FALSE(valid_close_code(1015));
}

}  // namespace
}  // namespace nexure::net::ws
