// ByteBuffer: a growable byte array with amortised appends and retained capacity.
//
// Owned by one thread. clear() keeps the allocation so a buffer reused per request or per
// connection stops allocating once it has grown to its working size; release() gives it back.
// Pointers into it stay valid until the next call that may grow it (append/prepare/reserve).
//
// A buffer may also write into memory it does not own (adopt(): a send slab, for instance). It
// never frees that memory; when it must grow past it, it moves its bytes to the heap and from
// then on owns its storage like any other buffer. The owner of the adopted memory decides when it
// may be reused (for a send slab: when the connection's output has drained).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "alloc/result.h"

namespace nexure::alloc {

class ByteBuffer {
  public:
    ByteBuffer() = default;
    ~ByteBuffer() { free_owned(); }
    ByteBuffer(ByteBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          capacity_(std::exchange(other.capacity_, 0)) {}
    ByteBuffer& operator=(ByteBuffer&& other) noexcept {
        if (this != &other) {
            free_owned();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
            capacity_ = std::exchange(other.capacity_, 0);
        }
        return *this;
    }
    ByteBuffer(const ByteBuffer&) = delete;
    ByteBuffer& operator=(const ByteBuffer&) = delete;

    char* data() noexcept { return data_; }
    const char* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }
    size_t capacity() const noexcept { return capacity_ & ~kAdopted; }
    // Whether the bytes live in adopted memory (see adopt()).
    bool adopted() const noexcept { return (capacity_ & kAdopted) != 0; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept { return {data_, size_}; }

    void clear() noexcept { size_ = 0; }
    // Frees owned storage, or forgets adopted memory.
    void release() noexcept {
        free_owned();
        data_ = nullptr;
        size_ = capacity_ = 0;
    }
    // Writes into `capacity` bytes at `memory`, which this buffer will never free. The buffer
    // must hold no storage (capacity() == 0).
    void adopt(char* memory, size_t capacity) noexcept {
        NEXURE_ASSERT(capacity_ == 0 && capacity < kAdopted);
        data_ = memory;
        size_ = 0;
        capacity_ = capacity | kAdopted;
    }
    void swap(ByteBuffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

    // Returns room for `n` more bytes at the end; commit() the part that was written.
    char* prepare(size_t n) noexcept {
        if (__builtin_expect(capacity() - size_ < n, 0)) grow(size_ + n);
        return data_ + size_;
    }
    void commit(size_t n) noexcept { size_ += n; }
    // Keeps the first `n` bytes (n <= size()); the capacity stays.
    void truncate(size_t n) noexcept {
        NEXURE_ASSERT(n <= size_);
        size_ = n;
    }

    void append(const void* bytes, size_t n) noexcept {
        if (n == 0) return;
        std::memcpy(prepare(n), bytes, n);
        size_ += n;
    }
    void append(std::string_view s) noexcept { append(s.data(), s.size()); }

    // Drops the first `n` bytes, moving the rest to the front.
    void consume_front(size_t n) noexcept {
        NEXURE_ASSERT(n <= size_);
        std::memmove(data_, data_ + n, size_ - n);
        size_ -= n;
    }

    void reserve(size_t n) noexcept {
        if (n > capacity()) grow(n);
    }

  private:
    // The top bit of capacity_ marks adopted memory (no buffer gets near 2^63 bytes).
    static constexpr size_t kAdopted = size_t{1} << (sizeof(size_t) * 8 - 1);

    void free_owned() noexcept {
        if (!adopted()) std::free(data_);
    }

    [[gnu::cold, gnu::noinline]] void grow(size_t need) noexcept {
        size_t cap = capacity() < 256 ? 256 : capacity();
        while (cap < need)
            cap *= 2;
        void* p;
        if (adopted()) {
            // Leave the adopted memory: copy to the heap; the memory's owner reclaims it.
            p = std::malloc(cap);
            NEXURE_CHECK(p != nullptr);
            if (size_ != 0) std::memcpy(p, data_, size_);
        } else {
            p = std::realloc(data_, cap);
            NEXURE_CHECK(p != nullptr);  // out of memory is not survivable here
        }
        data_ = static_cast<char*>(p);
        capacity_ = cap;
    }

    char* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

}  // namespace nexure::alloc
