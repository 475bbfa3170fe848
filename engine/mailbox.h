// Mailbox: a single-producer/single-consumer ring of variable-size records between two threads,
// with a doorbell protocol that lets the consumer sleep without losing a wake-up.
//
// It carries work across the engine's thread boundary without locks: an engine worker hands
// requests to the JavaScript thread, and that thread hands responses back (DESIGN.md, "One
// request, end to end (JavaScript handler)"). The records live in one contiguous mapping, so the
// consumer side can expose them as one buffer (an external ArrayBuffer) and read a whole batch in
// place.
//
// Records: an 8-byte header (the payload length) and the payload, padded to 8 bytes. A record
// never wraps: one that does not fit before the end of the buffer is placed at its start and the
// gap is marked as padding. A record's payload is at most capacity()/2 - 8 bytes, which guarantees
// that it fits once the consumer has caught up.
//
// Producer: try_reserve() → fill the payload → (more records) → publish(). A full ring makes
// try_reserve() return null: that is backpressure, the producer stops taking work in. publish()
// says when the consumer asked to be woken; the producer then rings its doorbell once.
//
// Consumer: next() until it returns false → release() (the producer may reuse the space);
// before sleeping, prepare_to_sleep(): false means records arrived meanwhile (drain again), true
// means sleep until the doorbell rings. The idle flag and the tail are written and read in the
// opposite order on the two sides with sequentially consistent operations, so either the consumer
// sees the new records or the producer sees the idle flag: no wake-up is lost. At most one
// doorbell is rung per prepare_to_sleep() call; one may arrive for an announcement that was
// withdrawn (the consumer then finds nothing new once and goes back to sleep), never more.
//
// Each side is one thread at a time (it may change threads with a happens-before edge between).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "alloc/numa.h"
#include "alloc/result.h"

namespace nexure::engine {

class Mailbox {
  public:
    static constexpr uint32_t kHeaderBytes = 8;
    static constexpr size_t kMinCapacity = 4096;
    static constexpr size_t kMaxCapacity = size_t{1} << 30;

    struct Record {
        char* data = nullptr;  // 8-byte aligned payload
        uint32_t size = 0;
    };

    Mailbox() = default;
    Mailbox(const Mailbox&) = delete;
    Mailbox& operator=(const Mailbox&) = delete;

    // `capacity` bytes of records: a power of two from 4 KiB to 1 GiB. The buffer is zero-filled,
    // placed on NUMA node `node` (-1: the kernel's policy).
    Result<void> init(size_t capacity, int node = -1);

    char* buffer() const noexcept { return buffer_.data(); }
    size_t capacity() const noexcept { return capacity_; }
    // The largest payload try_reserve() can ever accept.
    uint32_t max_record() const noexcept {
        return static_cast<uint32_t>(capacity_ / 2 - kHeaderBytes);
    }

    // ---- producer ----
    // Room for a record of `size` payload bytes (aligned to 8), invisible to the consumer until
    // publish(); null when the ring is full or `size` > max_record().
    char* try_reserve(uint32_t size) noexcept;
    // Shrinks the last reserved (not yet published) record to `size` bytes (<= what was
    // reserved), for a producer that reserves the most it might write and learns the real size
    // afterwards.
    void shrink_last(uint32_t size) noexcept;
    // Makes every reserved record visible. True when the consumer is asleep or going to sleep
    // and must be woken (the caller rings its doorbell); at most once per sleep.
    bool publish() noexcept;
    // Whether records were reserved since the last publish().
    bool has_unpublished() const noexcept { return write_ != tail_.load(std::memory_order_relaxed); }

    // ---- consumer ----
    // The next published record, or false when there is none. The record stays valid until
    // release().
    bool next(Record* record) noexcept;
    // Frees every record next() has returned.
    void release() noexcept;
    // Announces that the consumer is about to sleep. False when records were published in the
    // meantime (the flag is withdrawn: drain again instead); true when it may sleep, and the
    // producer's next publish() will say to wake it.
    bool prepare_to_sleep() noexcept;
    // Withdraws the announcement (after a wake-up that was not the doorbell, e.g. a timeout).
    void awake() noexcept { idle_.store(false, std::memory_order_relaxed); }

    // Bytes of records published and not yet released (either side; a snapshot).
    size_t used_bytes() const noexcept {
        return static_cast<size_t>(tail_.load(std::memory_order_acquire) -
                                   head_.load(std::memory_order_acquire));
    }

  private:
    static constexpr uint32_t kPadding = 0xFFFFFFFFu;  // header of the gap before a wrap

    static uint64_t footprint(uint32_t size) noexcept {
        return kHeaderBytes + ((static_cast<uint64_t>(size) + 7) & ~uint64_t{7});
    }
    uint32_t* header_at(uint64_t position) const noexcept {
        return reinterpret_cast<uint32_t*>(buffer_.data() + (position & mask_));
    }

    alloc::Mapping buffer_;
    size_t capacity_ = 0;
    uint64_t mask_ = 0;

    // Producer's cache line: where the next record goes, the last reserved record, the head it
    // last saw.
    alignas(64) uint64_t write_ = 0;
    uint64_t last_ = 0;
    uint64_t head_seen_ = 0;
    // Consumer's cache line: where it reads, the tail it last saw.
    alignas(64) uint64_t read_ = 0;
    uint64_t tail_seen_ = 0;
    // Shared: each written by one side.
    alignas(64) std::atomic<uint64_t> tail_{0};  // published up to (producer)
    alignas(64) std::atomic<uint64_t> head_{0};  // released up to (consumer)
    alignas(64) std::atomic<bool> idle_{false};  // the consumer sleeps or is about to
};

}  // namespace nexure::engine
