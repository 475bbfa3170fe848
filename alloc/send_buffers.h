// SendBuffers: one worker's pool of fixed-size output slabs, registered with its io_uring.
//
// Responses are framed straight into a slab; the send that carries them is a fixed-buffer send
// (IORING_RECVSEND_FIXED_BUF: the kernel skips pinning and mapping the user pages on every send)
// where the kernel accepts that for ordinary sends, and a plain send from the same slab where it
// does not. Support is probed once per process on a throw-away ring; mode() says which one is in
// use and mode_note() why. (Linux up to at least 6.18 accepts registered buffers only for
// zero-copy sends; see alloc/README.md.)
//
// The slabs are one mapping on the worker's NUMA node, on transparent huge pages where allowed,
// registered as one io_uring buffer (index 0). When every slab is in use, acquire() returns kNone
// and the caller writes to ordinary heap memory instead: exhaustion costs an allocation, it never
// stalls a connection. When the registration itself is refused (RLIMIT_MEMLOCK for an
// unprivileged user, for instance) the slabs are still used, with plain sends.
//
// Must be destroyed before the io_uring it was registered with. Owner thread only.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>
#include <vector>

#include "alloc/numa.h"
#include "alloc/result.h"

namespace nexure::alloc {

class SendBuffers {
  public:
    static constexpr uint16_t kNone = UINT16_MAX;  // slab indexes are 16 bits: up to 65535

    enum class Mode : uint8_t {
        kFixed,  // fixed-buffer sends from registered slabs
        kPlain,  // plain sends (from slabs, or heap memory when the slabs are exhausted)
    };
    struct Options {
        unsigned count = 256;       // slabs, at most 65535
        unsigned size = 16 * 1024;  // bytes per slab (a multiple of 64)
        int node = -1;              // NUMA node for the slabs
        bool allow_fixed = true;    // false: never register, always plain sends
    };

    SendBuffers() = default;
    ~SendBuffers();
    SendBuffers(const SendBuffers&) = delete;
    SendBuffers& operator=(const SendBuffers&) = delete;

    // Maps the slabs and, when fixed sends are supported and allowed, registers them with `ring`.
    // Fails only when the memory cannot be mapped or the options are invalid.
    Result<void> init(io_uring* ring, const Options& options);

    uint16_t acquire() noexcept {
        if (free_.empty()) {
            ++exhausted_;
            return kNone;
        }
        const uint16_t slab = free_.back();
        free_.pop_back();
        return slab;
    }
    void release(uint16_t slab) noexcept { free_.push_back(slab); }  // capacity reserved

    char* slab(uint16_t index) noexcept {
        return memory_.data() + static_cast<size_t>(index) * size_;
    }
    unsigned slab_size() const noexcept { return size_; }
    unsigned count() const noexcept { return count_; }
    unsigned in_use() const noexcept { return count_ - static_cast<unsigned>(free_.size()); }
    // How many times acquire() found no free slab.
    uint64_t exhausted() const noexcept { return exhausted_; }
    bool contains(const char* p) const noexcept {
        return p >= memory_.data() && p < memory_.data() + static_cast<size_t>(count_) * size_;
    }
    Mode mode() const noexcept { return mode_; }
    const std::string& mode_note() const noexcept { return note_; }
    const Mapping& memory() const noexcept { return memory_; }

    // Prepares a send of `len` bytes at `data`: a fixed-buffer send when the bytes lie in the
    // registered slabs, a plain one otherwise.
    void prep_send(io_uring_sqe* sqe, int fd, const char* data, size_t len,
                   int flags) const noexcept {
        io_uring_prep_send(sqe, fd, data, len, flags);
        if (mode_ == Mode::kFixed && contains(data)) {
            sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
            sqe->buf_index = 0;
        }
    }

    // Whether this kernel accepts IORING_RECVSEND_FIXED_BUF on IORING_OP_SEND (probed once per
    // process on a throw-away ring and socket pair). `why` receives the probe's outcome.
    static bool kernel_supports_fixed_send(std::string* why = nullptr);

  private:
    io_uring* ring_ = nullptr;
    Mapping memory_;
    std::vector<uint16_t> free_;
    unsigned count_ = 0;
    unsigned size_ = 0;
    uint64_t exhausted_ = 0;
    Mode mode_ = Mode::kPlain;
    bool registered_ = false;
    std::string note_;
};

}  // namespace nexure::alloc
