// Protocol (net/ws/protocol.h): every rule of RFC 6455 and RFC 7692 a server keeps, with raw
// client frames in and the exact frames the server queues out; and whole streams replayed at
// every split point.
#include "net/ws/protocol.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/ws/ws_test_util.h"

namespace nexure::net::ws {
namespace {

using test::client_frame;
using test::close_payload;
using test::Outcome;
using test::server_frame;
using Events = std::vector<std::string>;

// Client frame first bytes.
constexpr uint8_t kText = 0x81, kBinary = 0x82, kTextMore = 0x01, kBinaryMore = 0x02;
constexpr uint8_t kCont = 0x80, kContMore = 0x00, kClose = 0x88, kPing = 0x89, kPong = 0x8A;
constexpr uint8_t kTextDeflated = 0xC1, kTextDeflatedMore = 0x41;

std::unique_ptr<Protocol> make(size_t max_payload = 1 << 20, const DeflateParams* deflate = nullptr,
                               Deflater* shared = nullptr) {
    auto p = std::make_unique<Protocol>();
    Limits limits;
    limits.max_payload = max_payload;
    EXPECT_TRUE(p->init(limits, deflate, shared));
    return p;
}

Outcome run(std::string_view stream, size_t max_payload = 1 << 20,
            const DeflateParams* deflate = nullptr) {
    auto p = make(max_payload, deflate);
    return test::feed_in_pieces(*p, stream, {});
}

std::string close_frame(uint16_t code, std::string_view reason = {}) {
    return server_frame(0x88, close_payload(code, reason));
}

TEST(WsProtocol, MaskedTextAndBinaryMessages) {
    const Outcome r =
        run(client_frame(kText, "Hello") + client_frame(kBinary, std::string("\0\1\2", 3)) +
            client_frame(kText, ""));
    EXPECT_EQ(r.events, (Events{"text:Hello", std::string("binary:\0\1\2", 10), "text:"}));
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.last, Protocol::Feed::kOpen);
}

TEST(WsProtocol, AWholeMessageIsDeliveredFromTheCallersBufferWithoutACopy) {
    struct PointerSink : test::RecordingSink {
        void on_message(std::string_view payload, bool binary) override {
            at = payload.data();
            RecordingSink::on_message(payload, binary);
        }
        const char* at = nullptr;
    } sink;
    auto p = make();
    std::string stream = client_frame(kBinary, std::string(1000, 'b'));
    alloc::ByteBuffer out;
    ASSERT_EQ(p->feed(stream.data(), stream.size(), sink, out), Protocol::Feed::kOpen);
    ASSERT_EQ(sink.events.size(), 1u);
    EXPECT_EQ(sink.at, stream.data() + 8);  // unmasked in place, after the 8-byte header
    EXPECT_EQ(p->buffered(), 0u);
}

TEST(WsProtocol, UnmaskedClientFrameIs1002) {
    const Outcome r = run(client_frame(kText, "Hello", false) + client_frame(kText, "never read"));
    EXPECT_EQ(r.events, (Events{"close:1002:client frames must be masked"}));
    EXPECT_EQ(r.out, close_frame(1002, "client frames must be masked"));
    EXPECT_EQ(r.last, Protocol::Feed::kClosed);
}

TEST(WsProtocol, NothingIsReadAfterTheConnectionEnded) {
    auto p = make();
    test::RecordingSink sink;
    alloc::ByteBuffer out;
    std::string bad = client_frame(kText, "x", false);
    ASSERT_EQ(p->feed(bad.data(), bad.size(), sink, out), Protocol::Feed::kClosed);
    std::string more = client_frame(kText, "y") + client_frame(kPing, "z");
    const size_t before = out.size();
    EXPECT_EQ(p->feed(more.data(), more.size(), sink, out), Protocol::Feed::kClosed);
    EXPECT_EQ(sink.closes, 1);
    EXPECT_EQ(sink.events.size(), 1u);
    EXPECT_EQ(out.size(), before);
    EXPECT_FALSE(p->open());
    EXPECT_FALSE(p->send(out, "late", Opcode::kText, false));
}

TEST(WsProtocol, FragmentedTextSplitInsideAUtf8Sequence) {
    // "a€b" with € (E2 82 AC) cut after each of its bytes, one frame per piece.
    const Outcome r = run(client_frame(kTextMore, "a\xE2") + client_frame(kContMore, "\x82") +
                          client_frame(kCont,
                                       "\xAC"
                                       "b"));
    EXPECT_EQ(r.events, (Events{"text:a\xE2\x82\xAC"
                                "b"}));
    EXPECT_EQ(r.out, "");
}

TEST(WsProtocol, PingDuringAFragmentedMessageIsAnsweredAtOnce) {
    const Outcome r = run(client_frame(kTextMore, "Hel") + client_frame(kPing, "are you there") +
                          client_frame(kContMore, "") + client_frame(kPong, "unsolicited") +
                          client_frame(kCont, "lo"));
    EXPECT_EQ(r.events, (Events{"ping:are you there", "pong:unsolicited", "text:Hello"}));
    EXPECT_EQ(r.out, server_frame(0x8A, "are you there"));
}

TEST(WsProtocol, CloseWithACodeIsEchoedWithThatCode) {
    const Outcome r =
        run(client_frame(kClose, close_payload(1000, "bye")) + client_frame(kText, "x"));
    EXPECT_EQ(r.events, (Events{"close:1000:bye"}));
    EXPECT_EQ(r.out, close_frame(1000));
    EXPECT_EQ(r.last, Protocol::Feed::kClosed);
    for (uint16_t code : {1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 3000, 4000, 4999}) {
        const Outcome c = run(client_frame(kClose, close_payload(code)));
        EXPECT_EQ(c.events, (Events{"close:" + std::to_string(code) + ":"})) << code;
        EXPECT_EQ(c.out, close_frame(code)) << code;
    }
}

TEST(WsProtocol, CloseWithoutACodeIsReportedAs1005AndAnsweredEmpty) {
    const Outcome r = run(client_frame(kClose, ""));
    EXPECT_EQ(r.events, (Events{"close:1005:"}));
    EXPECT_EQ(r.out, std::string("\x88\x00", 2));
}

TEST(WsProtocol, BadClosePayloadsAre1002Or1007) {
    const Outcome one = run(client_frame(kClose, "\x03"));
    EXPECT_EQ(one.events, (Events{"close:1002:a close payload of one byte"}));
    EXPECT_EQ(one.out, close_frame(1002, "a close payload of one byte"));
    for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
        const Outcome c = run(client_frame(kClose, close_payload(code)));
        EXPECT_EQ(c.events, (Events{"close:1002:invalid close code"})) << code;
        EXPECT_EQ(c.out, close_frame(1002, "invalid close code")) << code;
    }
    const Outcome utf8 = run(client_frame(kClose, close_payload(1000, "bad \xC3(")));
    EXPECT_EQ(utf8.events, (Events{"close:1007:close reason is not valid UTF-8"}));
    EXPECT_EQ(utf8.out, close_frame(1007, "close reason is not valid UTF-8"));
}

TEST(WsProtocol, OversizedFrameIs1009FromItsAnnouncedLength) {
    // Only the header of a frame one byte over the limit: refused before any payload arrives.
    std::string header = client_frame(kBinary, std::string(101, 'x')).substr(0, 8);
    auto p = make(100);
    test::RecordingSink sink;
    alloc::ByteBuffer out;
    EXPECT_EQ(p->feed(header.data(), header.size(), sink, out), Protocol::Feed::kClosed);
    EXPECT_EQ(sink.events, (Events{"close:1009:message longer than the limit"}));
    EXPECT_EQ(std::string(out.view()), close_frame(1009, "message longer than the limit"));
    EXPECT_EQ(p->buffered(), 0u);
    // A 64-bit length of 2^40 is refused the same way.
    std::string huge("\x82\xFF\x00\x00\x01\x00\x00\x00\x00\x00\x37\xfa\x21\x3d", 14);
    EXPECT_EQ(run(huge).events, (Events{"close:1009:message longer than the limit"}));
    // Exactly the limit is fine.
    EXPECT_EQ(run(client_frame(kBinary, std::string(100, 'x')), 100).events,
              (Events{"binary:" + std::string(100, 'x')}));
}

TEST(WsProtocol, FragmentsAddUpAgainstTheLimit) {
    const std::string half(60, 'h');
    const Outcome r = run(client_frame(kBinaryMore, half) + client_frame(kCont, half), 100);
    EXPECT_EQ(r.events, (Events{"close:1009:message longer than the limit"}));
    const Outcome ok =
        run(client_frame(kBinaryMore, half) + client_frame(kCont, half.substr(0, 40)), 100);
    EXPECT_EQ(ok.events, (Events{"binary:" + std::string(100, 'h')}));
}

TEST(WsProtocol, InvalidUtf8Is1007AsSoonAsItArrives) {
    const Outcome r = run(client_frame(kText, "caf\xC3\x28"));
    EXPECT_EQ(r.events, (Events{"close:1007:text message is not valid UTF-8"}));
    EXPECT_EQ(r.out, close_frame(1007, "text message is not valid UTF-8"));
    // In the first fragment of a message whose end never comes: closed without waiting.
    const Outcome early = run(client_frame(kTextMore, "ok \xED\xA0\x80"));
    EXPECT_EQ(early.events, (Events{"close:1007:text message is not valid UTF-8"}));
    // Inside a frame whose payload has only partly arrived (its header says 1000 bytes).
    std::string frame = client_frame(kText, "abc\xFF" + std::string(996, 'x'));
    auto p = make();
    test::RecordingSink sink;
    alloc::ByteBuffer out;
    EXPECT_EQ(p->feed(frame.data(), 20, sink, out), Protocol::Feed::kClosed);
    EXPECT_EQ(sink.events, (Events{"close:1007:text message is not valid UTF-8"}));
    // A message that ends inside a code point.
    const Outcome cut = run(client_frame(kTextMore, "\xE2\x82") + client_frame(kCont, ""));
    EXPECT_EQ(cut.events, (Events{"close:1007:text message ends inside a UTF-8 sequence"}));
    const Outcome cut_whole = run(client_frame(kText, "\xE2\x82"));
    EXPECT_EQ(cut_whole.events, (Events{"close:1007:text message ends inside a UTF-8 sequence"}));
    // Binary messages are not checked.
    EXPECT_EQ(run(client_frame(kBinary, "\xFF")).events, (Events{"binary:\xFF"}));
}

TEST(WsProtocol, FramingRulesAre1002) {
    struct Case {
        std::string stream;
        std::string reason;
    };
    const Case cases[] = {
        {client_frame(0xC1, "x"), "RSV1 set without permessage-deflate negotiated"},
        {client_frame(0xA1, "x"), "RSV2 and RSV3 must be clear"},
        {client_frame(0x91, "x"), "RSV2 and RSV3 must be clear"},
        {client_frame(0x83, "x"), "unknown opcode"},
        {client_frame(0x8B, "x"), "unknown opcode"},
        {client_frame(0x09, "x"), "control frames must not be fragmented"},
        {client_frame(kPing, std::string(126, 'p')), "control frames carry at most 125 bytes"},
        {client_frame(kCont, "x"), "continuation frame without a message"},
        {client_frame(kTextMore, "a") + client_frame(kText, "b"),
         "a new message began before the fragmented one ended"},
        {std::string("\x82\xFE\x00\x05\x37\xfa\x21\x3d", 8) + "12345",
         "frame length not in its shortest form"},
    };
    for (const Case& c : cases) {
        const Outcome r = run(c.stream);
        EXPECT_EQ(r.events, (Events{"close:1002:" + c.reason})) << c.reason;
        EXPECT_EQ(r.out, close_frame(1002, c.reason)) << c.reason;
        EXPECT_EQ(r.last, Protocol::Feed::kClosed);
    }
    // 125 bytes is the largest ping, answered with the same payload.
    const std::string p125(125, 'p');
    const Outcome ok = run(client_frame(kPing, p125));
    EXPECT_EQ(ok.events, (Events{"ping:" + p125}));
    EXPECT_EQ(ok.out, server_frame(0x8A, p125));
}

TEST(WsProtocol, SendWritesServerFrames) {
    auto p = make();
    alloc::ByteBuffer out;
    EXPECT_TRUE(p->send(out, "Hello", Opcode::kText, true));  // no deflate: sent as is
    EXPECT_TRUE(p->send(out, std::string(300, 'b'), Opcode::kBinary, false));
    EXPECT_TRUE(p->send(out, "hb", Opcode::kPing, false));
    EXPECT_TRUE(p->send(out, "", Opcode::kPong, false));
    EXPECT_FALSE(p->send(out, std::string(126, 'x'), Opcode::kPing, false));
    EXPECT_FALSE(p->send(out, "x", Opcode::kClose, false));
    EXPECT_FALSE(p->send(out, "x", Opcode::kContinuation, false));
    EXPECT_EQ(std::string(out.view()), server_frame(0x81, "Hello") +
                                           server_frame(0x82, std::string(300, 'b')) +
                                           server_frame(0x89, "hb") + server_frame(0x8A, ""));
    EXPECT_FALSE(p->compresses());
}

TEST(WsProtocol, ServerInitiatedCloseHandshake) {
    auto p = make();
    alloc::ByteBuffer out;
    p->close(out, 1001, "going away");
    EXPECT_EQ(std::string(out.view()), close_frame(1001, "going away"));
    EXPECT_FALSE(p->open());
    out.clear();
    EXPECT_FALSE(p->send(out, "late", Opcode::kText, false));
    p->close(out, 1000, "twice");  // once only
    EXPECT_EQ(out.size(), 0u);
    // Messages still arrive until the peer's close; pings are no longer answered.
    test::RecordingSink sink;
    std::string stream = client_frame(kText, "in flight") + client_frame(kPing, "p") +
                         client_frame(kClose, close_payload(1001));
    EXPECT_EQ(p->feed(stream.data(), stream.size(), sink, out), Protocol::Feed::kClosed);
    EXPECT_EQ(sink.events, (Events{"text:in flight", "ping:p", "close:1001:"}));
    EXPECT_EQ(out.size(), 0u);  // no pong, no second close frame
}

TEST(WsProtocol, CloseWithoutCodeAndReasonCutAtACodePoint) {
    auto p = make();
    alloc::ByteBuffer out;
    p->close(out, close_code::kNoStatus, "ignored");
    EXPECT_EQ(std::string(out.view()), std::string("\x88\x00", 2));
    // 122 ASCII bytes and a 2-byte code point: 124 bytes, cut to 122 (not in the middle of é).
    auto q = make();
    out.clear();
    const std::string reason = std::string(122, 'r') + "\xC3\xA9";
    q->close(out, 1000, reason);
    EXPECT_EQ(std::string(out.view()), close_frame(1000, std::string(122, 'r')));
}

TEST(WsProtocol, ProtocolErrorAfterOurCloseSendsNoSecondClose) {
    auto p = make();
    alloc::ByteBuffer out;
    p->close(out, 1000, "");
    out.clear();
    test::RecordingSink sink;
    std::string bad = client_frame(kText, "x", false);
    EXPECT_EQ(p->feed(bad.data(), bad.size(), sink, out), Protocol::Feed::kClosed);
    EXPECT_EQ(sink.events, (Events{"close:1002:client frames must be masked"}));
    EXPECT_EQ(out.size(), 0u);
}

// ---- permessage-deflate
// --------------------------------------------------------------------------

DeflateParams params(bool server_takeover, bool client_takeover) {
    DeflateParams d;
    d.server_no_context_takeover = !server_takeover;
    d.client_no_context_takeover = !client_takeover;
    d.min_size = 16;
    return d;
}

TEST(WsProtocolDeflate, ClientCompressedMessagesWithAndWithoutContextTakeover) {
    for (bool takeover : {true, false}) {
        const DeflateParams d = params(true, takeover);
        test::ClientDeflate client;
        std::string stream;
        std::vector<std::string> expected;
        for (int i = 0; i < 4; ++i) {
            const std::string msg =
                "{\"seq\":" + std::to_string(i) + ",\"data\":\"" + std::string(100, 'd') + "\"}";
            stream += client_frame(kTextDeflated, client.compress(msg, !takeover));
            expected.push_back("text:" + msg);
        }
        // Uncompressed messages may be mixed in (RSV1 clear).
        stream += client_frame(kText, "plain");
        expected.push_back("text:plain");
        const Outcome r = run(stream, 1 << 20, &d);
        EXPECT_EQ(r.events, expected) << takeover;
        EXPECT_EQ(r.out, "");
    }
}

TEST(WsProtocolDeflate, FragmentedCompressedMessageWithAPingInside) {
    const DeflateParams d = params(false, true);
    test::ClientDeflate client;
    const std::string msg = "fragmented and compressed " + std::string(500, 'z');
    const std::string c = client.compress(msg);
    const std::string stream = client_frame(kTextDeflatedMore, c.substr(0, 5)) +
                               client_frame(kPing, "") + client_frame(kContMore, c.substr(5, 3)) +
                               client_frame(kCont, c.substr(8));
    const Outcome r = run(stream, 1 << 20, &d);
    EXPECT_EQ(r.events, (Events{"ping:", "text:" + msg}));
    EXPECT_EQ(r.out, server_frame(0x8A, ""));
}

TEST(WsProtocolDeflate, DeflateRules) {
    const DeflateParams d = params(false, true);
    test::ClientDeflate client;
    const std::string c = client.compress("hello hello hello");
    // RSV1 on a continuation frame.
    EXPECT_EQ(run(client_frame(kTextDeflatedMore, c.substr(0, 2)) + client_frame(0xC0, c.substr(2)),
                  1 << 20, &d)
                  .events,
              (Events{"close:1002:RSV1 set on a continuation frame (only the first may have it)"}));
    // RSV1 on a control frame.
    EXPECT_EQ(run(client_frame(0xC9, ""), 1 << 20, &d).events,
              (Events{"close:1002:RSV1 set on a control frame"}));
    // Data that does not inflate.
    const Outcome corrupt = run(client_frame(kTextDeflated, "\xff\xff\xff"), 1 << 20, &d);
    EXPECT_EQ(corrupt.events, (Events{"close:1007:compressed message does not inflate"}));
    EXPECT_EQ(corrupt.out, close_frame(1007, "compressed message does not inflate"));
    // Inflates to invalid UTF-8.
    test::ClientDeflate other;
    EXPECT_EQ(run(client_frame(kTextDeflated, other.compress("bad \xFF text")), 1 << 20, &d).events,
              (Events{"close:1007:text message is not valid UTF-8"}));
}

TEST(WsProtocolDeflate, AZipBombIs1009WithoutInflatingItAll) {
    const DeflateParams d = params(false, true);
    test::ClientDeflate client;
    const std::string bomb = client.compress(std::string(50 << 20, '\0'));  // 50 MiB → ~50 KiB
    ASSERT_LT(bomb.size(), 100000u);
    const Outcome r = run(client_frame(0xC2, bomb), 1 << 20, &d);
    EXPECT_EQ(r.events, (Events{"close:1009:message longer than the limit after inflating"}));
    EXPECT_EQ(r.out, close_frame(1009, "message longer than the limit after inflating"));
}

TEST(WsProtocolDeflate, ServerCompressedMessagesInflateWithZlib) {
    for (bool takeover : {true, false}) {
        DeflateParams d = params(takeover, true);
        Deflater shared;
        ASSERT_TRUE(shared.init(1, 15, true));
        auto p = make(1 << 20, &d, &shared);
        EXPECT_TRUE(p->compresses());
        // Without context takeover the worker's shared Deflater serves; with it, its own.
        if (takeover) {
            EXPECT_NE(p->deflater(), &shared);
            EXPECT_NE(p->deflater(), nullptr);
        } else {
            EXPECT_EQ(p->deflater(), &shared);
        }
        test::ClientInflate client;
        std::string last_payload;
        for (int i = 0; i < 3; ++i) {
            alloc::ByteBuffer out;
            const std::string msg = "server message, the same each time " + std::string(200, 's');
            ASSERT_TRUE(p->send(out, msg, Opcode::kText, true));
            FrameHeader h;
            ASSERT_EQ(parse_frame_header(out.view(), h), HeaderStatus::kComplete);
            EXPECT_TRUE(h.fin);
            EXPECT_TRUE(h.rsv1);
            EXPECT_FALSE(h.masked);
            EXPECT_EQ(h.opcode, Opcode::kText);
            ASSERT_EQ(h.header_size + h.length, out.size());
            const std::string payload(out.view().substr(h.header_size));
            bool ok = false;
            EXPECT_EQ(client.inflate(payload, ok), msg);
            EXPECT_TRUE(ok);
            // With takeover, the repeated message becomes a back-reference: much shorter.
            if (i > 0) {
                if (takeover)
                    EXPECT_LT(payload.size(), last_payload.size());
                else
                    EXPECT_EQ(payload, last_payload);
            }
            last_payload = payload;
        }
        // Below min_size, or with compress false: sent as is.
        alloc::ByteBuffer out;
        ASSERT_TRUE(p->send(out, "tiny", Opcode::kText, true));
        ASSERT_TRUE(p->send(out, std::string(100, 'u'), Opcode::kBinary, false));
        EXPECT_EQ(std::string(out.view()),
                  server_frame(0x81, "tiny") + server_frame(0x82, std::string(100, 'u')));
    }
}

TEST(WsProtocolDeflate, LargeCompressedMessageGetsALongHeader) {
    DeflateParams d = params(false, true);
    auto p = make(1 << 20, &d);
    std::string msg;
    uint32_t x = 1;
    for (int i = 0; i < 100000; ++i) {  // pseudo-random bytes: barely compressible
        x = x * 1103515245 + 12345;
        msg.push_back(static_cast<char>(x >> 24));
    }
    alloc::ByteBuffer out;
    out.append("before");
    ASSERT_TRUE(p->send(out, msg, Opcode::kBinary, true));
    FrameHeader h;
    ASSERT_EQ(parse_frame_header(out.view().substr(6), h), HeaderStatus::kComplete);
    EXPECT_EQ(h.header_size, 10);
    EXPECT_EQ(std::string(out.view().substr(0, 6)), "before");
    test::ClientInflate client;
    bool ok = false;
    EXPECT_EQ(client.inflate(out.view().substr(6 + h.header_size), ok), msg);
    EXPECT_TRUE(ok);
}

TEST(WsProtocolDeflate, ClientAskingForAnEightBitWindowGetsUncompressedFrames) {
    DeflateParams d = params(false, true);
    d.server_max_window_bits = 8;
    auto p = make(1 << 20, &d);
    EXPECT_FALSE(p->compresses());
    alloc::ByteBuffer out;
    const std::string msg(200, 'e');
    ASSERT_TRUE(p->send(out, msg, Opcode::kText, true));
    EXPECT_EQ(std::string(out.view()), server_frame(0x81, msg));
    // Its compressed messages are still read.
    test::ClientDeflate client;
    test::RecordingSink sink;
    std::string frame = client_frame(kTextDeflated, client.compress("still inflated"));
    out.clear();
    EXPECT_EQ(p->feed(frame.data(), frame.size(), sink, out), Protocol::Feed::kOpen);
    EXPECT_EQ(sink.events, (Events{"text:still inflated"}));
}

// ---- the same stream cut anywhere ---------------------------------------------------------------

// A stream with a frame of every kind: short and 16-bit lengths, a fragmented text message cut
// inside code points with a ping and a pong between its fragments, binary, an empty message,
// compressed messages (whole and fragmented), and the close.
std::string mixed_stream(std::vector<std::string>& expected, std::string& expected_out) {
    test::ClientDeflate client;
    std::string s;
    s += client_frame(kText, "first");
    expected.push_back("text:first");
    s += client_frame(kTextMore, "gr\xC3");
    s += client_frame(kPing, "mid");
    expected.push_back("ping:mid");
    expected_out += server_frame(0x8A, "mid");
    s += client_frame(kContMore, "\xBC\xC3\x9F\xF0\x9F");
    s += client_frame(kPong, "pp");
    expected.push_back("pong:pp");
    s += client_frame(kCont, "\x91\x8B!");
    expected.push_back("text:gr\xC3\xBC\xC3\x9F\xF0\x9F\x91\x8B!");
    std::string bin;
    for (int i = 0; i < 300; ++i)
        bin.push_back(static_cast<char>(i));
    s += client_frame(kBinary, bin);
    expected.push_back("binary:" + bin);
    s += client_frame(kBinary, "");
    expected.push_back("binary:");
    const std::string z1 = "compressed " + std::string(80, 'c');
    s += client_frame(kTextDeflated, client.compress(z1));
    expected.push_back("text:" + z1);
    const std::string z2 = "again, compressed " + std::string(80, 'c') + " \xE2\x82\xAC";
    const std::string c2 = client.compress(z2);
    s += client_frame(kTextDeflatedMore, c2.substr(0, 4));
    s += client_frame(kPing, "");
    expected.push_back("ping:");
    expected_out += server_frame(0x8A, "");
    s += client_frame(kCont, c2.substr(4));
    expected.push_back("text:" + z2);
    s += client_frame(kClose, close_payload(1000, "done \xE2\x9C\x93"));
    expected.push_back("close:1000:done \xE2\x9C\x93");
    expected_out += close_frame(1000);
    return s;
}

TEST(WsProtocolReplay, EverySplitPointGivesTheSameEventsAndBytes) {
    const DeflateParams d = params(false, true);  // the client keeps its context
    Events expected;
    std::string expected_out;
    const std::string stream = mixed_stream(expected, expected_out);
    {
        auto p = make(1 << 20, &d);
        const Outcome whole = test::feed_in_pieces(*p, stream, {});
        ASSERT_EQ(whole.events, expected);
        ASSERT_EQ(whole.out, expected_out);
        ASSERT_EQ(whole.last, Protocol::Feed::kClosed);
    }
    {
        auto p = make(1 << 20, &d);
        const Outcome bytes =
            test::feed_in_pieces(*p, stream, std::vector<size_t>(stream.size(), 1));
        EXPECT_EQ(bytes.events, expected);
        EXPECT_EQ(bytes.out, expected_out);
    }
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        auto p = make(1 << 20, &d);
        const Outcome two = test::feed_in_pieces(*p, stream, {cut});
        ASSERT_EQ(two.events, expected) << "cut at " << cut;
        ASSERT_EQ(two.out, expected_out) << "cut at " << cut;
    }
    // Three pieces: every pair of cuts 7 bytes apart or more, stepping 5.
    for (size_t a = 0; a < stream.size(); a += 5)
        for (size_t b = 1; a + b < stream.size(); b += 7) {
            auto p = make(1 << 20, &d);
            const Outcome three = test::feed_in_pieces(*p, stream, {a, b});
            ASSERT_EQ(three.events, expected) << a << " " << b;
            ASSERT_EQ(three.out, expected_out) << a << " " << b;
        }
}

TEST(WsProtocolReplay, LargeFramesInOneBytePieces) {
    std::string big(70000, '\0');
    for (size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>('a' + i % 26);
    const std::string stream = client_frame(kText, big) + client_frame(kPing, "x") +
                               client_frame(kBinaryMore, big.substr(0, 40000)) +
                               client_frame(kCont, big.substr(40000));
    const Events expected = {"text:" + big, "ping:x", "binary:" + big};
    for (const std::vector<size_t>& cuts :
         {std::vector<size_t>{}, std::vector<size_t>(stream.size(), 1),
          std::vector<size_t>(stream.size() / 1000 + 1, 1000),
          std::vector<size_t>{3, 5000, 65000, 1, 1, 1, 4, 2, 13}}) {
        auto p = make();
        const Outcome r = test::feed_in_pieces(*p, stream, cuts);
        EXPECT_EQ(r.events, expected);
        EXPECT_EQ(r.out, server_frame(0x8A, "x"));
        EXPECT_EQ(p->buffered(), 0u);
    }
}

TEST(WsProtocolReplay, ErrorsAreTheSameAtEverySplit) {
    // A stream that breaks a rule after valid frames: the same events and bytes at every cut.
    const std::string stream = client_frame(kText, "ok") + client_frame(kTextMore, "\xF0\x9F") +
                               client_frame(kCont, "\x98\x28 rest");
    const Events expected = {"text:ok", "close:1007:text message is not valid UTF-8"};
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        auto p = make();
        const Outcome r = test::feed_in_pieces(*p, stream, {cut});
        ASSERT_EQ(r.events, expected) << cut;
        ASSERT_EQ(r.out, close_frame(1007, "text message is not valid UTF-8")) << cut;
    }
    // Text cut short inside a code point: one frame read whole (in place) or in pieces (through
    // the message buffer) closes with the same reason (found by the fuzz target).
    const std::string cut_short = client_frame(kText, "maske\xDB");
    for (size_t cut = 0; cut <= cut_short.size(); ++cut) {
        auto p = make();
        const Outcome r = test::feed_in_pieces(*p, cut_short, {cut});
        ASSERT_EQ(r.events, (Events{"close:1007:text message ends inside a UTF-8 sequence"}))
            << cut;
    }
}

}  // namespace
}  // namespace nexure::net::ws
