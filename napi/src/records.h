// The byte layouts of napi/PROTOCOL.md: request records and event records (worker -> JS) and
// response records (JS -> worker). Offsets are from the record's first byte; all integers
// little-endian (the engine only runs on little-endian Linux targets, so they are native stores).
// Pure values, any thread; no node headers (included by engine-thread code).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace nexure::napi {

static_assert(std::endian::native == std::endian::little, "PROTOCOL.md records are little-endian");

namespace request_record {
inline constexpr uint32_t kTicket = 0;  // u32 x 4: slot, generation, seq, flags
inline constexpr uint32_t kHandler = 16;
inline constexpr uint32_t kMethod = 20;        // u8
inline constexpr uint32_t kMinorVersion = 21;  // u8
inline constexpr uint32_t kParamCount = 22;    // u8
inline constexpr uint32_t kKeepAlive = 23;     // u8
inline constexpr uint32_t kHeaderCount = 24;
inline constexpr uint32_t kBodyLength = 28;
inline constexpr uint32_t kTargetOffset = 32;
inline constexpr uint32_t kTargetLength = 36;
inline constexpr uint32_t kPathOffset = 40;
inline constexpr uint32_t kPathLength = 44;
inline constexpr uint32_t kQueryOffset = 48;
inline constexpr uint32_t kQueryLength = 52;
inline constexpr uint32_t kBodyOffset = 56;
inline constexpr uint32_t kTotalLength = 60;
inline constexpr uint32_t kRemotePort = 64;     // u16
inline constexpr uint32_t kLocalPort = 66;      // u16
inline constexpr uint32_t kFamily = 68;         // u8: 0 unknown, 4 IPv4, 6 IPv6
inline constexpr uint32_t kRequestFlags = 69;   // u8: kFlag*
inline constexpr uint32_t kEngineStatus = 70;   // u16 (no-bypass)
inline constexpr uint32_t kRemoteAddress = 72;  // 16 bytes, network order (IPv4: the first 4)
inline constexpr uint32_t kLocalAddress = 88;   // 16 bytes
// The method's name, for a method the engine does not name (Method::kOther: its record's method
// byte is 9); 0 and 0 otherwise.
inline constexpr uint32_t kMethodNameOffset = 104;
inline constexpr uint32_t kMethodNameLength = 108;
inline constexpr uint32_t kFixedBytes = 112;
inline constexpr uint32_t kEntryBytes = 16;  // a parameter or a header: 4 x u32

inline constexpr uint8_t kFlagBodyStreams = 1;   // body events follow; body length 0
inline constexpr uint8_t kFlagEngineAnswer = 2;  // no-bypass
}  // namespace request_record

// Event records share the request ring with request records; the handler id kHandlerId tells
// them apart. Data (type-specific) from kFixedBytes; the total is 8-byte aligned.
namespace event_record {
inline constexpr uint32_t kTicket = 0;  // u32 x 4, the request's
inline constexpr uint32_t kHandler = 16;
inline constexpr uint32_t kType = 20;  // u8; bytes 21..23 zero
inline constexpr uint32_t kDataLength = 24;
inline constexpr uint32_t kTotalLength = 28;
inline constexpr uint32_t kFixedBytes = 32;
inline constexpr uint32_t kHandlerId = 0xFFFFFFFFu;

enum Type : uint8_t {
    kAbort = 1,      // streams out: the answer can no longer be given (req.signal)
    kWritable = 2,   // streams out: an open response stream drained
    kBodyData = 3,   // streams in: the next bytes of a streamed request body
    kBodyEnd = 4,    // streams in: the body is complete
    kBodyError = 5,  // streams in: the body cannot complete; data: u32 status, then the reason
    // WebSocket (ws_bridge.h): the ticket is {socket id low, socket id high, route id (open;
    // else 0), flags}.
    kWsOpen = 32,         // data: u16 remote port, u8 family, u8 0, 16 bytes address, protocol
    kWsMessage = 33,      // flags bit 0: binary; data: the message, or its last piece
    kWsPiece = 34,        // flags bit 0: binary; data: a piece of a message, more follow
    kWsDrain = 35,        // data: u32 unsent output bytes, u32 bytes of sends applied
    kWsBackpressure = 36, // data: as kWsDrain (the output is over the route's maxBackpressure)
    kWsClose = 37,        // data: u16 code, then the reason
};
inline constexpr uint32_t kWsBinary = 1;  // the ticket's flags word of a message event
}  // namespace event_record

namespace response_record {
inline constexpr uint32_t kLength = 0;
inline constexpr uint32_t kWorker = 4;  // u16
inline constexpr uint32_t kStatus = 6;  // u16
inline constexpr uint32_t kTicket = 8;  // u32 x 4
inline constexpr uint32_t kHeaderCount = 24;
inline constexpr uint32_t kHeaderBlockLength = 28;
inline constexpr uint32_t kBodyLength = 32;
inline constexpr uint32_t kBodyKind = 36;
inline constexpr uint32_t kStashId = 40;
inline constexpr uint32_t kFlags = 44;
inline constexpr uint32_t kFixedBytes = 48;

inline constexpr uint32_t kBodyInline = 0;
inline constexpr uint32_t kBodyStashed = 1;
inline constexpr uint32_t kFlagClose = 1;
// Streamed answers (PROTOCOL.md, "Streamed responses").
inline constexpr uint32_t kFlagStreamOpen = 1u << 1;  // the head (and first bytes) of a stream
inline constexpr uint32_t kFlagStreamData = 1u << 2;  // more bytes for an open stream
inline constexpr uint32_t kFlagStreamEnd = 1u << 3;   // the stream ends after these bytes
// With kFlagStreamOpen: the stream's bytes are the response as it goes on the wire, head and
// framing included (nexurejs/http: Node's ServerResponse writes them); the record's status is
// for the after-response hooks, its headers are ignored.
inline constexpr uint32_t kFlagStreamPreframed = 1u << 6;
// Body control (streams in): status = the operation (net::BodyControl: 0 credit, 1 start,
// 2 discard), the stash-id field = the credited bytes; no headers, no body.
inline constexpr uint32_t kFlagBodyControl = 32;
// Bits 8 and 9: this answer's own say on compression (net/http/compression.h), over its
// route's: never encode it (reply.compress(false)), or encode it whatever its type and size.
inline constexpr uint32_t kFlagNoCompress = 1u << 8;
inline constexpr uint32_t kFlagForceCompress = 1u << 9;
// Bit 10: a WebSocket operation (ws_bridge.h WsOp in the status field), not an answer.
inline constexpr uint32_t kFlagWebSocket = 1u << 10;

// In the response *ring* (native code only, not part of PROTOCOL.md), a kind-1 record is the
// staged record followed by one 8-byte field: the address of the malloc'd body, which the
// worker frees once the response is framed.
inline constexpr uint32_t kStashPointerBytes = 8;
}  // namespace response_record

inline uint32_t load_u32(const char* p) noexcept {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}
inline uint16_t load_u16(const char* p) noexcept {
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}
inline void store_u16(char* p, uint16_t v) noexcept {
    std::memcpy(p, &v, sizeof(v));
}
inline void store_u32(char* p, uint32_t v) noexcept {
    std::memcpy(p, &v, sizeof(v));
}

constexpr uint32_t align8(uint32_t n) noexcept {
    return (n + 7u) & ~7u;
}

namespace event_record {
// The bytes an event record with `data_length` bytes of data takes.
constexpr uint32_t size(uint32_t data_length) noexcept {
    return align8(kFixedBytes + data_length);
}
// Writes an event record into `out` (room for size(a + b) bytes): `ticket` is the request's
// 16-byte ticket; its data is `a` then `b` (either may be empty).
inline void encode(char* out, const void* ticket, uint8_t type, const char* a, uint32_t a_length,
                   const char* b = nullptr, uint32_t b_length = 0) noexcept {
    const uint32_t n = a_length + b_length;
    std::memcpy(out + kTicket, ticket, 16);
    store_u32(out + kHandler, kHandlerId);
    store_u32(out + kType, type);  // the type byte, then three zero bytes
    store_u32(out + kDataLength, n);
    store_u32(out + kTotalLength, size(n));
    if (a_length != 0) std::memcpy(out + kFixedBytes, a, a_length);
    if (b_length != 0) std::memcpy(out + kFixedBytes + a_length, b, b_length);
    const uint32_t end = kFixedBytes + n;
    if (size(n) != end) std::memset(out + end, 0, size(n) - end);
}
}  // namespace event_record

}  // namespace nexure::napi
