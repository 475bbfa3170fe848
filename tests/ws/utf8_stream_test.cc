// Utf8Stream (net/ws/utf8_stream.h) against a plain reference decoder written from RFC 3629,
// exhaustively for short sequences, and for text split at every point.
#include "net/ws/utf8_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nexure::net::ws {
namespace {

// Decodes code point by code point (the lead byte says the length, then the value is checked):
// another method than Utf8Stream's state table.
bool reference_valid(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<uint8_t>(s[i]);
        size_t len;
        uint32_t cp;
        if (b < 0x80) {
            ++i;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            len = 2;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto c = static_cast<uint8_t>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

bool stream_valid(const std::string& s) {
    Utf8Stream u;
    return u.feed(s) && u.complete();
}

TEST(WsUtf8, AgreesWithTheReferenceOnEveryOneAndTwoByteString) {
    for (int a = 0; a < 256; ++a) {
        std::string s(1, static_cast<char>(a));
        ASSERT_EQ(stream_valid(s), reference_valid(s)) << a;
        for (int b = 0; b < 256; ++b) {
            std::string t{static_cast<char>(a), static_cast<char>(b)};
            ASSERT_EQ(stream_valid(t), reference_valid(t)) << a << " " << b;
        }
    }
}

TEST(WsUtf8, AgreesWithTheReferenceOnThreeAndFourByteSequences) {
    for (int a = 0xC0; a < 256; ++a)
        for (int b = 0; b < 256; ++b)
            for (int c = 0; c < 256; ++c) {
                std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
                ASSERT_EQ(stream_valid(s), reference_valid(s)) << a << " " << b << " " << c;
            }
    const int edges[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    for (int a = 0xE0; a < 256; ++a)
        for (int b : edges)
            for (int c : edges)
                for (int d : edges) {
                    std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                                  static_cast<char>(d)};
                    ASSERT_EQ(stream_valid(s), reference_valid(s))
                        << a << " " << b << " " << c << " " << d;
                }
}

TEST(WsUtf8, FailsAtTheFirstImpossibleByteWithoutWaitingForTheEnd) {
    Utf8Stream u;
    EXPECT_TRUE(u.feed("abc"));
    EXPECT_TRUE(u.feed("\xED"));    // could still become U+D000..U+D7FF
    EXPECT_FALSE(u.feed("\xA0"));   // a surrogate: no continuation can save it
    EXPECT_FALSE(u.feed("plain"));  // stays false
    EXPECT_FALSE(u.complete());
    EXPECT_TRUE(u.failed());
    u.reset();
    EXPECT_TRUE(u.complete());
    EXPECT_FALSE(u.failed());
    EXPECT_FALSE(u.feed("\xF4\x90"));  // above U+10FFFF
    u.reset();
    EXPECT_FALSE(u.feed("\xE0\x80"));  // overlong
    u.reset();
    EXPECT_FALSE(u.feed("\xC1"));  // overlong lead
    u.reset();
    EXPECT_FALSE(u.feed("\xF5"));  // never in UTF-8
}

TEST(WsUtf8, ACodePointSplitAnywhereIsStillValidAndIncompleteUntilItsLastByte) {
    // ASCII long enough for the 16-byte fast path, then 2-, 3- and 4-byte code points.
    const std::string text =
        "The quick brown fox jumps over the lazy dog: \xC3\xA9t\xC3\xA9, \xE2\x82\xAC 20, "
        "\xF0\x9F\x98\x80 and \xF4\x8F\xBF\xBF, \xEF\xBF\xBF.";
    ASSERT_TRUE(reference_valid(text));
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        Utf8Stream u;
        EXPECT_TRUE(u.feed(text.substr(0, cut))) << cut;
        EXPECT_TRUE(u.feed(text.substr(cut))) << cut;
        EXPECT_TRUE(u.complete()) << cut;
    }
    Utf8Stream bytes;
    for (size_t i = 0; i < text.size(); ++i) {
        ASSERT_TRUE(bytes.feed(text.substr(i, 1)));
        const auto next = i + 1 < text.size() ? static_cast<uint8_t>(text[i + 1]) : 0;
        // Complete exactly where the next byte starts a code point.
        EXPECT_EQ(bytes.complete(), (next & 0xC0) != 0x80) << i;
    }
    Utf8Stream cut_short;
    EXPECT_TRUE(cut_short.feed("\xF0\x9F\x98"));
    EXPECT_FALSE(cut_short.complete());
    EXPECT_FALSE(cut_short.failed());  // cut short, not invalid (yet)
}

TEST(WsUtf8, InvalidBytesAfterLongAsciiRunsAreFound) {
    for (size_t pos = 0; pos < 70; ++pos) {
        std::string s(70, 'a');
        s[pos] = '\xFF';
        Utf8Stream u;
        EXPECT_FALSE(u.feed(s)) << pos;
    }
}

}  // namespace
}  // namespace nexure::net::ws
