// IoOps: one worker's table of application io_uring operations in flight (net/io.h) — the
// callback of each, found again from its completion's user_data {op, generation, slot}. Owned by
// the worker's WorkerServer; worker thread only.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <vector>

#include "engine/ring.h"
#include "net/io.h"

namespace nexure::net::detail {

class IoOps {
  public:
    IoOps(engine::Ring& ring, uint8_t op) noexcept : ring_(ring), op_(op) {}
    IoOps(const IoOps&) = delete;
    IoOps& operator=(const IoOps&) = delete;

    io_uring_sqe* sqe() noexcept { return ring_.get_sqe(); }
    uint64_t track(IoDone done);

    bool owns(uint8_t op) const noexcept { return op == op_; }
    // Runs the callback of the operation `cqe` completes (a stale one is dropped).
    void on_completion(const io_uring_cqe& cqe) noexcept;
    // Operations in flight (the worker's drain waits for them).
    uint32_t live() const noexcept { return live_; }
    // The worker is going away: operations still in flight are cancelled and waited for (at most
    // a second: file operations end quickly), their callbacks dropped unrun, so that no buffer
    // a callback owns is freed while the kernel may still write into it.
    void teardown() noexcept;

  private:
    struct Slot {
        IoDone done;
        uint32_t generation = 1;
        bool busy = false;
    };
    engine::Ring& ring_;
    const uint8_t op_;
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_;
    uint32_t live_ = 0;
};

}  // namespace nexure::net::detail
