// Region: a bump allocator over chained chunks, reset in O(1).
//
// Allocation moves a cursor through the current chunk; when the chunk is full the next one is
// taken from the region's ChunkCache. Nothing is freed one by one: reset() hands every chunk but
// the first back to the cache with one list splice and rewinds the cursor, so its cost does not
// depend on how many allocations were made. (A request that does not fit in the current chunk and
// needs more than a quarter of a chunk gets a mapping of its own, so that the current chunk is not
// abandoned half empty; reset() gives it back to the cache, which keeps it for the next large
// request up to a byte budget and unmaps it beyond.) Destructors are never run, so only trivially
// destructible objects may be placed in a region (make<T>() checks this at compile time).
//
// ChunkCache: the chunks of one worker, of one size, placed on the worker's NUMA node, kept for
// reuse up to a cap (chunks returned beyond the cap are unmapped by trim(), never on reset()).
// Mappings made for large allocations are kept too, up to a byte budget, and reused for any later
// large allocation that fits: a worker that keeps receiving large bodies maps and faults their
// pages once, not per request.
//
// AddressSanitizer builds poison what a region has not handed out and everything reset() takes
// back, so a use after reset is reported as use-after-poison. Owner thread only; no atomics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

#include "alloc/result.h"

#if defined(__SANITIZE_ADDRESS__)
#define NEXURE_REGION_ASAN 1
#include <sanitizer/asan_interface.h>
#else
#define NEXURE_REGION_ASAN 0
#endif

namespace nexure::alloc {

class ChunkCache;

namespace detail {
struct Chunk {
    Chunk* next;
    size_t size;    // usable bytes after the header
    bool oversize;  // made for one large request: back to the cache's oversize list on reset
    char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
};

// Marks memory as not to be touched (or as usable again) in AddressSanitizer builds; no-ops
// otherwise.
inline void poison([[maybe_unused]] const void* p, [[maybe_unused]] size_t n) noexcept {
#if NEXURE_REGION_ASAN
    __asan_poison_memory_region(p, n);
#endif
}
inline void unpoison([[maybe_unused]] const void* p, [[maybe_unused]] size_t n) noexcept {
#if NEXURE_REGION_ASAN
    __asan_unpoison_memory_region(p, n);
#endif
}
}  // namespace detail

class ChunkCache {
  public:
    struct Options {
        size_t chunk_bytes = 64 * 1024;  // per chunk, header included (rounded to the page size)
        size_t max_cached = 64;          // chunks kept for reuse beyond those in use
        int node = -1;                   // NUMA node for chunk memory (-1: kernel default)
        size_t max_cached_oversize_bytes = 0;  // large-allocation mappings kept for reuse
    };

    ChunkCache() : ChunkCache(Options{}) {}
    explicit ChunkCache(const Options& options) noexcept;
    ~ChunkCache();
    ChunkCache(const ChunkCache&) = delete;
    ChunkCache& operator=(const ChunkCache&) = delete;

    // Usable bytes in a standard chunk.
    size_t chunk_capacity() const noexcept { return chunk_bytes_ - sizeof(detail::Chunk); }
    int node() const noexcept { return node_; }
    size_t cached() const noexcept { return cached_; }
    // Chunks currently mapped (in regions or cached), standard size only.
    size_t mapped() const noexcept { return mapped_; }
    // Bytes of large-allocation mappings kept for reuse.
    size_t oversize_cached_bytes() const noexcept { return oversize_cached_bytes_; }

    // Unmaps cached chunks beyond the cap. Called off the hot path (once per loop turn).
    void trim() noexcept;

  private:
    friend class Region;

    detail::Chunk* take() noexcept;
    detail::Chunk* make_oversize(size_t usable) noexcept;
    void release_oversize(detail::Chunk* chunk) noexcept;
    // Takes a list of `count` standard chunks back in O(1).
    void give_list(detail::Chunk* first, detail::Chunk* last, size_t count) noexcept;
    detail::Chunk* map_chunk(size_t bytes) noexcept;
    void unmap_chunk(detail::Chunk* chunk, size_t bytes) noexcept;

    size_t chunk_bytes_;
    size_t max_cached_;
    int node_;
    size_t max_oversize_bytes_;
    detail::Chunk* free_ = nullptr;
    size_t cached_ = 0;
    size_t mapped_ = 0;
    detail::Chunk* oversize_free_ = nullptr;  // kept large-allocation mappings
    size_t oversize_cached_bytes_ = 0;
};

class Region {
  public:
    explicit Region(ChunkCache& cache) noexcept : cache_(&cache) {}
    ~Region() { release(); }
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;

    // `n` bytes aligned to `align` (a power of two, at most 4096). Never fails: out of memory is
    // fatal, as with operator new in a noexcept context.
    void* allocate(size_t n, size_t align = alignof(std::max_align_t)) noexcept {
        auto p = (reinterpret_cast<uintptr_t>(cursor_) + (align - 1)) & ~(uintptr_t{align} - 1);
        if (__builtin_expect(p + n > reinterpret_cast<uintptr_t>(limit_) || cursor_ == nullptr,
                             0)) {
            return allocate_slow(n, align);
        }
        cursor_ = reinterpret_cast<char*>(p + n);
        last_ = reinterpret_cast<char*>(p);
        detail::unpoison(last_, n);
        return last_;
    }

    template <class T, class... Args>
    T* make(Args&&... args) noexcept {
        static_assert(std::is_trivially_destructible_v<T>,
                      "a region never runs destructors: only trivially destructible types");
        return ::new (allocate(sizeof(T), alignof(T))) T(std::forward<Args>(args)...);
    }

    template <class T>
    T* make_array(size_t count) noexcept {
        static_assert(std::is_trivially_destructible_v<T> && std::is_trivially_constructible_v<T>,
                      "region arrays hold trivial types");
        return static_cast<T*>(allocate(sizeof(T) * count, alignof(T)));
    }

    // A copy of `s` in the region.
    std::string_view copy(std::string_view s) noexcept;

    // Grows the block `p` of `old_size` bytes to `new_size`: in place when it is the most recent
    // allocation and its chunk has room, otherwise into a new block with the bytes copied (the
    // old block is reclaimed only by reset()). Returns the block's address.
    void* extend(void* p, size_t old_size, size_t new_size,
                 size_t align = alignof(std::max_align_t)) noexcept;

    // Forgets every allocation in O(1): the first chunk is kept, the others go back to the cache.
    void reset() noexcept;
    // Returns every chunk, the first one included (an idle owner then holds no memory).
    void release() noexcept;

    // Bytes handed out since the last reset (alignment padding included).
    size_t used() const noexcept;
    // Standard chunks held (oversize chunks are not counted).
    size_t chunk_count() const noexcept { return chunk_count_; }
    ChunkCache& cache() const noexcept { return *cache_; }

  private:
    [[gnu::noinline]] void* allocate_slow(size_t n, size_t align) noexcept;

    ChunkCache* cache_;
    detail::Chunk* head_ = nullptr;          // the current standard chunk; ->next is older
    detail::Chunk* first_ = nullptr;         // the oldest standard chunk (kept by reset)
    detail::Chunk* before_first_ = nullptr;  // the chunk linked to first_, when there are two+
    detail::Chunk* oversize_ = nullptr;      // chunks made for single large requests
    char* cursor_ = nullptr;
    char* limit_ = nullptr;
    char* last_ = nullptr;      // start of the most recent allocation (for extend)
    size_t chunk_count_ = 0;    // standard chunks held
    size_t retired_bytes_ = 0;  // bytes used in chunks other than head_
};

}  // namespace nexure::alloc
