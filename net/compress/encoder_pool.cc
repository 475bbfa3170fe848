#include "net/compress/encoder_pool.h"

namespace nexure::compress {

std::unique_ptr<Encoder> EncoderPool::take(Coding coding, uint64_t size_hint) noexcept {
    auto& idle = idle_[static_cast<size_t>(coding) & 3];
    std::unique_ptr<Encoder> e;
    if (!idle.empty()) {
        e = std::move(idle.back());
        idle.pop_back();
    } else {
        const int level = coding == Coding::kGzip     ? levels_.gzip
                          : coding == Coding::kBrotli ? levels_.brotli
                                                      : levels_.zstd;
        e = make_encoder(coding, level);
        if (!e) return nullptr;
        ++made_;
    }
    e->reset(size_hint);
    return e;
}

void EncoderPool::give(std::unique_ptr<Encoder> encoder) noexcept {
    if (!encoder) return;
    auto& idle = idle_[static_cast<size_t>(encoder->coding()) & 3];
    if (idle.size() >= kKeepPerCoding) return;  // freed here
    try {
        idle.push_back(std::move(encoder));
    } catch (...) {
        // no memory for the list: the encoder is freed
    }
}

}  // namespace nexure::compress
