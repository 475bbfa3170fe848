#include "net/io.h"

#include <utility>

#include "alloc/result.h"
#include "engine/op_tag.h"
#include "engine/worker.h"
#include "net/detail/io_ops.h"
#include "net/detail/loop_state.h"

namespace nexure::net {

namespace {

detail::IoOps& current_io() noexcept {
    const std::shared_ptr<detail::LoopState>* loop = detail::current_loop();
    NEXURE_CHECK(loop != nullptr && (*loop)->io != nullptr &&
                 "net::io() called outside a worker thread");
    return *(*loop)->io;
}

}  // namespace

namespace detail {

io_uring_sqe* io_sqe() noexcept {
    return current_io().sqe();
}

uint64_t io_track(IoDone done) {
    return current_io().track(std::move(done));
}

uint64_t IoOps::track(IoDone done) {
    uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    Slot& s = slots_[slot];
    s.done = std::move(done);
    s.busy = true;
    ++live_;
    return engine::make_tag(op_, s.generation, slot);
}

void IoOps::on_completion(const io_uring_cqe& cqe) noexcept {
    const engine::OpTag tag = engine::OpTag::unpack(cqe.user_data);
    if (tag.slot >= slots_.size()) return;
    Slot& s = slots_[tag.slot];
    if (!s.busy || (s.generation & engine::OpTag::kGenerationMask) != tag.generation) return;
    IoDone done = std::move(s.done);
    s.busy = false;
    ++s.generation;
    free_.push_back(tag.slot);
    --live_;
    if (done) done(cqe.res);  // may start new operations (slots_ may grow: `s` is not used after)
}

void IoOps::teardown() noexcept {
    if (live_ == 0) return;
    io_uring* ring = ring_.raw();
    for (uint32_t i = 0; i < slots_.size(); ++i) {
        if (!slots_[i].busy) continue;
        io_uring_sqe* sqe = ring_.get_sqe();
        io_uring_prep_cancel64(sqe, engine::make_tag(op_, slots_[i].generation, i), 0);
        io_uring_sqe_set_data64(sqe, engine::make_tag(static_cast<uint8_t>(engine::Op::kIgnore), 0, 0));
    }
    io_uring_submit(ring);
    const uint64_t deadline = engine::Worker::monotonic_ns() + 1'000'000'000;
    while (live_ != 0 && engine::Worker::monotonic_ns() < deadline) {
        __kernel_timespec wait{.tv_sec = 0, .tv_nsec = 50'000'000};
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe_timeout(ring, &cqe, &wait) != 0 || cqe == nullptr) continue;
        const engine::OpTag tag = engine::OpTag::unpack(cqe->user_data);
        if (tag.op == op_ && tag.slot < slots_.size() && slots_[tag.slot].busy &&
            (slots_[tag.slot].generation & engine::OpTag::kGenerationMask) == tag.generation) {
            Slot& s = slots_[tag.slot];
            s.busy = false;
            ++s.generation;
            --live_;
            IoDone dropped = std::move(s.done);  // unrun
        }
        io_uring_cqe_seen(ring, cqe);
    }
    for (Slot& s : slots_) {
        if (!s.busy) continue;
        // Still in flight after a second: its callback (and what it owns) is leaked rather than
        // freed under the kernel's feet.
        new IoDone(std::move(s.done));
        s.busy = false;
    }
    live_ = 0;
}

}  // namespace detail

}  // namespace nexure::net
