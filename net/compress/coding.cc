#include "net/compress/coding.h"

namespace nexure::compress {

std::string_view token(Coding coding) noexcept {
    switch (coding) {
        case Coding::kGzip:
            return "gzip";
        case Coding::kBrotli:
            return "br";
        case Coding::kZstd:
            return "zstd";
    }
    return "identity";
}

bool built_with(Coding coding) noexcept {
#if NEXURE_HAVE_ZSTD
    return coding == Coding::kGzip || coding == Coding::kBrotli || coding == Coding::kZstd;
#else
    return coding == Coding::kGzip || coding == Coding::kBrotli;
#endif
}

LevelRange level_range(Coding coding) noexcept {
    switch (coding) {
        case Coding::kGzip:
            return {1, 9};
        case Coding::kBrotli:
            return {0, 11};
        case Coding::kZstd:
            return {1, 19};
    }
    return {0, 0};
}

}  // namespace nexure::compress
