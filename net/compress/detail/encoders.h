// The three Encoder implementations, each in its own file (gzip.cc, brotli.cc, zstd.cc), made
// only through make_encoder() (encoder.cc).
#pragma once

#include <memory>

#include "net/compress/encoder.h"

namespace nexure::compress::detail {

std::unique_ptr<Encoder> make_gzip(int level) noexcept;
std::unique_ptr<Encoder> make_brotli(int quality) noexcept;
std::unique_ptr<Encoder> make_zstd(int level) noexcept;  // nullptr without libzstd

}  // namespace nexure::compress::detail
