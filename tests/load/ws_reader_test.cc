// nexload --ws's pieces without a network: WsReader splits server frames into messages and
// control frames the same whether they come whole, split at every byte or one byte at a time, and
// refuses what a client must refuse; the handshake answer is accepted only with 101, Upgrade,
// Connection and the right Sec-WebSocket-Accept; the WebSocket flags parse as documented.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "alloc/byte_buffer.h"
#include "bench/load/options.h"
#include "bench/load/ws_handshake.h"
#include "bench/load/ws_reader.h"
#include "net/ws/frame.h"
#include "net/ws/handshake.h"

namespace nexure::load {
namespace {

using net::ws::Opcode;

struct Collected final : WsReaderSink {
    std::vector<std::string> events;  // "text:<payload>", "binary:<n>", "ping:<payload>", ...
    std::string message;              // the current message's payload, from on_data
    void on_data(std::string_view piece, uint64_t offset) noexcept override {
        EXPECT_EQ(offset, message.size());
        message.append(piece);
    }
    void on_message(Opcode op, uint64_t length, std::string_view prefix) noexcept override {
        EXPECT_EQ(length, message.size());
        EXPECT_EQ(prefix, std::string_view(message).substr(0, WsReader::kPrefix));
        events.push_back((op == Opcode::kText ? "text:" : "binary:") + message);
        message.clear();
    }
    void on_control(Opcode op, std::string_view payload) noexcept override {
        const char* name = op == Opcode::kPing ? "ping:" : op == Opcode::kPong ? "pong:" : "close:";
        events.push_back(name + std::string(payload));
    }
};

std::string frame(Opcode op, bool fin, std::string_view payload, const uint32_t* mask = nullptr) {
    alloc::ByteBuffer b;
    net::ws::append_frame(b, op, fin, false, payload, mask);
    return std::string(b.view());
}

// Feeds `bytes` to a fresh reader cut at `cuts` (sizes of the pieces, the rest at the end).
std::vector<std::string> read_in_pieces(const std::string& bytes, size_t piece, bool* ok,
                                        std::string* error = nullptr) {
    WsReader reader;
    Collected sink;
    *ok = true;
    for (size_t at = 0; at < bytes.size() && *ok; at += piece) {
        const size_t n = std::min(piece, bytes.size() - at);
        *ok = reader.feed(bytes.data() + at, n, sink);
    }
    if (error != nullptr) *error = reader.error();
    return sink.events;
}

TEST(WsReader, MessagesAndControlFramesAreTheSameWhateverTheReadsAre) {
    const std::string big(70'000, 'x');  // a 64-bit length
    const std::string mid(300, 'y');     // a 16-bit length
    const std::string stream = frame(Opcode::kText, true, "hello") +
                               frame(Opcode::kBinary, false, mid) +
                               frame(Opcode::kPing, true, "are you there") +  // inside a message
                               frame(Opcode::kContinuation, true, "!") +
                               frame(Opcode::kText, true, "") + frame(Opcode::kBinary, true, big) +
                               frame(Opcode::kClose, true, std::string("\x03\xe8", 2) + "bye");
    const std::vector<std::string> want = {"text:hello", "binary:" + mid + "!",
                                           "ping:are you there", "text:", "binary:" + big,
                                           "close:\x03\xe8" "bye"};
    std::vector<std::string> want_ordered = {want[0], want[2], want[1], want[3], want[4], want[5]};
    for (size_t piece : {stream.size(), size_t{1}, size_t{2}, size_t{3}, size_t{13}, size_t{4096}}) {
        bool ok = false;
        EXPECT_EQ(read_in_pieces(stream, piece, &ok), want_ordered) << "pieces of " << piece;
        EXPECT_TRUE(ok);
    }
}

TEST(WsReader, RefusesWhatAClientMustRefuse) {
    const uint32_t mask = 0x12345678;
    const struct {
        std::string bytes;
        const char* why;
    } cases[] = {
        {frame(Opcode::kText, true, "hi", &mask), "masked"},
        {std::string("\xc1\x00", 2), "RSV"},
        {std::string("\x83\x00", 2), "unknown opcode"},
        {frame(Opcode::kContinuation, true, "x"), "continuation"},
        {frame(Opcode::kText, false, "a") + frame(Opcode::kText, true, "b"), "new message"},
        {frame(Opcode::kPing, false, "x"), "fragmented control"},
        {std::string("\x89\x7e\x00\x80", 4) + std::string(128, 'p'), "control frame of 128"},
        {std::string("\x82\x7e\x00\x10", 4), "invalid payload length"},  // 16 in 16 bits
    };
    for (const auto& c : cases) {
        bool ok = true;
        std::string error;
        read_in_pieces(c.bytes, c.bytes.size(), &ok, &error);
        EXPECT_FALSE(ok) << c.why;
        EXPECT_NE(error.find(c.why), std::string::npos) << error;
    }
}

std::string reply_with(std::string_view accept_line) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
           std::string(accept_line) + "\r\n\r\n";
}

TEST(WsHandshake, TheKeyIsSixteenRandomBytesInBase64) {
    uint64_t state = 1;
    const std::string a = random_ws_key(state);
    const std::string b = random_ws_key(state);
    EXPECT_EQ(a.size(), 24u);
    EXPECT_EQ(a.substr(22), "==");
    EXPECT_NE(a, b);
}

TEST(WsHandshake, AcceptsOnlyTheRightAnswer) {
    // RFC 6455 §1.3's example key and accept value.
    const std::string accept = net::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==");
    ASSERT_EQ(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    const std::string good = reply_with("Sec-WebSocket-Accept: " + accept);
    WsHandshakeReply r = check_ws_handshake_reply(good + "\x81\x02hi", accept);
    EXPECT_EQ(r.outcome, WsHandshakeReply::Outcome::kAccepted) << r.why;
    EXPECT_EQ(r.status, 101);
    EXPECT_EQ(r.head_size, good.size());

    for (size_t n = 0; n < good.size(); ++n) {
        EXPECT_EQ(check_ws_handshake_reply(good.substr(0, n), accept).outcome,
                  WsHandshakeReply::Outcome::kIncomplete);
    }
    r = check_ws_handshake_reply(reply_with("Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                                 accept);
    EXPECT_EQ(r.outcome, WsHandshakeReply::Outcome::kRefused);
    EXPECT_NE(r.why.find("the key calls for 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='"), std::string::npos);
    r = check_ws_handshake_reply("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                 accept);
    EXPECT_EQ(r.outcome, WsHandshakeReply::Outcome::kRefused);
    EXPECT_EQ(r.status, 426);
    EXPECT_NE(r.why.find("'426 Upgrade Required' instead of 101"), std::string::npos) << r.why;
    r = check_ws_handshake_reply(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
            accept + "\r\n\r\n",
        accept);
    EXPECT_NE(r.why.find("no 'Upgrade: websocket'"), std::string::npos) << r.why;
    r = check_ws_handshake_reply(
        reply_with("Sec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Extensions: permessage-deflate"),
        accept);
    EXPECT_EQ(r.outcome, WsHandshakeReply::Outcome::kRefused);
    EXPECT_NE(r.why.find("did not offer"), std::string::npos) << r.why;
    r = check_ws_handshake_reply("SSH-2.0-OpenSSH\r\n\r\n", accept);
    EXPECT_NE(r.why.find("not answer with an HTTP status line"), std::string::npos) << r.why;
}

Result<LoadOptions> parse(std::vector<std::string> args) { return parse_load_options(args); }

TEST(WsOptions, FlagsAndUrls) {
    Result<LoadOptions> o = parse({"ws://127.0.0.1:9000/echo"});
    ASSERT_TRUE(o.ok()) << o.error().message;
    EXPECT_EQ(o.value().ws.mode, WsMode::kEcho);  // a ws:// URL implies --ws
    EXPECT_EQ(o.value().target.path, "/echo");
    EXPECT_EQ(o.value().target.port, 9000);
    EXPECT_EQ(o.value().ws.size, 32u);

    o = parse({"--ws", "--size", "16384", "--binary", "--depth", "4", "-H", "Origin: x",
               "http://127.0.0.1:9000/e"});
    ASSERT_TRUE(o.ok()) << o.error().message;
    EXPECT_EQ(o.value().ws.size, 16384u);
    EXPECT_TRUE(o.value().ws.binary);
    EXPECT_EQ(o.value().pipeline, 4u);
    const std::string hs = build_ws_handshake(o.value(), "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_EQ(hs,
              "GET /e HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\nOrigin: x\r\n\r\n");

    const struct {
        std::vector<std::string> args;
        const char* error;
    } bad[] = {
        {{"--size", "10", "http://h/"}, "--size is for WebSocket runs"},
        {{"--ws", "--pipeline", "2", "ws://h/"}, "(use --depth)"},
        {{"--ws", "--body", "/dev/null", "ws://h/"}, "--body is for HTTP runs"},
        {{"--ws-fanout", "ws://h/"}, "needs -R"},
        {{"--ws-fanout", "-R", "10", "-t", "2", "-c", "4", "ws://h/"}, "-t 1"},
        {{"--ws-fanout", "-R", "10", "-t", "1", "--size", "8", "ws://h/"}, "at least 32"},
        {{"wss://h/"}, "no TLS"},
        {{"--ws", "--size", "100000000", "ws://h/"}, "--size wants"},
    };
    for (const auto& b : bad) {
        Result<LoadOptions> r = parse(b.args);
        ASSERT_FALSE(r.ok()) << b.args[0];
        EXPECT_NE(r.error().message.find(b.error), std::string::npos) << r.error().message;
    }
}

}  // namespace
}  // namespace nexure::load
