// Fuzz target: a WebSocket connection's Protocol (net/ws/protocol.h) fed arbitrary client bytes,
// with permessage-deflate on or off, every message echoed back (compressed when negotiated).
//
// What must hold besides "no crash, no leak, no UB": the cuts do not matter — the stream fed in
// pieces the input chooses (each a heap copy freed right after feed(), so a view kept past the
// call is caught by ASan) gives the same events and the same output bytes as the stream fed in
// one piece; on_close runs at most once, and exactly once when feed() said kClosed; nothing is
// reported after it; every message is within the limit, and a text message is valid UTF-8; the
// server's output is a sequence of well-formed unmasked frames whose messages (inflated with zlib
// used directly, as a client would) are exactly the echoed messages, in order, then at most one
// close frame at the end.
//
// Input: [0] flags — bit 0 permessage-deflate, bit 1 the client takes no context over, bit 2 the
// server takes none (a shared Deflater), bit 3 a small limit; [1] the limit (64 << ([1] & 7)
// bytes when bit 3 is set); [2..3] the seed of the piece sizes; then the client's byte stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/byte_buffer.h"
#include "alloc/result.h"
#include "net/ws/protocol.h"
#include "tests/ws/ws_test_util.h"

namespace nexure::net::ws {
namespace {

struct EchoSink : ProtocolSink {
    Protocol* protocol = nullptr;
    alloc::ByteBuffer* out = nullptr;
    size_t limit = 0;
    std::vector<std::string> events;
    std::vector<std::string> echoed;  // 't' or 'b', then the message
    int closes = 0;

    void on_message(std::string_view payload, bool binary) override {
        NEXURE_CHECK(closes == 0);
        NEXURE_CHECK(payload.size() <= limit);
        if (!binary) {
            Utf8Stream u;
            NEXURE_CHECK(u.feed(payload) && u.complete());
        }
        events.push_back((binary ? "b" : "t") + std::string(payload));
        if (protocol->send(*out, payload, binary ? Opcode::kBinary : Opcode::kText, true))
            echoed.push_back((binary ? "b" : "t") + std::string(payload));
    }
    void on_ping(std::string_view payload) override {
        NEXURE_CHECK(closes == 0 && payload.size() <= kMaxControlPayload);
        events.push_back("i" + std::string(payload));
    }
    void on_pong(std::string_view payload) override {
        NEXURE_CHECK(closes == 0 && payload.size() <= kMaxControlPayload);
        events.push_back("o" + std::string(payload));
    }
    void on_close(uint16_t code, std::string_view reason) override {
        NEXURE_CHECK(closes == 0);
        ++closes;
        events.push_back("c" + std::to_string(code) + ":" + std::string(reason));
    }
};

struct Result {
    std::vector<std::string> events;
    std::vector<std::string> echoed;
    std::string out;
    bool closed = false;
};

Result run(std::string_view stream, size_t limit, const DeflateParams* deflate, uint32_t seed) {
    Deflater shared;
    if (deflate != nullptr) NEXURE_CHECK(shared.init(deflate->level, 15, true));
    Protocol protocol;
    Limits limits;
    limits.max_payload = limit;
    NEXURE_CHECK(protocol.init(limits, deflate, &shared));
    alloc::ByteBuffer out;
    EchoSink sink;
    sink.protocol = &protocol;
    sink.out = &out;
    sink.limit = limit;
    Result r;
    uint32_t x = seed | 1;
    size_t at = 0;
    while (at < stream.size()) {
        size_t n = stream.size() - at;
        if (seed != 0) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            n = std::min<size_t>(n, 1 + x % 24);
        }
        std::vector<char> piece(stream.data() + at, stream.data() + at + n);
        const Protocol::Feed f = protocol.feed(piece.data(), piece.size(), sink, out);
        at += n;
        if (f == Protocol::Feed::kClosed) {
            r.closed = true;
            NEXURE_CHECK(sink.closes == 1);
        } else {
            NEXURE_CHECK(sink.closes == 0);
        }
        NEXURE_CHECK(protocol.buffered() <= limit + (limit >> 8) + 64);
    }
    r.events = std::move(sink.events);
    r.echoed = std::move(sink.echoed);
    r.out = std::string(out.view());
    return r;
}

// Reads the server's frames back as a client would and checks them against what was echoed.
void check_output(const Result& r, bool deflate) {
    test::ClientInflate inflater;
    std::string_view rest = r.out;
    size_t next = 0;
    bool closed = false;
    while (!rest.empty()) {
        NEXURE_CHECK(!closed);  // nothing after a close frame
        FrameHeader h;
        NEXURE_CHECK(parse_frame_header(rest, h) == HeaderStatus::kComplete);
        NEXURE_CHECK(!h.masked && h.fin && !h.rsv2 && !h.rsv3);
        NEXURE_CHECK(rest.size() >= h.header_size + h.length);
        const std::string_view payload = rest.substr(h.header_size, h.length);
        rest.remove_prefix(h.header_size + h.length);
        if (is_control(h.opcode)) {
            NEXURE_CHECK(!h.rsv1 && h.length <= kMaxControlPayload);
            if (h.opcode == Opcode::kClose) closed = true;
            continue;
        }
        NEXURE_CHECK(h.opcode == Opcode::kText || h.opcode == Opcode::kBinary);
        NEXURE_CHECK(next < r.echoed.size());
        const std::string& want = r.echoed[next++];
        NEXURE_CHECK((want[0] == 't') == (h.opcode == Opcode::kText));
        if (h.rsv1) {
            NEXURE_CHECK(deflate);
            bool ok = false;
            NEXURE_CHECK(inflater.inflate(payload, ok) == std::string_view(want).substr(1));
            NEXURE_CHECK(ok);
        } else {
            NEXURE_CHECK(payload == std::string_view(want).substr(1));
        }
    }
    NEXURE_CHECK(next == r.echoed.size());
    NEXURE_CHECK(closed ==
                 r.closed);  // the target never calls close(): a close frame means the end
}

}  // namespace
}  // namespace nexure::net::ws

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nexure::net::ws;
    if (size < 4) return 0;
    const uint8_t flags = data[0];
    const size_t limit = (flags & 8) != 0 ? size_t{64} << (data[1] & 7) : size_t{1} << 20;
    const uint32_t seed = static_cast<uint32_t>(data[2]) | (static_cast<uint32_t>(data[3]) << 8);
    const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);
    DeflateParams params;
    params.client_no_context_takeover = (flags & 2) != 0;
    params.server_no_context_takeover = (flags & 4) != 0;
    params.min_size = 8;
    const DeflateParams* deflate = (flags & 1) != 0 ? &params : nullptr;

    const Result whole = run(stream, limit, deflate, 0);
    check_output(whole, deflate != nullptr);
    const Result cut = run(stream, limit, deflate, seed == 0 ? 1 : seed);
    NEXURE_CHECK(cut.events == whole.events);
    NEXURE_CHECK(cut.out == whole.out);
    NEXURE_CHECK(cut.closed == whole.closed);
    return 0;
}
