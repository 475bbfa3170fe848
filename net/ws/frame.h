// WebSocket frames (RFC 6455 §5): the header's wire format, masking, opcodes and close codes —
// the pieces both ends share. No state and no I/O: `Protocol` (protocol.h) runs a server's side of
// a connection on them, and nexload's --ws client (bench/load) builds and reads frames with them.
// Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nexure::net::ws {

enum class Opcode : uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

inline constexpr bool is_control(Opcode op) noexcept { return (static_cast<uint8_t>(op) & 0x8) != 0; }

// Close codes (RFC 6455 §7.4.1) the server sends or reports.
namespace close_code {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;       // server stopping, idle timeout
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kUnsupportedData = 1003;
inline constexpr uint16_t kNoStatus = 1005;        // reported only: a close frame without a code
inline constexpr uint16_t kAbnormal = 1006;        // reported only: the connection ended without one
inline constexpr uint16_t kInvalidPayload = 1007;  // invalid UTF-8 in a text message
inline constexpr uint16_t kPolicyViolation = 1008;
inline constexpr uint16_t kMessageTooBig = 1009;
inline constexpr uint16_t kInternalError = 1011;
}  // namespace close_code

// Whether a peer may send `code` in a close frame: 1000–1003, 1007–1014 and 3000–4999 (1004, 1005,
// 1006 and 1015 are never on the wire; 1016–2999 are reserved).
bool valid_close_code(uint16_t code) noexcept;

// The longest frame header: 2 bytes, an 8-byte extended length and a 4-byte masking key.
inline constexpr size_t kMaxHeaderSize = 14;
// Control frames carry at most 125 bytes of payload (and a close reason at most 123).
inline constexpr size_t kMaxControlPayload = 125;

struct FrameHeader {
    bool fin = false;
    bool rsv1 = false;  // permessage-deflate: the message is compressed (first frame only)
    bool rsv2 = false;
    bool rsv3 = false;
    Opcode opcode = Opcode::kContinuation;
    bool masked = false;
    uint32_t mask = 0;         // the key's 4 bytes as they are in memory (apply_mask's order)
    uint64_t length = 0;       // payload bytes
    uint8_t header_size = 0;   // bytes before the payload
};

enum class HeaderStatus : uint8_t {
    kComplete,    // `out` is filled; the payload starts at out.header_size
    kIncomplete,  // more bytes are needed (nothing is consumed)
    kInvalid,     // a length that is not minimal or has its top bit set (RFC 6455 §5.2)
};

// Reads the frame header at the start of `bytes`. Only the wire format is checked here; the
// rules that depend on the connection (masking required, RSV bits, opcodes, control frame sizes)
// are the caller's (Protocol).
HeaderStatus parse_frame_header(std::string_view bytes, FrameHeader& out) noexcept;

// The size of the header write_frame_header() writes for a payload of `length` bytes.
constexpr size_t frame_header_size(uint64_t length, bool masked) noexcept {
    return (length < 126 ? 2 : length <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
}

// Writes a frame header into `out` (room for kMaxHeaderSize bytes) and returns its size.
// `mask`: null for an unmasked (server) frame, else the 4-byte key to write (the caller then
// masks the payload with apply_mask).
size_t write_frame_header(char* out, Opcode opcode, bool fin, bool rsv1, uint64_t length,
                          const uint32_t* mask) noexcept;

// XORs `n` bytes in place with the masking key, starting `offset` bytes into the payload (so a
// payload that arrives in pieces is unmasked piece by piece). Word at a time.
void apply_mask(char* data, size_t n, uint32_t mask, uint64_t offset) noexcept;

}  // namespace nexure::net::ws

#include "alloc/byte_buffer.h"

namespace nexure::net::ws {

// Appends a whole frame (header and payload) to `out`. `mask` null: unmasked (what a server
// sends); else the payload is copied masked with that key (what a client sends).
void append_frame(alloc::ByteBuffer& out, Opcode opcode, bool fin, bool rsv1,
                  std::string_view payload, const uint32_t* mask = nullptr) noexcept;

}  // namespace nexure::net::ws
