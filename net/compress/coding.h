// The content codings nexure::compress produces (RFC 9110 8.4.1): gzip (zlib), br (libbrotli) and
// zstd (libzstd, when the build found it: NEXURE_ZSTD). Pure values; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace nexure::compress {

enum class Coding : uint8_t { kGzip = 1, kBrotli = 2, kZstd = 3 };

// The token that goes in Content-Encoding: "gzip", "br", "zstd".
std::string_view token(Coding coding) noexcept;

// Whether this build can produce `coding` (gzip and br always; zstd only with libzstd).
bool built_with(Coding coding) noexcept;

// Compression levels, one per coding. The defaults are the usual ones for answers compressed as
// they are sent: zlib's default 6, brotli 4 (the quality CDNs and @fastify/compress use on the
// fly; 11 is for precompressing), zstd's default 3.
struct Levels {
    int gzip = 6;    // 1..9
    int brotli = 4;  // 0..11
    int zstd = 3;    // 1..19
};

// The valid level range of a coding.
struct LevelRange {
    int min;
    int max;
};
LevelRange level_range(Coding coding) noexcept;

}  // namespace nexure::compress
