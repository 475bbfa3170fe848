#include "alloc/region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "alloc/numa.h"

namespace nexure::alloc {

using detail::Chunk;
using detail::poison;
using detail::unpoison;

namespace {

size_t round_to_pages(size_t n) noexcept {
    const long page = sysconf(_SC_PAGESIZE);
    const size_t unit = page > 0 ? static_cast<size_t>(page) : 4096;
    return (n + unit - 1) & ~(unit - 1);
}

}  // namespace

// ---- ChunkCache ---------------------------------------------------------------------------------

ChunkCache::ChunkCache(const Options& options) noexcept
    : chunk_bytes_(round_to_pages(options.chunk_bytes < 4096 ? 4096 : options.chunk_bytes)),
      max_cached_(options.max_cached),
      node_(options.node),
      max_oversize_bytes_(options.max_cached_oversize_bytes) {}

ChunkCache::~ChunkCache() {
    // Regions must be gone (they return their chunks); what is cached is unmapped here.
    while (free_ != nullptr) {
        Chunk* c = free_;
        free_ = c->next;
        unmap_chunk(c, chunk_bytes_);
    }
    while (oversize_free_ != nullptr) {
        Chunk* c = oversize_free_;
        oversize_free_ = c->next;
        unmap_chunk(c, c->size + sizeof(Chunk));
    }
}

Chunk* ChunkCache::map_chunk(size_t bytes) noexcept {
    // Chunks are mapped lazily (faulted in on first use, on the node they are bound to), not
    // prefaulted: a region that never fills its chunk never pays for the pages it did not use.
    Result<Mapping> m = Mapping::map(bytes, MapOptions{.node = node_, .prefault = false});
    NEXURE_CHECK(m.ok());  // out of memory is not survivable on the request path
    // The chunk owns its pages from here on (unmap_chunk gives them back).
    auto* chunk = reinterpret_cast<Chunk*>(m.value().release());
    chunk->next = nullptr;
    chunk->size = bytes - sizeof(Chunk);
    chunk->oversize = false;
    return chunk;
}

void ChunkCache::unmap_chunk(Chunk* chunk, size_t bytes) noexcept {
    unpoison(chunk, bytes);
    munmap(chunk, bytes);
}

Chunk* ChunkCache::take() noexcept {
    if (free_ != nullptr) {
        Chunk* c = free_;
        free_ = c->next;
        --cached_;
        c->next = nullptr;
        return c;
    }
    ++mapped_;
    return map_chunk(chunk_bytes_);
}

Chunk* ChunkCache::make_oversize(size_t usable) noexcept {
    // The smallest kept mapping that fits (the list is short: the budget over a quarter chunk).
    Chunk** best = nullptr;
    for (Chunk** at = &oversize_free_; *at != nullptr; at = &(*at)->next) {
        if ((*at)->size >= usable && (best == nullptr || (*at)->size < (*best)->size)) best = at;
    }
    if (best != nullptr) {
        Chunk* c = *best;
        *best = c->next;
        oversize_cached_bytes_ -= c->size + sizeof(Chunk);
        c->next = nullptr;
        unpoison(c->data(), c->size);
        return c;
    }
    Chunk* c = map_chunk(round_to_pages(usable + sizeof(Chunk)));
    c->oversize = true;
    return c;
}

void ChunkCache::release_oversize(Chunk* chunk) noexcept {
    const size_t bytes = chunk->size + sizeof(Chunk);
    if (oversize_cached_bytes_ + bytes > max_oversize_bytes_) {
        unmap_chunk(chunk, bytes);
        return;
    }
    poison(chunk->data(), chunk->size);
    chunk->next = oversize_free_;
    oversize_free_ = chunk;
    oversize_cached_bytes_ += bytes;
}

void ChunkCache::give_list(Chunk* first, Chunk* last, size_t count) noexcept {
    last->next = free_;
    free_ = first;
    cached_ += count;
}

void ChunkCache::trim() noexcept {
    while (cached_ > max_cached_ && free_ != nullptr) {
        Chunk* c = free_;
        free_ = c->next;
        --cached_;
        --mapped_;
        unmap_chunk(c, chunk_bytes_);
    }
}

// ---- Region -------------------------------------------------------------------------------------

void* Region::allocate_slow(size_t n, size_t align) noexcept {
    NEXURE_CHECK(align != 0 && (align & (align - 1)) == 0 && align <= 4096);
    const size_t capacity = cache_->chunk_capacity();
    if (n + align > capacity / 4) {
        // Large: a mapping of its own, so that the standard chunk in use is not abandoned half
        // empty. Chunk data starts page-aligned + header; align inside it.
        Chunk* c = cache_->make_oversize(n + align);
        c->next = oversize_;
        oversize_ = c;
        auto p = (reinterpret_cast<uintptr_t>(c->data()) + (align - 1)) & ~(uintptr_t{align} - 1);
        retired_bytes_ += n;
        last_ = nullptr;  // not extendable in place
        return reinterpret_cast<void*>(p);
    }
    if (head_ != nullptr) retired_bytes_ += static_cast<size_t>(cursor_ - head_->data());
    Chunk* c = cache_->take();
    c->next = head_;
    if (head_ == nullptr) first_ = c;
    if (head_ == first_ && head_ != nullptr) before_first_ = c;
    head_ = c;
    ++chunk_count_;
    cursor_ = c->data();
    limit_ = c->data() + c->size;
    poison(cursor_, c->size);
    return allocate(n, align);
}

std::string_view Region::copy(std::string_view s) noexcept {
    if (s.empty()) return {};
    char* p = static_cast<char*>(allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
}

void* Region::extend(void* p, size_t old_size, size_t new_size, size_t align) noexcept {
    if (p != nullptr && p == last_ && static_cast<char*>(p) + old_size == cursor_ &&
        static_cast<size_t>(limit_ - static_cast<char*>(p)) >= new_size) {
        cursor_ = static_cast<char*>(p) + new_size;
        unpoison(p, new_size);
        return p;
    }
    void* q = allocate(new_size, align);
    if (old_size != 0) std::memcpy(q, p, old_size < new_size ? old_size : new_size);
    return q;
}

void Region::reset() noexcept {
    while (oversize_ != nullptr) {
        Chunk* c = oversize_;
        oversize_ = c->next;
        cache_->release_oversize(c);
    }
    retired_bytes_ = 0;
    last_ = nullptr;
    if (head_ == nullptr) return;
    if (head_ != first_) {
        // The chunks are linked newest first: head_ -> ... -> before_first_ -> first_. All but
        // first_ go back to the cache in one splice, however many there are.
#if NEXURE_REGION_ASAN
        for (Chunk* c = head_; c != first_; c = c->next)
            poison(c->data(), c->size);
#endif
        before_first_->next = nullptr;
        cache_->give_list(head_, before_first_, chunk_count_ - 1);
        first_->next = nullptr;
        head_ = first_;
        before_first_ = nullptr;
        chunk_count_ = 1;
    }
    cursor_ = first_->data();
    limit_ = cursor_ + first_->size;
    poison(cursor_, first_->size);
}

void Region::release() noexcept {
    reset();
    if (first_ != nullptr) cache_->give_list(first_, first_, 1);
    head_ = first_ = nullptr;
    cursor_ = limit_ = last_ = nullptr;
    chunk_count_ = 0;
}

size_t Region::used() const noexcept {
    return retired_bytes_ + (head_ != nullptr ? static_cast<size_t>(cursor_ - head_->data()) : 0);
}

}  // namespace nexure::alloc
