#include "napi/src/thread_side.h"

#include <string>
#include <utility>

#include "napi/src/records.h"

namespace nexure::napi {

ThreadSide::ThreadSide(Ref<Hub> hub, uint32_t lane, uint32_t workers, size_t inbox_bytes,
                       int fd) noexcept
    : hub_(std::move(hub)),
      lane_(lane),
      workers_(workers),
      staging_(Block::create(JsSide::kStagingBytes)),
      index_(Block::create((size_t{JsSide::kBacklogAt} + workers + 1) * sizeof(uint32_t))),
      inbox_(Block::create_mapped(inbox_bytes)),
      fd_(fd) {}

bool ThreadSide::attach() noexcept {
    attached_ = hub_->attach(lane_, fd_);
    return attached_;
}

ThreadSide::~ThreadSide() {
    if (attached_) hub_->detach(lane_);
}

Result<void> ThreadSide::flush(uint32_t staged) noexcept {
    using namespace response_record;
    if (staged > staging_->size()) {
        return Error{EINVAL, "staged byte count " + std::to_string(staged) +
                                 " is larger than the staging buffer"};
    }
    // The full check is the JsSide's, on the server's thread; here what the hand-over relies
    // on: the records' lengths, their workers and their stashed bodies.
    const char* bytes = staging_->data();
    stashed_.clear();
    Result<void> result;
    uint32_t offset = 0;
    while (offset < staged) {
        const char* r = bytes + offset;
        const uint32_t length = staged - offset < kFixedBytes ? 0 : load_u32(r + kLength);
        const char* why = nullptr;
        if (length < kFixedBytes || length % 8 != 0 || length > staged - offset) {
            why = "its length is not a multiple of 8 within the staged bytes";
        } else if (load_u16(r + kWorker) >= workers_) {
            why = "no such worker";
        } else if (load_u32(r + kBodyKind) == kBodyStashed) {
            why = stashes_.check(load_u32(r + kStashId), load_u32(r + kBodyLength));
        }
        if (why != nullptr) {
            result = Error{EINVAL, "response record at staging offset " + std::to_string(offset) +
                                       ": " + why};
            break;
        }
        if (load_u32(r + kBodyKind) == kBodyStashed) {
            try {
                stashed_.push_back(Hub::Stashed{offset, nullptr, load_u32(r + kBodyLength)});
            } catch (const std::bad_alloc&) {
                result = Error{ENOMEM, "out of memory handing answers over"};
                break;
            }
            stashed_.back().data = stashes_.take(load_u32(r + kStashId));
        }
        offset += length;
    }
    if (offset != 0) hub_->post(lane_, bytes, offset, stashed_);
    return result;
}

Result<uint32_t> ThreadSide::pull(uint32_t staged, uint32_t max) noexcept {
    Result<void> handed = flush(staged);
    if (!handed) return handed.error();
    if (max > JsSide::kMaxPull) max = JsSide::kMaxPull;
    if (max == 0) return uint32_t{0};
    return hub_->take(lane_, inbox_->data(), inbox_->size(),
                      reinterpret_cast<uint32_t*>(index_->data()), max);
}

}  // namespace nexure::napi
