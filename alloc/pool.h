// Pool<T>: one worker's fixed-size objects, reused through a free list.
//
// Objects live in blocks of `objects_per_block` (a power of two), each block one mapping on the
// worker's NUMA node, constructed when the block is added and destroyed only with the pool. So an
// object keeps what it owns (retained buffer capacity, a generation counter) from one use to the
// next, and every object has a stable address and a stable index (block * per_block + slot) that
// tagged io_uring user_data can carry. acquire() and release() are a few loads and stores: no
// atomics, no locks, no allocation except when a new block is needed.
//
// The cap: at most `max_objects` objects exist. When all are in use, acquire() returns nullptr
// and the owner decides what that means (the connection pool stops accepting until one is
// released; see net/README.md). Blocks are never given back before the pool is destroyed: a pool
// grows to its high-water mark, which the cap bounds.
//
// Owner thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "alloc/numa.h"
#include "alloc/result.h"

namespace nexure::alloc {

struct PoolOptions {
    uint32_t objects_per_block = 256;  // rounded up to a power of two
    uint32_t max_objects = 65536;      // the cap (rounded up to whole blocks)
    int node = -1;                     // NUMA node for the blocks (-1: the kernel's default)
};

template <class T>
class Pool {
  public:
    static constexpr uint32_t kNone = UINT32_MAX;
    static constexpr uint32_t kInUse = UINT32_MAX - 1;  // link of an object in use

    // `make` constructs each object in place when its block is added: make(void* where, index).
    // The default value-initialises T.
    explicit Pool(const PoolOptions& options = {},
                  std::function<void(void*, uint32_t)> make = nullptr)
        : make_(std::move(make)), node_(options.node) {
        uint32_t per = 1;
        while (per < options.objects_per_block && per < (1u << 20))
            per <<= 1;
        per_block_ = per;
        shift_ = static_cast<uint32_t>(__builtin_ctz(per));
        // In 64 bits: rounding a cap near UINT32_MAX up to whole blocks must not wrap, and the
        // top two index values are the free-list markers.
        const uint64_t max = options.max_objects == 0 ? 1 : options.max_objects;
        const uint64_t blocks = (max + per - 1) / per;
        const uint64_t index_limit = (uint64_t{kInUse} - 1) / per;
        max_blocks_ = static_cast<uint32_t>(blocks < index_limit ? blocks : index_limit);
        // Objects first, then their free-list links, in one mapping.
        links_offset_ = (sizeof(T) * per + alignof(uint32_t) - 1) & ~(alignof(uint32_t) - 1);
        block_bytes_ = links_offset_ + sizeof(uint32_t) * per;
        // The block tables are reserved for the first 1024 blocks (all of them for caps up to
        // 256 K objects at the default block size), so growth rarely reallocates them.
        const uint32_t reserve = max_blocks_ < 1024 ? max_blocks_ : 1024;
        blocks_.reserve(reserve);
        bases_.reserve(reserve);
    }

    ~Pool() {
        for (size_t b = 0; b < blocks_.size(); ++b) {
            T* objects = block_objects(b);
            for (uint32_t i = 0; i < per_block_; ++i)
                objects[i].~T();
        }
    }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // A free object, or nullptr when `max_objects` are in use (or memory for a new block could
    // not be mapped).
    T* acquire() noexcept {
        if (__builtin_expect(free_head_ == kNone, 0)) {
            if (!grow()) return nullptr;
        }
        const uint32_t index = free_head_;
        free_head_ = next_of(index);
        next_of(index) = kInUse;
        ++live_;
        return &at(index);
    }

    // Puts `object` (from this pool, in use) back on the free list; the next acquire() reuses it
    // first, while its cache lines are still warm.
    void release(T* object) noexcept { release(index_of(object)); }
    void release(uint32_t index) noexcept {
        NEXURE_ASSERT(in_use(index));
        next_of(index) = free_head_;
        free_head_ = index;
        --live_;
    }

    T& at(uint32_t index) noexcept {
        return block_objects(index >> shift_)[index & (per_block_ - 1)];
    }
    // The index of an object of this pool: a search over the blocks, so owners that keep the
    // index (given to `make`) pass it to release() instead.
    uint32_t index_of(const T* object) const noexcept {
        for (size_t b = 0; b < blocks_.size(); ++b) {
            const T* first = block_objects(b);
            if (object >= first && object < first + per_block_) {
                return static_cast<uint32_t>((b << shift_) + static_cast<size_t>(object - first));
            }
        }
        NEXURE_CHECK(false && "object is not from this pool");
        return kNone;
    }
    // Whether `index` names a constructed object (in use or free).
    bool valid(uint32_t index) const noexcept { return index < capacity(); }
    bool in_use(uint32_t index) const noexcept { return valid(index) && link(index) == kInUse; }

    uint32_t live() const noexcept { return live_; }
    uint32_t capacity() const noexcept {
        return static_cast<uint32_t>(blocks_.size()) * per_block_;
    }
    // The cap in effect: max_objects rounded up to whole blocks (and below 2^32 - 2).
    uint32_t max_objects() const noexcept { return max_blocks_ * per_block_; }
    bool full() const noexcept { return free_head_ == kNone && capacity() >= max_objects(); }
    size_t block_count() const noexcept { return blocks_.size(); }
    size_t block_bytes() const noexcept { return block_bytes_; }
    int node() const noexcept { return node_; }
    // The mapping of block `b` (for tests that check placement).
    const void* block_address(size_t b) const noexcept { return blocks_[b].data(); }

    // Calls fn(T&) for every object in use.
    template <class Fn>
    void for_each_live(Fn&& fn) {
        for (uint32_t i = 0; i < capacity(); ++i) {
            if (link(i) == kInUse) fn(at(i));
        }
    }

  private:
    // bases_ repeats blocks_[b].data(): one load less on every acquire and release.
    T* block_objects(size_t b) const noexcept { return reinterpret_cast<T*>(bases_[b]); }
    uint32_t& next_of(uint32_t index) noexcept {
        return reinterpret_cast<uint32_t*>(bases_[index >> shift_] +
                                           links_offset_)[index & (per_block_ - 1)];
    }
    uint32_t link(uint32_t index) const noexcept {
        return reinterpret_cast<const uint32_t*>(bases_[index >> shift_] +
                                                 links_offset_)[index & (per_block_ - 1)];
    }

    [[gnu::noinline]] bool grow() noexcept {
        if (blocks_.size() >= max_blocks_) return false;
        Result<Mapping> m = Mapping::map(block_bytes_, MapOptions{.node = node_, .prefault = true});
        if (!m) return false;
        blocks_.push_back(std::move(m).value());
        bases_.push_back(blocks_.back().data());
        const size_t b = blocks_.size() - 1;
        T* objects = block_objects(b);
        const auto base = static_cast<uint32_t>(b << shift_);
        for (uint32_t i = 0; i < per_block_; ++i) {
            if (make_) {
                make_(static_cast<void*>(objects + i), base + i);
            } else if constexpr (std::is_default_constructible_v<T>) {
                ::new (static_cast<void*>(objects + i)) T();
            } else {
                NEXURE_CHECK(false && "a Pool of a type without a default constructor needs make");
            }
        }
        // Link the new objects in index order, ahead of nothing (the list was empty).
        for (uint32_t i = 0; i < per_block_; ++i)
            next_of(base + i) = i + 1 < per_block_ ? base + i + 1 : kNone;
        free_head_ = base;
        return true;
    }

    std::function<void(void*, uint32_t)> make_;
    std::vector<Mapping> blocks_;
    std::vector<char*> bases_;
    uint32_t per_block_ = 0;
    uint32_t shift_ = 0;
    uint32_t max_blocks_ = 0;
    uint32_t free_head_ = kNone;
    uint32_t live_ = 0;
    size_t links_offset_ = 0;
    size_t block_bytes_ = 0;
    int node_ = -1;
};

}  // namespace nexure::alloc
