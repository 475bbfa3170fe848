// JsSide: the JavaScript thread's end of one server's bridge, without any N-API (addon.cc wraps
// it): the staging buffer JS writes response records into, the pull index, moving responses into
// each worker's response ring, releasing and collecting request records, stashed bodies, and
// the doorbells in both directions (napi/PROTOCOL.md).
//
// JS thread only (one thread; the worker threads are reached through Channel). Created after
// Server::start() returned, destroyed before the Server (whose Worker objects it wakes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "alloc/result.h"
#include "napi/src/channel.h"
#include "napi/src/ref_counted.h"
#include "napi/src/stash_table.h"

namespace nexure::napi {

// A malloc'd buffer shared with JS as an external ArrayBuffer (the staging buffer, the index).
class Block final : public RefCounted {
  public:
    static Ref<Block> create(size_t bytes) noexcept;  // zero-filled; null when out of memory
    // Zero-filled pages mapped on first touch (a large buffer mostly unused, such as a
    // jsThreads inbox sized for the largest record); page-aligned; null when out of memory.
    static Ref<Block> create_mapped(size_t bytes) noexcept;
    char* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }

  private:
    Block(char* data, size_t size, bool mapped) noexcept
        : data_(data), size_(size), mapped_(mapped) {}
    ~Block() override;
    char* data_;
    size_t size_;
    bool mapped_;
};

class JsSide {
  public:
    static constexpr uint32_t kStagingBytes = 256 * 1024;
    static constexpr uint32_t kMaxPull = 1024;  // entries of the pull index
    // After the pull index's 3 x kMaxPull words, one u32 per worker: its backlog, which
    // ws.send()/publish() check against their bound (ws.cjs) — the bytes of responses (records
    // and stashed bodies) this side holds for that worker because its response ring was full,
    // plus the stashed bodies handed over that the worker has not freed yet
    // (Channel::stashed_bytes). After those, one u32: the bytes published that some worker has
    // not delivered yet (net::Server::publish_backlog()), which bounds publish() (ws.cjs).
    static constexpr uint32_t kBacklogAt = 3 * kMaxPull;

    // `channels` by worker index, every one present; `publish_backlog` reads the engine's
    // publish backlog (any thread). Allocates the staging buffer and index; check ok() afterwards.
    JsSide(std::vector<Ref<Channel>> channels, std::function<uint64_t()> publish_backlog) noexcept;
    ~JsSide();
    JsSide(const JsSide&) = delete;
    JsSide& operator=(const JsSide&) = delete;

    bool ok() const noexcept { return staging_ && index_; }
    const Ref<Block>& staging() const noexcept { return staging_; }
    const Ref<Block>& index() const noexcept { return index_; }
    const std::vector<Ref<Channel>>& channels() const noexcept { return channels_; }

    // Hands over the first `staged` bytes of the staging buffer (response records), releases
    // the previous batch of request records and fills the index with up to `max` new ones,
    // round-robin over the workers. Returns their number; 0 arms the JS doorbell. An error
    // names the malformed record (records before it were handed over).
    Result<uint32_t> pull(uint32_t staged, uint32_t max) noexcept;
    // Hands over the first `staged` bytes of the staging buffer now.
    Result<void> flush(uint32_t staged) noexcept;
    // Copies a body to native memory for a kind-1 response record; returns its id (>= 1).
    Result<uint32_t> stash(const void* data, size_t size) noexcept;
    // The same for a body already in malloc'd memory, whose ownership moves here (freed on
    // failure): a body a jsThreads thread stashed (hub.h).
    Result<uint32_t> adopt_stash(void* data, uint32_t size) noexcept;

    // Announces that the JS thread sleeps (right after start, before the first pull): the first
    // request then rings the doorbell. False when requests are already waiting (drain now).
    bool arm() noexcept;

    // Every worker's bridge is gone (its loop ended).
    bool all_finished() const noexcept;

  private:
    struct Pending {
        std::unique_ptr<char[]> bytes;
        uint32_t size = 0;
        uint32_t weight = 0;  // size plus a stashed body's bytes (the backlog it counts for)
    };
    Result<void> hand_over(uint32_t staged) noexcept;
    Result<void> check(const char* record, uint32_t offset, uint32_t space) const noexcept;
    void retry_pending() noexcept;
    // Moves pending responses of worker `w` into its ring while they fit; true when none is left.
    bool move_pending(size_t w) noexcept;
    void publish_touched() noexcept;
    // Writes the workers' backlog (pending_bytes_ and stashed_bytes) and the publish backlog
    // after the pull index, where JS reads them.
    void report_backlog() noexcept;
    uint32_t collect(uint32_t max) noexcept;
    void drop(const char* record, uint32_t size) noexcept;

    std::vector<Ref<Channel>> channels_;
    std::function<uint64_t()> publish_backlog_;
    Ref<Block> staging_;
    Ref<Block> index_;
    std::vector<uint8_t> consumed_;  // per worker: records taken by the last pull
    std::vector<uint8_t> touched_;   // per worker: responses reserved, not yet published
    // Responses the worker's full ring could not take, oldest first. Bounded by the requests in
    // flight (JS answers only requests it was given), and for WebSocket sends and publishes by
    // ws.cjs, which refuses them while the worker's backlog (kBacklogAt) is over its bound.
    std::vector<std::deque<Pending>> pending_;
    size_t pending_count_ = 0;
    std::vector<uint64_t> pending_bytes_;  // per worker: the weights of pending_[w]
    StashTable stashes_;
    size_t next_worker_ = 0;  // round-robin start of the next pull
};

}  // namespace nexure::napi
