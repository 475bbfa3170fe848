// BufferRing: an io_uring provided-buffer ring for receives, owned by one worker.
//
// The kernel picks a buffer for each receive completion (IORING_CQE_F_BUFFER, buffer id in the
// upper 16 bits of cqe->flags). The owner hands buffers back with recycle() as soon as nothing
// points into them, and publish()es the returned ones once per loop turn (one store of the tail).
// Memory: `count` buffers of `size` bytes in one anonymous mapping, 2 MiB-aligned and rounded up to
// 2 MiB, with transparent huge pages requested (MADV_HUGEPAGE) and faulted in at init; plus the
// ring of descriptors.
// Must be destroyed before the io_uring it was registered with. Owner thread only.
#pragma once

#include <liburing.h>

#include <cstdint>

#include "alloc/numa.h"
#include "alloc/result.h"

namespace nexure::alloc {

class BufferRing {
  public:
    BufferRing() = default;
    ~BufferRing();
    BufferRing(const BufferRing&) = delete;
    BufferRing& operator=(const BufferRing&) = delete;

    // `count` must be a power of two <= 32768. Registers the ring as buffer group `group_id`.
    // The buffers are placed on NUMA node `node` (-1: wherever the kernel's policy puts them).
    Result<void> init(io_uring* ring, uint16_t group_id, unsigned count, unsigned size,
                      int node = -1);

    uint16_t group() const noexcept { return group_; }
    unsigned buffer_size() const noexcept { return size_; }
    unsigned count() const noexcept { return count_; }
    char* buffer(uint16_t bid) noexcept { return pool_.data() + static_cast<size_t>(bid) * size_; }
    // Whether the kernel accepted MADV_HUGEPAGE for the pool (THP "madvise" or "always" mode).
    bool huge_pages_requested() const noexcept { return pool_.huge_pages(); }
    size_t mapped_bytes() const noexcept { return pool_.size(); }
    // The node the buffers were bound to, or -1 (see Mapping::node()).
    int node() const noexcept { return pool_.node(); }

    // Gives buffer `bid` back to the kernel (visible after the next publish()).
    void recycle(uint16_t bid) noexcept {
        io_uring_buf_ring_add(ring_, buffer(bid), size_, bid, io_uring_buf_ring_mask(count_),
                              pending_);
        ++pending_;
    }
    void publish() noexcept {
        if (pending_ != 0) {
            io_uring_buf_ring_advance(ring_, pending_);
            pending_ = 0;
        }
    }

  private:
    io_uring* uring_ = nullptr;
    io_uring_buf_ring* ring_ = nullptr;
    Mapping pool_;
    size_t ring_bytes_ = 0;
    unsigned count_ = 0;
    unsigned size_ = 0;
    int pending_ = 0;
    uint16_t group_ = 0;
    bool registered_ = false;
};

}  // namespace nexure::alloc
