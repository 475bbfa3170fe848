#include "net/compress/detail/recycler.h"

#include <cstdlib>
#include <cstring>

namespace nexure::compress::detail {

namespace {
// Each block starts with its usable size, so release() knows it; 16 bytes keep the alignment
// malloc gives.
constexpr size_t kHeader = 16;
}  // namespace

Recycler::~Recycler() {
    for (const Block& b : free_)
        std::free(b.base);
}

void* Recycler::allocate(size_t size) noexcept {
    // The smallest kept block that fits and is not more than twice the size (a block much larger
    // than asked would be wasted on a small allocation).
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i) {
        const size_t s = free_[i].size;
        if (s >= size && s / 2 <= size && (best == free_.size() || s < free_[best].size)) best = i;
    }
    if (best != free_.size()) {
        char* base = free_[best].base;
        kept_bytes_ -= free_[best].size;
        free_[best] = free_.back();
        free_.pop_back();
        return base + kHeader;
    }
    char* base = static_cast<char*>(std::malloc(size + kHeader));
    if (base == nullptr) return nullptr;
    std::memcpy(base, &size, sizeof(size));
    return base + kHeader;
}

void Recycler::release(void* p) noexcept {
    if (p == nullptr) return;
    char* base = static_cast<char*>(p) - kHeader;
    size_t size;
    std::memcpy(&size, base, sizeof(size));
    if (kept_bytes_ + size > kKeepBytes) {
        std::free(base);
        return;
    }
    try {
        free_.push_back(Block{size, base});
    } catch (...) {  // no memory for the list: give the block back instead
        std::free(base);
        return;
    }
    kept_bytes_ += size;
}

void* Recycler::alloc_fn(void* opaque, size_t size) noexcept {
    return static_cast<Recycler*>(opaque)->allocate(size);
}

void Recycler::free_fn(void* opaque, void* p) noexcept {
    static_cast<Recycler*>(opaque)->release(p);
}

}  // namespace nexure::compress::detail
