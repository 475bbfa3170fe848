// ThreadSide: a JavaScript thread's end of a Hub (createApp's `jsThreads`, hub.h): what the
// binding's pull()/flush()/stash() do on a thread that runs an app's handlers without owning
// the engine's rings. Its records come from its lane (copied into its inbox, which JS reads as
// every worker's request view), its answers go to the hub, which the server's own thread
// forwards into the response rings.
//
// The thread's own; created by binding.attachThread(), destroyed with its handle or its env
// (the thread leaving: Hub::detach()). No N-API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "alloc/result.h"
#include "napi/src/hub.h"
#include "napi/src/js_side.h"
#include "napi/src/stash_table.h"

namespace nexure::napi {

class ThreadSide {
  public:
    // `workers`: the engine's worker count (the records' worker indexes); `inbox_bytes`: at
    // least the largest record (the request ring's capacity); `fd`: this thread's doorbell.
    ThreadSide(Ref<Hub> hub, uint32_t lane, uint32_t workers, size_t inbox_bytes,
               int fd) noexcept;
    ~ThreadSide();
    ThreadSide(const ThreadSide&) = delete;
    ThreadSide& operator=(const ThreadSide&) = delete;

    bool ok() const noexcept { return staging_ && index_ && inbox_; }
    // Joins the lane; false when another thread holds it.
    bool attach() noexcept;
    uint32_t lane() const noexcept { return lane_; }
    const Ref<Block>& staging() const noexcept { return staging_; }
    const Ref<Block>& index() const noexcept { return index_; }
    const Ref<Block>& inbox() const noexcept { return inbox_; }

    // As JsSide's: posts the staged answers, then takes the lane's next records (at most one
    // request) into the inbox and the index. 0: nothing waits, the doorbell rings when
    // something comes.
    Result<uint32_t> pull(uint32_t staged, uint32_t max) noexcept;
    Result<void> flush(uint32_t staged) noexcept;
    Result<uint32_t> stash(const void* data, size_t size) noexcept { return stashes_.copy(data, size); }
    // Nothing more comes: the engine has ended.
    bool finished() const noexcept { return hub_->finished(); }

  private:
    Ref<Hub> hub_;
    uint32_t lane_;
    uint32_t workers_;
    bool attached_ = false;
    Ref<Block> staging_;
    Ref<Block> index_;
    Ref<Block> inbox_;
    int fd_;
    StashTable stashes_;
    std::vector<Hub::Stashed> stashed_;  // hand-over scratch
};

}  // namespace nexure::napi
