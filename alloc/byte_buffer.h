// ByteBuffer: a growable byte array with amortised appends and retained capacity.
//
// Owned by one thread. clear() keeps the allocation so a buffer reused per request or per
// connection stops allocating once it has grown to its working size; release() gives it back.
// Pointers into it stay valid until the next call that may grow it (append/prepare/reserve).
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
    ~ByteBuffer() { std::free(data_); }
    ByteBuffer(ByteBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          capacity_(std::exchange(other.capacity_, 0)) {}
    ByteBuffer& operator=(ByteBuffer&& other) noexcept {
        if (this != &other) {
            std::free(data_);
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
    size_t capacity() const noexcept { return capacity_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view view() const noexcept { return {data_, size_}; }

    void clear() noexcept { size_ = 0; }
    void release() noexcept {
        std::free(data_);
        data_ = nullptr;
        size_ = capacity_ = 0;
    }
    void swap(ByteBuffer& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

    // Returns room for `n` more bytes at the end; commit() the part that was written.
    char* prepare(size_t n) noexcept {
        if (__builtin_expect(capacity_ - size_ < n, 0)) grow(size_ + n);
        return data_ + size_;
    }
    void commit(size_t n) noexcept { size_ += n; }

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
        if (n > capacity_) grow(n);
    }

  private:
    [[gnu::cold, gnu::noinline]] void grow(size_t need) noexcept {
        size_t cap = capacity_ < 256 ? 256 : capacity_;
        while (cap < need)
            cap *= 2;
        void* p = std::realloc(data_, cap);
        NEXURE_CHECK(p != nullptr);  // out of memory is not survivable here
        data_ = static_cast<char*>(p);
        capacity_ = cap;
    }

    char* data_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

}  // namespace nexure::alloc
