// The byte layouts of napi/PROTOCOL.md: request records (worker -> JS) and response records
// (JS -> worker). Offsets are from the record's first byte; all integers little-endian (the
// engine only runs on little-endian Linux targets, so they are native stores). Pure values, any
// thread; no node headers (included by engine-thread code).
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
inline constexpr uint32_t kFixedBytes = 64;
inline constexpr uint32_t kEntryBytes = 16;  // a parameter or a header: 4 x u32
}  // namespace request_record

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
inline void store_u32(char* p, uint32_t v) noexcept {
    std::memcpy(p, &v, sizeof(v));
}

constexpr uint32_t align8(uint32_t n) noexcept {
    return (n + 7u) & ~7u;
}

}  // namespace nexure::napi
