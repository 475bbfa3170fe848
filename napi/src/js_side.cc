#include "napi/src/js_side.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "engine/worker.h"
#include "napi/src/records.h"
#include "napi/src/ws_bridge.h"

namespace nexure::napi {

namespace {

Error bad_record(uint32_t offset, const char* why) {
    return Error{EINVAL,
                 "response record at staging offset " + std::to_string(offset) + ": " + why};
}

}  // namespace

Ref<Block> Block::create(size_t bytes) noexcept {
    // 64-byte aligned: JS views it as Uint32Array / Float64Array / DataView at any 8-byte step.
    void* data = std::aligned_alloc(64, (bytes + 63) & ~size_t{63});
    if (data == nullptr) return {};
    std::memset(data, 0, bytes);
    auto* block = new (std::nothrow) Block(static_cast<char*>(data), bytes, false);
    if (block == nullptr) {
        std::free(data);
        return {};
    }
    return Ref<Block>::adopt(block);
}

Ref<Block> Block::create_mapped(size_t bytes) noexcept {
    void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) return {};
    auto* block = new (std::nothrow) Block(static_cast<char*>(data), bytes, true);
    if (block == nullptr) {
        munmap(data, bytes);
        return {};
    }
    return Ref<Block>::adopt(block);
}

Block::~Block() {
    if (mapped_) {
        munmap(data_, size_);
    } else {
        std::free(data_);
    }
}

JsSide::JsSide(std::vector<Ref<Channel>> channels,
               std::function<uint64_t()> publish_backlog) noexcept
    : channels_(std::move(channels)),
      publish_backlog_(std::move(publish_backlog)),
      staging_(Block::create(kStagingBytes)),
      index_(Block::create((size_t{kBacklogAt} + channels_.size() + 1) * sizeof(uint32_t))),
      consumed_(channels_.size(), 0),
      touched_(channels_.size(), 0),
      pending_(channels_.size()),
      pending_bytes_(channels_.size(), 0) {}

JsSide::~JsSide() {
    for (auto& queue : pending_) {
        for (const Pending& p : queue)
            drop(p.bytes.get(), p.size);
    }
}

bool JsSide::all_finished() const noexcept {
    for (const Ref<Channel>& c : channels_) {
        if (!c->finished.load(std::memory_order_acquire)) return false;
    }
    return true;
}

void JsSide::drop(const char* record, uint32_t size) noexcept {
    free_stashed_body(engine::Mailbox::Record{const_cast<char*>(record), size});
}

Result<void> JsSide::check(const char* r, uint32_t offset, uint32_t space) const noexcept {
    using namespace response_record;
    if (space < kFixedBytes) return bad_record(offset, "shorter than the 48-byte header");
    const uint32_t length = load_u32(r + kLength);
    if (length < kFixedBytes || length % 8 != 0 || length > space) {
        return bad_record(offset, "its length is not a multiple of 8 within the staged bytes");
    }
    if (load_u16(r + kWorker) >= channels_.size()) return bad_record(offset, "no such worker");
    if (load_u32(r + kFlags) & kFlagBodyControl) {
        if (load_u32(r + kHeaderCount) != 0 || load_u32(r + kHeaderBlockLength) != 0 ||
            load_u32(r + kBodyLength) != 0 || load_u32(r + kBodyKind) != kBodyInline) {
            return bad_record(offset, "a body-control record carries no headers and no body");
        }
        if (load_u16(r + kStatus) > 2) return bad_record(offset, "unknown body-control operation");
        return {};
    }
    const uint32_t header_count = load_u32(r + kHeaderCount);
    const uint32_t block = load_u32(r + kHeaderBlockLength);
    if (block > length - kFixedBytes) return bad_record(offset, "the header block overruns it");
    const char* h = r + kFixedBytes;
    const char* end = h + block;
    for (uint32_t i = 0; i < header_count; ++i) {
        if (end - h < 4) return bad_record(offset, "a header overruns the header block");
        const uint32_t n = 4u + load_u16(h) + load_u16(h + 2);
        if (static_cast<uint32_t>(end - h) < n) {
            return bad_record(offset, "a header overruns the header block");
        }
        h += n;
    }
    if (h != end) return bad_record(offset, "the header block is longer than its headers");
    const uint32_t body = load_u32(r + kBodyLength);
    if (load_u32(r + kFlags) & kFlagWebSocket) {
        if (const char* why = check_ws_record(r, body)) return bad_record(offset, why);
    }
    switch (load_u32(r + kBodyKind)) {
        case kBodyInline:
            if (body > length - kFixedBytes - block)
                return bad_record(offset, "the body overruns it");
            break;
        case kBodyStashed: {
            if (const char* why = stashes_.check(load_u32(r + kStashId), body)) {
                return bad_record(offset, why);
            }
            break;
        }
        default:
            return bad_record(offset, "unknown body kind");
    }
    return {};
}

Result<void> JsSide::hand_over(uint32_t staged) noexcept {
    using namespace response_record;
    retry_pending();
    if (staged > kStagingBytes) {
        return Error{EINVAL, "staged byte count " + std::to_string(staged) +
                                 " is larger than the staging buffer"};
    }
    Result<void> result;
    uint32_t offset = 0;
    while (offset < staged) {
        const char* r = staging_->data() + offset;
        if (Result<void> ok = check(r, offset, staged - offset); !ok) {
            result = ok;
            break;
        }
        const uint32_t length = load_u32(r + kLength);
        const size_t w = load_u16(r + kWorker);
        const bool stashed = load_u32(r + kBodyKind) == kBodyStashed;
        void* body = nullptr;
        if (stashed) {
            // Ownership moves to the record: the worker frees it after framing.
            body = stashes_.take(load_u32(r + kStashId));
        }
        const uint32_t size = length + (stashed ? kStashPointerBytes : 0);
        Channel& channel = *channels_[w];
        char* out = nullptr;
        if (channel.finished.load(std::memory_order_acquire)) {
            std::free(body);  // its worker has ended: nobody is waiting for it
        } else if (pending_[w].empty() && (out = channel.responses().try_reserve(size))) {
            std::memcpy(out, r, length);
            if (stashed) {
                std::memcpy(out + length, &body, sizeof(body));
                channel.stashed_bytes.fetch_add(load_u32(r + kBodyLength),
                                                std::memory_order_relaxed);
            }
            touched_[w] = 1;
        } else {
            Pending p;
            p.bytes.reset(new (std::nothrow) char[size]);
            if (!p.bytes) {
                std::free(body);
                result = Error{ENOMEM, "out of memory holding a response for a busy worker"};
                break;
            }
            std::memcpy(p.bytes.get(), r, length);
            if (stashed) std::memcpy(p.bytes.get() + length, &body, sizeof(body));
            p.size = size;
            p.weight = size + (stashed ? load_u32(r + kBodyLength) : 0);
            pending_bytes_[w] += p.weight;
            pending_[w].push_back(std::move(p));
            ++pending_count_;
        }
        offset += length;
    }
    if (pending_count_ != 0) retry_pending();
    publish_touched();
    report_backlog();
    return result;
}

void JsSide::report_backlog() noexcept {
    auto* backlog = reinterpret_cast<uint32_t*>(index_->data()) + kBacklogAt;
    for (size_t w = 0; w < channels_.size(); ++w) {
        const uint64_t held =
            pending_bytes_[w] + channels_[w]->stashed_bytes.load(std::memory_order_relaxed);
        backlog[w] = static_cast<uint32_t>(std::min<uint64_t>(held, UINT32_MAX));
    }
    const uint64_t published = publish_backlog_ ? publish_backlog_() : 0;
    backlog[channels_.size()] = static_cast<uint32_t>(std::min<uint64_t>(published, UINT32_MAX));
}

bool JsSide::move_pending(size_t w) noexcept {
    Channel& channel = *channels_[w];
    std::deque<Pending>& queue = pending_[w];
    const bool finished = channel.finished.load(std::memory_order_acquire);
    while (!queue.empty()) {
        Pending& p = queue.front();
        if (finished) {
            drop(p.bytes.get(), p.size);
        } else {
            char* out = channel.responses().try_reserve(p.size);
            if (out == nullptr) return false;
            std::memcpy(out, p.bytes.get(), p.size);
            if (p.weight > p.size) {
                channel.stashed_bytes.fetch_add(p.weight - p.size, std::memory_order_relaxed);
            }
            touched_[w] = 1;
        }
        pending_bytes_[w] -= p.weight;
        queue.pop_front();
        --pending_count_;
    }
    return true;
}

void JsSide::retry_pending() noexcept {
    if (pending_count_ == 0) return;
    for (size_t w = 0; w < channels_.size(); ++w) {
        if (pending_[w].empty() || move_pending(w)) continue;
        // Still full: ask the worker to ring our doorbell once it has consumed some, then look
        // again (pairs with the fence after the worker's Mailbox::release()).
        Channel& channel = *channels_[w];
        channel.js_wants_room.store(true, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (move_pending(w)) channel.js_wants_room.store(false, std::memory_order_relaxed);
    }
}

void JsSide::publish_touched() noexcept {
    for (size_t w = 0; w < channels_.size(); ++w) {
        if (!touched_[w]) continue;
        touched_[w] = 0;
        Channel& channel = *channels_[w];
        if (channel.responses().publish()) channel.worker()->wake();
    }
}

Result<void> JsSide::flush(uint32_t staged) noexcept {
    return hand_over(staged);
}

uint32_t JsSide::collect(uint32_t max) noexcept {
    const size_t workers = channels_.size();
    auto* index = reinterpret_cast<uint32_t*>(index_->data());
    uint32_t n = 0;
    bool progress = true;
    while (n < max && progress) {
        progress = false;
        for (size_t k = 0; k < workers && n < max; ++k) {
            const size_t w = (next_worker_ + k) % workers;
            Channel& channel = *channels_[w];
            if (channel.finished.load(std::memory_order_acquire)) continue;
            engine::Mailbox::Record record;
            if (!channel.requests().next(&record)) continue;
            index[3 * n] = static_cast<uint32_t>(w);
            index[3 * n + 1] = static_cast<uint32_t>(record.data - channel.requests().buffer());
            index[3 * n + 2] = record.size;
            consumed_[w] = 1;
            ++n;
            progress = true;
        }
    }
    next_worker_ = workers == 0 ? 0 : (next_worker_ + 1) % workers;
    return n;
}

bool JsSide::arm() noexcept {
    bool all = true;
    for (const Ref<Channel>& c : channels_) {
        // A finished channel's records are never collected (their connections are gone): they
        // must not keep pull() from arming, or it would spin on them forever.
        if (c->finished.load(std::memory_order_acquire)) continue;
        if (!c->requests().prepare_to_sleep()) all = false;
    }
    return all;
}

Result<uint32_t> JsSide::pull(uint32_t staged, uint32_t max) noexcept {
    Result<void> handed = hand_over(staged);
    // The previous batch's records: JS has copied what it keeps (PROTOCOL.md).
    for (size_t w = 0; w < channels_.size(); ++w) {
        if (!consumed_[w]) continue;
        consumed_[w] = 0;
        Channel& channel = *channels_[w];
        channel.requests().release();
        // Pairs with the fence in WorkerBridge::prepare_to_sleep(): either the worker sees the
        // room released here, or this sees that it waits for room.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (channel.worker_wants_room.load(std::memory_order_relaxed) &&
            channel.worker_wants_room.exchange(false, std::memory_order_acq_rel)) {
            channel.worker()->wake();
        }
    }
    if (!handed) return handed.error();
    if (max > kMaxPull) max = kMaxPull;
    if (max == 0) return uint32_t{0};
    for (;;) {
        const uint32_t n = collect(max);
        if (n != 0) return n;
        // Nothing waits: announce sleep on every ring. A ring that got records meanwhile
        // withdraws (false): take them instead, and withdraw the others' announcements too, so
        // that the workers do not ring a doorbell for a thread that is busy anyway.
        if (arm()) return uint32_t{0};
        for (const Ref<Channel>& c : channels_)
            c->requests().awake();
    }
}

Result<uint32_t> JsSide::stash(const void* data, size_t size) noexcept {
    return stashes_.copy(data, size);
}

Result<uint32_t> JsSide::adopt_stash(void* data, uint32_t size) noexcept {
    return stashes_.adopt(data, size);
}

}  // namespace nexure::napi
