#include "alloc/buffer_ring.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace nexure::alloc {

BufferRing::~BufferRing() {
    if (registered_) io_uring_unregister_buf_ring(uring_, group_);
    if (ring_ != nullptr) munmap(ring_, ring_bytes_);
}

Result<void> BufferRing::init(io_uring* ring, uint16_t group_id, unsigned count, unsigned size,
                              int node) {
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

    void* r =
        mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) {
        ring_ = nullptr;
        return Error{errno,
                     std::string("cannot map the receive buffer ring: ") + std::strerror(errno)};
    }
    ring_ = static_cast<io_uring_buf_ring*>(r);
    // One 2 MiB-aligned span with transparent huge pages requested: the kernel picks receive
    // buffers in ring order, so every buffer is touched in turn, and with 4 KiB pages each
    // receive costs a TLB miss in the kernel's copy and again in the parser. Faulted in now, on
    // the worker's node, rather than on the first receives.
    Result<Mapping> pool =
        Mapping::map(static_cast<size_t>(count) * size,
                     MapOptions{.node = node, .huge_pages = true, .prefault = true});
    if (!pool) {
        return Error{pool.error().code, "receive buffers: " + pool.error().message};
    }
    pool_ = std::move(pool).value();

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
