// Helpers for the WebSocket codec tests: client frames built byte by byte (independently of
// append_frame, so that the tests do not check the code with itself), a sink that records what
// Protocol reports, and raw deflate/inflate with zlib directly.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/byte_buffer.h"
#include "net/ws/protocol.h"

namespace nexure::net::ws::test {

inline constexpr uint8_t kKey[4] = {0x37, 0xFA, 0x21, 0x3D};  // RFC 6455 §5.7's example key

// A client frame: `first` is the first byte (FIN, RSV bits, opcode); masked with kKey unless
// `masked` is false. The length uses the shortest form.
inline std::string client_frame(uint8_t first, std::string_view payload, bool masked = true) {
    std::string f;
    f.push_back(static_cast<char>(first));
    const uint8_t m = masked ? 0x80 : 0;
    const uint64_t n = payload.size();
    if (n < 126) {
        f.push_back(static_cast<char>(m | n));
    } else if (n <= 0xFFFF) {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(n >> 8));
        f.push_back(static_cast<char>(n & 0xFF));
    } else {
        f.push_back(static_cast<char>(m | 127));
        for (int i = 7; i >= 0; --i)
            f.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    }
    if (masked)
        for (uint8_t k : kKey)
            f.push_back(static_cast<char>(k));
    for (size_t i = 0; i < payload.size(); ++i)
        f.push_back(masked ? static_cast<char>(static_cast<uint8_t>(payload[i]) ^ kKey[i % 4])
                           : payload[i]);
    return f;
}

// A server frame as the server must write it (unmasked), for expected output.
inline std::string server_frame(uint8_t first, std::string_view payload) {
    return client_frame(first, payload, false);
}

inline std::string close_payload(uint16_t code, std::string_view reason = {}) {
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xFF));
    p.append(reason);
    return p;
}

// Records every event as a line: "text:<payload>", "binary:<payload>", "ping:<p>", "pong:<p>",
// "close:<code>:<reason>".
class RecordingSink : public ProtocolSink {
  public:
    void on_message(std::string_view payload, bool binary) override {
        events.push_back(std::string(binary ? "binary:" : "text:") + std::string(payload));
    }
    void on_ping(std::string_view payload) override {
        events.push_back("ping:" + std::string(payload));
    }
    void on_pong(std::string_view payload) override {
        events.push_back("pong:" + std::string(payload));
    }
    void on_close(uint16_t code, std::string_view reason) override {
        events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
        ++closes;
    }
    std::vector<std::string> events;
    int closes = 0;
};

// What feeding `stream` in pieces of the given sizes (the rest in one last piece) produces.
struct Outcome {
    std::vector<std::string> events;
    std::string out;  // the frames the server queued
    Protocol::Feed last = Protocol::Feed::kOpen;
};

inline Outcome feed_in_pieces(Protocol& protocol, std::string_view stream,
                              const std::vector<size_t>& cuts) {
    RecordingSink sink;
    alloc::ByteBuffer out;
    Outcome run;
    size_t at = 0;
    auto feed = [&](size_t n) {
        // A heap copy per piece, freed after the call: a view kept past feed() is caught by ASan.
        std::vector<char> piece(stream.begin() + static_cast<std::ptrdiff_t>(at),
                                stream.begin() + static_cast<std::ptrdiff_t>(at + n));
        run.last = protocol.feed(piece.data(), piece.size(), sink, out);
        at += n;
    };
    for (size_t c : cuts) {
        if (c > stream.size() - at) c = stream.size() - at;
        feed(c);
    }
    if (at < stream.size()) feed(stream.size() - at);
    run.events = sink.events;
    run.out = std::string(out.view());
    return run;
}

// zlib raw deflate of one message as a client would send it: sync flush, 00 00 ff ff removed.
class ClientDeflate {
  public:
    explicit ClientDeflate(int window_bits = 15) {
        deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY);
    }
    ~ClientDeflate() { deflateEnd(&z_); }
    ClientDeflate(const ClientDeflate&) = delete;
    ClientDeflate& operator=(const ClientDeflate&) = delete;
    std::string compress(std::string_view message, bool reset = false) {
        std::string out(message.size() + 64, '\0');
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
        z_.avail_in = static_cast<uInt>(message.size());
        size_t used = 0;
        for (;;) {
            if (used == out.size()) out.resize(out.size() * 2);
            z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
            z_.avail_out = static_cast<uInt>(out.size() - used);
            deflate(&z_, Z_SYNC_FLUSH);
            used = out.size() - z_.avail_out;
            if (z_.avail_in == 0 && z_.avail_out != 0) break;
        }
        out.resize(used - 4);  // 00 00 ff ff
        if (reset) deflateReset(&z_);
        return out;
    }

  private:
    z_stream z_{};
};

// zlib raw inflate as a client would do it: 00 00 ff ff appended to each message.
class ClientInflate {
  public:
    explicit ClientInflate(int window_bits = 15) { inflateInit2(&z_, -window_bits); }
    ~ClientInflate() { inflateEnd(&z_); }
    ClientInflate(const ClientInflate&) = delete;
    ClientInflate& operator=(const ClientInflate&) = delete;
    // Empty optional-like: ok is false when zlib reports an error.
    std::string inflate(std::string_view message, bool& ok) {
        std::string in(message);
        in.append("\x00\x00\xff\xff", 4);
        std::string out(in.size() * 8 + 256, '\0');
        z_.next_in = reinterpret_cast<Bytef*>(in.data());
        z_.avail_in = static_cast<uInt>(in.size());
        size_t used = 0;
        ok = true;
        for (;;) {
            if (used == out.size()) out.resize(out.size() * 2);
            z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
            z_.avail_out = static_cast<uInt>(out.size() - used);
            const int rc = ::inflate(&z_, Z_SYNC_FLUSH);
            used = out.size() - z_.avail_out;
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                ok = false;
                break;
            }
            if (z_.avail_in == 0 && z_.avail_out != 0) break;
        }
        out.resize(used);
        return out;
    }

  private:
    z_stream z_{};
};

}  // namespace nexure::net::ws::test
