#include "alloc/buffer_ring.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace nexure::alloc {

namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;

// Maps `bytes` (a multiple of kHugePage) aligned to kHugePage and asks for transparent huge
// pages: the kernel picks receive buffers in ring order, so every buffer is touched in turn, and
// with 4 KiB pages each receive costs a TLB miss in the kernel's copy and again in the parser.
// Where THP is off this is an ordinary mapping. Returns nullptr with errno set on failure.
char* map_pool(size_t bytes, bool* huge) {
    const size_t span = bytes + kHugePage;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const auto addr = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (addr + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned > addr) munmap(raw, aligned - addr);
    const uintptr_t tail = aligned + bytes;
    if (addr + span > tail) munmap(reinterpret_cast<void*>(tail), addr + span - tail);
    char* base = reinterpret_cast<char*>(aligned);
    *huge = madvise(base, bytes, MADV_HUGEPAGE) == 0;
    // Fault the pool in now, at start-up, rather than on the first receives.
    for (size_t off = 0; off < bytes; off += 4096)
        base[off] = 0;
    return base;
}

}  // namespace

BufferRing::~BufferRing() {
    if (registered_) io_uring_unregister_buf_ring(uring_, group_);
    if (ring_ != nullptr) munmap(ring_, ring_bytes_);
    if (base_ != nullptr) munmap(base_, buffer_bytes_);
}

Result<void> BufferRing::init(io_uring* ring, uint16_t group_id, unsigned count, unsigned size) {
    NEXURE_CHECK(ring_ == nullptr);
    if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
        return Error{EINVAL,
                     "receive buffer count must be a power of two between 1 and 32768, got " +
                         std::to_string(count)};
    }
    if (size < 512) {
        return Error{EINVAL,
                     "receive buffer size must be at least 512 bytes, got " + std::to_string(size)};
    }
    uring_ = ring;
    group_ = group_id;
    count_ = count;
    size_ = size;
    ring_bytes_ = sizeof(io_uring_buf) * count;
    const size_t used = static_cast<size_t>(count) * size;
    buffer_bytes_ = (used + kHugePage - 1) & ~(kHugePage - 1);

    void* r =
        mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) {
        ring_ = nullptr;
        return Error{errno,
                     std::string("cannot map the receive buffer ring: ") + std::strerror(errno)};
    }
    ring_ = static_cast<io_uring_buf_ring*>(r);
    base_ = map_pool(buffer_bytes_, &huge_pages_);
    if (base_ == nullptr) {
        return Error{errno, "cannot map " + std::to_string(buffer_bytes_) +
                                " bytes of receive buffers: " + std::strerror(errno)};
    }

    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(ring_);
    reg.ring_entries = count;
    reg.bgid = group_id;
    const int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc < 0) {
        return Error{-rc,
                     std::string("cannot register the receive buffer ring (needs Linux 5.19+): ") +
                         std::strerror(-rc)};
    }
    registered_ = true;
    io_uring_buf_ring_init(ring_);
    for (unsigned i = 0; i < count; ++i)
        recycle(static_cast<uint16_t>(i));
    publish();
    return {};
}

}  // namespace nexure::alloc
