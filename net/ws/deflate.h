// permessage-deflate (RFC 7692): negotiating the extension in the handshake, and the per-message
// compressor and decompressor over zlib (raw deflate). A connection that negotiated it owns one
// Inflater and, when it compresses what it sends, one Deflater — or shares a worker's Deflater
// when no context is taken over between messages (server_no_context_takeover), which is what
// keeps memory per connection small (a context with a 32 KiB window costs ~300 KB; see
// NOTES-streams-ws.md). Any thread; each object is used by one thread at a time.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "alloc/byte_buffer.h"

namespace nexure::net::ws {

// What the server is willing to do (set by the application).
struct DeflateOptions {
    bool enabled = false;
    // The server resets its compressor after every message (it then needs no context per
    // connection: a worker's shared Deflater serves every such connection).
    bool server_no_context_takeover = true;
    // Asks clients to reset theirs (saves the server's inflate window... only if the client
    // agrees; the server must still accept takeover when it is not asked).
    bool client_no_context_takeover = false;
    // The largest LZ77 window the server compresses with (8..15; 8 is raised to 9, zlib's least).
    uint8_t server_max_window_bits = 15;
    int level = 1;  // zlib level for messages the server compresses (1: fastest)
    // Messages smaller than this are sent uncompressed (RSV1 clear): deflate costs more than it saves.
    size_t min_size = 64;
};

// The parameters agreed for one connection.
struct DeflateParams {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    uint8_t server_max_window_bits = 15;
    uint8_t client_max_window_bits = 15;
    // Copied from DeflateOptions by negotiate_deflate(), for the Protocol that compresses.
    int level = 1;
    size_t min_size = 64;
    // server_max_window_bits 8 (a client may ask for it) is a window zlib's raw deflate cannot
    // keep to (it uses 9 at least): the offer is accepted and the server then sends every message
    // uncompressed (RSV1 clear is always allowed), while it still inflates the client's messages.
    bool server_compresses() const noexcept { return server_max_window_bits >= 9; }
};

// Picks the first acceptable permessage-deflate offer among the client's
// Sec-WebSocket-Extensions values (`offers`: the header's values joined by ", ", as a client may
// send several fields) and fills `response` with the value of the Sec-WebSocket-Extensions field
// to answer with. nullopt when the client offered none the server accepts (or options.enabled is
// false): the connection then runs without compression. An offer with an unknown or repeated
// parameter, or a bad value, is skipped (RFC 7692 §5.1).
std::optional<DeflateParams> negotiate_deflate(std::string_view offers, const DeflateOptions& options,
                                               std::string& response);

// Compresses whole messages (RFC 7692 §7.2.1): deflate, sync flush, then the trailing
// 00 00 ff ff removed.
class Deflater {
  public:
    Deflater() = default;
    ~Deflater();
    Deflater(const Deflater&) = delete;
    Deflater& operator=(const Deflater&) = delete;

    // False when zlib cannot allocate its state. `window_bits` 9..15.
    bool init(int level, uint8_t window_bits, bool no_context_takeover) noexcept;
    bool ready() const noexcept { return ready_; }
    // The window init() was given (8 raised to 9); a shared Deflater serves only connections
    // that agreed to a window at least this large.
    uint8_t window_bits() const noexcept { return window_bits_; }
    // Appends the compressed form of `message` to `out`. False on a zlib error (out unchanged).
    bool compress(std::string_view message, alloc::ByteBuffer& out) noexcept;

  private:
    z_stream z_{};
    bool ready_ = false;
    bool reset_after_ = false;
    uint8_t window_bits_ = 0;
};

// Decompresses whole messages (RFC 7692 §7.2.2): appends 00 00 ff ff and inflates, never past a
// size limit (a small message that inflates to gigabytes is refused, not held).
class Inflater {
  public:
    Inflater() = default;
    ~Inflater();
    Inflater(const Inflater&) = delete;
    Inflater& operator=(const Inflater&) = delete;

    bool init(uint8_t window_bits, bool no_context_takeover) noexcept;
    bool ready() const noexcept { return ready_; }

    enum class Status : uint8_t { kOk, kTooBig, kCorrupt };
    // Inflates `message` (its compressed frames' payloads, joined) and appends the result to
    // `out`, which must not grow beyond `limit` bytes in all (kTooBig then: close with 1009).
    // kCorrupt: not valid deflate data (close with 1007). After an error the context is reset.
    Status inflate(std::string_view message, size_t limit, std::string& out) noexcept;

  private:
    z_stream z_{};
    bool ready_ = false;
    bool reset_after_ = false;
};

}  // namespace nexure::net::ws
