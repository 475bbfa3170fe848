#include "net/ws/frame.h"

#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace nexure::net::ws {

bool valid_close_code(uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

HeaderStatus parse_frame_header(std::string_view bytes, FrameHeader& out) noexcept {
    const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t n = bytes.size();
    if (n < 2) return HeaderStatus::kIncomplete;
    const uint8_t b0 = b[0];
    const uint8_t b1 = b[1];
    const bool masked = (b1 & 0x80) != 0;
    const uint8_t len7 = b1 & 0x7F;
    size_t size = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
    if (n < size) return HeaderStatus::kIncomplete;

    uint64_t length = len7;
    size_t at = 2;
    if (len7 == 126) {
        length = (uint64_t{b[2]} << 8) | b[3];
        if (length < 126) return HeaderStatus::kInvalid;  // not the minimal encoding
        at = 4;
    } else if (len7 == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i)
            length = (length << 8) | b[2 + i];
        if ((length >> 63) != 0 || length <= 0xFFFF) return HeaderStatus::kInvalid;
        at = 10;
    }
    out.fin = (b0 & 0x80) != 0;
    out.rsv1 = (b0 & 0x40) != 0;
    out.rsv2 = (b0 & 0x20) != 0;
    out.rsv3 = (b0 & 0x10) != 0;
    out.opcode = static_cast<Opcode>(b0 & 0x0F);
    out.masked = masked;
    out.mask = 0;
    if (masked) std::memcpy(&out.mask, b + at, 4);
    out.length = length;
    out.header_size = static_cast<uint8_t>(size);
    return HeaderStatus::kComplete;
}

size_t write_frame_header(char* out, Opcode opcode, bool fin, bool rsv1, uint64_t length,
                          const uint32_t* mask) noexcept {
    auto* o = reinterpret_cast<uint8_t*>(out);
    o[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) |
                                (static_cast<uint8_t>(opcode) & 0x0F));
    const uint8_t mask_bit = mask != nullptr ? 0x80 : 0;
    size_t at;
    if (length < 126) {
        o[1] = static_cast<uint8_t>(mask_bit | length);
        at = 2;
    } else if (length <= 0xFFFF) {
        o[1] = mask_bit | 126;
        o[2] = static_cast<uint8_t>(length >> 8);
        o[3] = static_cast<uint8_t>(length);
        at = 4;
    } else {
        o[1] = mask_bit | 127;
        for (int i = 0; i < 8; ++i)
            o[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
        at = 10;
    }
    if (mask != nullptr) {
        std::memcpy(o + at, mask, 4);
        at += 4;
    }
    return at;
}

void apply_mask(char* data, size_t n, uint32_t mask, uint64_t offset) noexcept {
    // Rotate the key so that its first byte in memory applies to data[0].
    const unsigned shift = static_cast<unsigned>(offset & 3) * 8;
    uint32_t key = mask;
    if (shift != 0) {
        if constexpr (std::endian::native == std::endian::little)
            key = std::rotr(mask, static_cast<int>(shift));
        else
            key = std::rotl(mask, static_cast<int>(shift));
    }
    size_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i k = _mm_set1_epi32(static_cast<int>(key));
        for (; i + 64 <= n; i += 64) {
            auto* p = reinterpret_cast<__m128i*>(data + i);
            __m128i a = _mm_loadu_si128(p);
            __m128i b = _mm_loadu_si128(p + 1);
            __m128i c = _mm_loadu_si128(p + 2);
            __m128i d = _mm_loadu_si128(p + 3);
            _mm_storeu_si128(p, _mm_xor_si128(a, k));
            _mm_storeu_si128(p + 1, _mm_xor_si128(b, k));
            _mm_storeu_si128(p + 2, _mm_xor_si128(c, k));
            _mm_storeu_si128(p + 3, _mm_xor_si128(d, k));
        }
        for (; i + 16 <= n; i += 16) {
            auto* p = reinterpret_cast<__m128i*>(data + i);
            _mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), k));
        }
    }
#endif
    const uint64_t key64 = (uint64_t{key} << 32) | key;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, data + i, 8);
        w ^= key64;
        std::memcpy(data + i, &w, 8);
    }
    uint8_t kb[4];
    std::memcpy(kb, &key, 4);
    // i is a multiple of 4 here, so the rotated key starts again at its first byte.
    for (size_t j = 0; i < n; ++i, ++j)
        data[i] = static_cast<char>(static_cast<uint8_t>(data[i]) ^ kb[j & 3]);
}

void append_frame(alloc::ByteBuffer& out, Opcode opcode, bool fin, bool rsv1,
                  std::string_view payload, const uint32_t* mask) noexcept {
    const size_t header = frame_header_size(payload.size(), mask != nullptr);
    char* p = out.prepare(header + payload.size());
    write_frame_header(p, opcode, fin, rsv1, payload.size(), mask);
    if (!payload.empty()) {
        std::memcpy(p + header, payload.data(), payload.size());
        if (mask != nullptr) apply_mask(p + header, payload.size(), *mask, 0);
    }
    out.commit(header + payload.size());
}

}  // namespace nexure::net::ws
