// Ring: one io_uring instance owned by one worker thread.
//
// Created on the thread that will submit to it (IORING_SETUP_SINGLE_ISSUER requires that), and
// used only from that thread afterwards. Set-up picks the best mode the kernel offers:
// SINGLE_ISSUER | DEFER_TASKRUN, falling back to COOP_TASKRUN (and then to no task-run flags)
// when the kernel rejects them with EINVAL. If io_uring cannot be used at all (seccomp, the
// kernel.io_uring_disabled sysctl, no kernel support) set-up fails with a message naming the cause.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

#include "alloc/result.h"
#include "engine/ring_mode.h"

namespace nexure::engine {

struct RingOptions {
    unsigned sq_entries = 4096;
    unsigned cq_entries = 16384;  // multishot operations post many completions per submission
    RingMode mode = RingMode::kAuto;
};

class Ring {
  public:
    Ring() = default;
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // Sets the ring up on the calling thread. On failure the error message says what to change.
    Result<void> init(const RingOptions& options);

    // Tears the ring down (cancelling whatever is still pending). Idempotent.
    void close() noexcept;

    io_uring* raw() noexcept { return &ring_; }
    RingMode mode() const noexcept { return mode_; }  // the mode actually in use
    bool initialized() const noexcept { return initialized_; }

    // Returns a free SQE; when the submission queue is full, submits what is queued first.
    // Never returns null: a ring whose SQ stays full after a submit is a fatal state.
    io_uring_sqe* get_sqe() noexcept {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (__builtin_expect(sqe != nullptr, 1)) return sqe;
        return get_sqe_slow();
    }

    // Submits all queued SQEs and waits for at least one completion or until `timeout_ns`
    // (negative: no timeout) passes. Returns -errno like liburing; -ETIME/-EINTR are normal.
    int submit_and_wait(int64_t timeout_ns) noexcept;

  private:
    [[gnu::cold, gnu::noinline]] io_uring_sqe* get_sqe_slow() noexcept;

    io_uring ring_{};
    RingMode mode_ = RingMode::kAuto;
    bool initialized_ = false;
};

// Explains why io_uring_queue_init failed with `err` (positive errno) and what to change.
std::string describe_io_uring_setup_error(int err);

}  // namespace nexure::engine
