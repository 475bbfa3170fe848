// permessage-deflate (net/ws/deflate.h): RFC 7692 negotiation, and the compressor and
// decompressor against zlib used directly the way a client does.
#include "net/ws/deflate.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/ws/ws_test_util.h"

namespace nexure::net::ws {
namespace {

DeflateOptions enabled() {
    DeflateOptions o;
    o.enabled = true;
    return o;
}

TEST(WsDeflateNegotiation, DisabledOrNotOfferedMeansNoCompression) {
    std::string response = "left over";
    EXPECT_FALSE(negotiate_deflate("permessage-deflate", DeflateOptions{}, response));
    EXPECT_EQ(response, "");
    EXPECT_FALSE(negotiate_deflate("", enabled(), response));
    EXPECT_FALSE(negotiate_deflate("x-webkit-deflate-frame", enabled(), response));
}

TEST(WsDeflateNegotiation, PlainOfferWithTheDefaultOptions) {
    std::string response;
    auto p = negotiate_deflate("permessage-deflate", enabled(), response);
    ASSERT_TRUE(p);
    // The default options reset the server's compressor after every message.
    EXPECT_EQ(response, "permessage-deflate; server_no_context_takeover");
    EXPECT_TRUE(p->server_no_context_takeover);
    EXPECT_FALSE(p->client_no_context_takeover);
    EXPECT_EQ(p->server_max_window_bits, 15);
    EXPECT_EQ(p->client_max_window_bits, 15);
    EXPECT_EQ(p->level, 1);
    EXPECT_EQ(p->min_size, 64u);
}

TEST(WsDeflateNegotiation, ContextTakeoverBothWays) {
    DeflateOptions o = enabled();
    o.server_no_context_takeover = false;
    std::string response;
    auto p = negotiate_deflate("permessage-deflate", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate");
    EXPECT_FALSE(p->server_no_context_takeover);
    // The client asks for it: granted even when the server would keep its context.
    p = negotiate_deflate("permessage-deflate; server_no_context_takeover", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; server_no_context_takeover");
    EXPECT_TRUE(p->server_no_context_takeover);
    // client_no_context_takeover: offered by the client, or asked by the server.
    p = negotiate_deflate("permessage-deflate; client_no_context_takeover", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; client_no_context_takeover");
    EXPECT_TRUE(p->client_no_context_takeover);
    o.client_no_context_takeover = true;
    p = negotiate_deflate("permessage-deflate", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; client_no_context_takeover");
    EXPECT_TRUE(p->client_no_context_takeover);
}

TEST(WsDeflateNegotiation, WindowBits) {
    DeflateOptions o = enabled();
    o.server_no_context_takeover = false;
    std::string response;
    // client_max_window_bits without a value: the server may name one, and names none.
    auto p = negotiate_deflate("permessage-deflate; client_max_window_bits", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate");
    EXPECT_EQ(p->client_max_window_bits, 15);
    // With a value: answered back, and the server inflates with that window.
    p = negotiate_deflate("permessage-deflate; client_max_window_bits=10", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; client_max_window_bits=10");
    EXPECT_EQ(p->client_max_window_bits, 10);
    // server_max_window_bits: the smaller of the client's and the server's.
    p = negotiate_deflate("permessage-deflate; server_max_window_bits=12", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=12");
    EXPECT_EQ(p->server_max_window_bits, 12);
    EXPECT_TRUE(p->server_compresses());
    o.server_max_window_bits = 10;
    p = negotiate_deflate("permessage-deflate; server_max_window_bits=12", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=10");
    // Not offered: the server still says when it uses less than 15.
    p = negotiate_deflate("permessage-deflate", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=10");
    // The server's own 8 is zlib's 9.
    o.server_max_window_bits = 8;
    p = negotiate_deflate("permessage-deflate", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 9);
    EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=9");
    // A client asking for 8: accepted, and the server then sends uncompressed.
    o.server_max_window_bits = 15;
    p = negotiate_deflate("permessage-deflate; server_max_window_bits=8", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(response, "permessage-deflate; server_max_window_bits=8");
    EXPECT_FALSE(p->server_compresses());
    // Quoted values are tokens too.
    p = negotiate_deflate("permessage-deflate; client_max_window_bits=\"9\"", o, response);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->client_max_window_bits, 9);
}

TEST(WsDeflateNegotiation, BadOffersAreSkippedForTheNextOne) {
    DeflateOptions o = enabled();
    o.server_no_context_takeover = false;
    std::string response;
    for (const char* bad : {
             "permessage-deflate; server_max_window_bits",    // needs a value
             "permessage-deflate; server_max_window_bits=7",  // out of range
             "permessage-deflate; server_max_window_bits=16",
             "permessage-deflate; server_max_window_bits=010",  // leading zero
             "permessage-deflate; client_max_window_bits=abc",
             "permessage-deflate; server_no_context_takeover=1",  // takes no value
             "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
             "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
             "permessage-deflate; unknown_parameter",
             "permessage-deflate; ",
         }) {
        EXPECT_FALSE(negotiate_deflate(bad, o, response)) << bad;
        EXPECT_EQ(response, "") << bad;
        // The same bad offer first, then a good one: the good one is taken.
        std::string both = std::string(bad) + ", permessage-deflate; client_max_window_bits=11";
        auto p = negotiate_deflate(both, o, response);
        ASSERT_TRUE(p) << both;
        EXPECT_EQ(p->client_max_window_bits, 11) << both;
        EXPECT_EQ(response, "permessage-deflate; client_max_window_bits=11") << both;
    }
    // Other extensions before it are passed over; parameter names are case-insensitive.
    auto p =
        negotiate_deflate("foo; bar=1, Permessage-Deflate;Server_No_Context_Takeover", o, response);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->server_no_context_takeover);
}

TEST(WsDeflater, MessagesInflateWithZlibWithAndWithoutContextTakeover) {
    const std::string messages[] = {
        std::string(1000, 'a'),
        "{\"type\":\"update\",\"id\":12345,\"values\":[1,2,3,4,5,6,7,8,9,10]}",
        "{\"type\":\"update\",\"id\":12346,\"values\":[1,2,3,4,5,6,7,8,9,10]}",
        std::string(200000, 'z') + "end",
    };
    for (bool takeover : {true, false}) {
        Deflater d;
        ASSERT_TRUE(d.init(1, 15, !takeover));
        test::ClientInflate client;
        size_t second_size = 0;
        for (size_t i = 0; i < std::size(messages); ++i) {
            alloc::ByteBuffer out;
            out.append("prefix");  // compress() appends
            ASSERT_TRUE(d.compress(messages[i], out));
            const std::string compressed(out.view().substr(6));
            ASSERT_GE(compressed.size(), 1u);
            if (i == 2) second_size = compressed.size();
            bool ok = false;
            EXPECT_EQ(client.inflate(compressed, ok), messages[i]) << i << " " << takeover;
            EXPECT_TRUE(ok);
        }
        // With context takeover the third message refers back to the second: it is smaller.
        Deflater fresh;
        ASSERT_TRUE(fresh.init(1, 15, true));
        alloc::ByteBuffer alone;
        ASSERT_TRUE(fresh.compress(messages[2], alone));
        if (takeover)
            EXPECT_LT(second_size, alone.size());
        else
            EXPECT_EQ(second_size, alone.size());
    }
}

TEST(WsDeflater, EmptyMessageIsOneZeroByte) {
    // RFC 7692 §7.2.3.6: an empty message compresses to 0x00.
    Deflater d;
    ASSERT_TRUE(d.init(1, 15, true));
    alloc::ByteBuffer out;
    ASSERT_TRUE(d.compress("", out));
    EXPECT_EQ(std::string(out.view()), std::string(1, '\0'));
}

TEST(WsDeflater, RfcExampleHelloCompressesAndInflates) {
    // RFC 7692 §7.2.3.1: "Hello" compressed is f2 48 cd c9 c9 07 00.
    Inflater in;
    ASSERT_TRUE(in.init(15, false));
    std::string out;
    EXPECT_EQ(in.inflate(std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7), 100, out),
              Inflater::Status::kOk);
    EXPECT_EQ(out, "Hello");
    // §7.2.3.2: the same message again with context takeover refers to the first.
    out.clear();
    EXPECT_EQ(in.inflate(std::string("\xf2\x00\x11\x00\x00", 5), 100, out), Inflater::Status::kOk);
    EXPECT_EQ(out, "Hello");
}

TEST(WsInflater, InflatesZlibOutputWithAndWithoutContextTakeover) {
    for (bool takeover : {true, false}) {
        test::ClientDeflate client(takeover ? 15 : 15);
        Inflater in;
        ASSERT_TRUE(in.init(15, !takeover));
        for (int i = 0; i < 5; ++i) {
            const std::string msg = "message number " + std::to_string(i) + std::string(300, 'q');
            const std::string compressed = client.compress(msg, !takeover);
            std::string out = "x";  // inflate() appends
            ASSERT_EQ(in.inflate(compressed, 1 << 20, out), Inflater::Status::kOk);
            EXPECT_EQ(out, "x" + msg);
        }
    }
}

TEST(WsInflater, AZipBombStopsAtTheLimit) {
    test::ClientDeflate client;
    const std::string huge(10 << 20, 'A');  // 10 MiB of one byte: ~10 KiB compressed
    const std::string compressed = client.compress(huge);
    ASSERT_LT(compressed.size(), 20000u);
    Inflater in;
    ASSERT_TRUE(in.init(15, true));
    std::string out;
    EXPECT_EQ(in.inflate(compressed, 1 << 20, out), Inflater::Status::kTooBig);
    EXPECT_EQ(out.size(), 0u);  // nothing kept
    // Never grown far past the limit (std::string may round its capacity up to twice the last).
    EXPECT_LE(out.capacity(), 2 * ((1u << 20) + 1));
    // Exactly at the limit is fine.
    test::ClientDeflate again;
    const std::string exact(4096, 'B');
    out.clear();
    EXPECT_EQ(in.inflate(again.compress(exact), 4096, out), Inflater::Status::kOk);
    EXPECT_EQ(out, exact);
    test::ClientDeflate over;
    out.clear();
    EXPECT_EQ(in.inflate(over.compress(exact), 4095, out), Inflater::Status::kTooBig);
}

TEST(WsInflater, CorruptDataIsReportedAndTheContextStartsOver) {
    Inflater in;
    ASSERT_TRUE(in.init(15, false));
    std::string out;
    // Block type 3 is reserved: invalid deflate data.
    EXPECT_EQ(in.inflate(std::string("\xff\xff\xff", 3), 1000, out), Inflater::Status::kCorrupt);
    EXPECT_EQ(out, "");
    EXPECT_EQ(in.inflate(std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7), 100, out),
              Inflater::Status::kOk);
    EXPECT_EQ(out, "Hello");
}

TEST(WsInflater, SmallWindowAsNegotiated) {
    test::ClientDeflate client(9);
    Inflater in;
    ASSERT_TRUE(in.init(9, false));
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += "line " + std::to_string(i * 7919 % 1000) + "\n";
    std::string out;
    ASSERT_EQ(in.inflate(client.compress(text), 1 << 20, out), Inflater::Status::kOk);
    EXPECT_EQ(out, text);
}

TEST(WsInflater, AnEightBitWindowReadsWhatZlibCompressesForIt) {
    // zlib's raw deflate has no 256-byte window: a client asked for 8 compresses with 9 (whose
    // matches reach at most 250 bytes back). With context takeover the second message is a
    // back-reference into the first.
    const std::string first = "0123456789abcdefghijklmnopqrstuv" + std::string(200, 'x');
    const std::string second = "0123456789abcdefghijklmnopqrstuv";  // 232 bytes back
    test::ClientDeflate client(9);
    const std::string c1 = client.compress(first);
    const std::string c2 = client.compress(second);
    ASSERT_LT(c2.size(), 12u);  // a back-reference, not the 32 bytes again
    Inflater in;
    ASSERT_TRUE(in.init(8, false));
    std::string out;
    ASSERT_EQ(in.inflate(c1, 1 << 20, out), Inflater::Status::kOk);
    EXPECT_EQ(out, first);
    out.clear();
    ASSERT_EQ(in.inflate(c2, 1 << 20, out), Inflater::Status::kOk);
    EXPECT_EQ(out, second);
}

}  // namespace
}  // namespace nexure::net::ws
