#include "net/compress/encoder.h"

#include <algorithm>

#include "net/compress/detail/encoders.h"

namespace nexure::compress {

std::unique_ptr<Encoder> make_encoder(Coding coding, int level) noexcept {
    const LevelRange range = level_range(coding);
    level = std::clamp(level, range.min, range.max);
    switch (coding) {
        case Coding::kGzip:
            return detail::make_gzip(level);
        case Coding::kBrotli:
            return detail::make_brotli(level);
        case Coding::kZstd:
            return detail::make_zstd(level);
    }
    return nullptr;
}

bool compress(Encoder& encoder, std::string_view input, alloc::ByteBuffer& out) noexcept {
    encoder.reset(input.size());
    return encoder.write(input, Flush::kFinish, out);
}

}  // namespace nexure::compress
