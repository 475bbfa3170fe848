// Recycler: the memory a brotli encoder allocates, kept for the next message. libbrotli 1.0 has
// no way to reset an encoder, so each message needs a new BrotliEncoderState; its allocations go
// through this allocator, which hands back blocks freed by the previous message (they come in
// the same sizes message after message), so a warmed-up worker asks malloc for nothing. Freed
// blocks are kept up to kKeepBytes; beyond that they go back to malloc. One thread only.
#pragma once

#include <cstddef>
#include <vector>

namespace nexure::compress::detail {

class Recycler {
  public:
    static constexpr size_t kKeepBytes = 8 * 1024 * 1024;

    Recycler() = default;
    ~Recycler();
    Recycler(const Recycler&) = delete;
    Recycler& operator=(const Recycler&) = delete;

    void* allocate(size_t size) noexcept;
    void release(void* p) noexcept;

    // brotli's callbacks (brotli_alloc_func, brotli_free_func) with `opaque` = the Recycler.
    static void* alloc_fn(void* opaque, size_t size) noexcept;
    static void free_fn(void* opaque, void* p) noexcept;

    size_t kept_bytes() const noexcept { return kept_bytes_; }

  private:
    struct Block {
        size_t size;  // usable bytes
        char* base;   // what malloc returned (the header is there)
    };
    std::vector<Block> free_;  // few blocks (brotli makes a dozen or so allocations)
    size_t kept_bytes_ = 0;
};

}  // namespace nexure::compress::detail
