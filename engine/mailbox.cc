#include "engine/mailbox.h"

#include <cerrno>
#include <string>

namespace nexure::engine {

Result<void> Mailbox::init(size_t capacity, int node) {
    if (capacity < kMinCapacity || capacity > kMaxCapacity || (capacity & (capacity - 1)) != 0) {
        return Error{EINVAL, "mailbox capacity must be a power of two from 4 KiB to 1 GiB, not " +
                                 std::to_string(capacity) + " bytes"};
    }
    alloc::MapOptions options;
    options.node = node;
    Result<alloc::Mapping> mapping = alloc::Mapping::map(capacity, options);
    if (!mapping) return mapping.error();
    buffer_ = std::move(mapping).value();
    capacity_ = capacity;
    mask_ = capacity - 1;
    return {};
}

char* Mailbox::try_reserve(uint32_t size) noexcept {
    if (size > max_record()) return nullptr;
    const uint64_t need = footprint(size);
    const uint64_t offset = write_ & mask_;
    const uint64_t gap = offset + need > capacity_ ? capacity_ - offset : 0;
    if (write_ + gap + need - head_seen_ > capacity_) {
        head_seen_ = head_.load(std::memory_order_acquire);
        if (write_ + gap + need - head_seen_ > capacity_) return nullptr;
    }
    if (gap != 0) {
        *header_at(write_) = kPadding;
        write_ += gap;
    }
    uint32_t* header = header_at(write_);
    header[0] = size;
    header[1] = 0;
    last_ = write_;
    write_ += need;
    return reinterpret_cast<char*>(header) + kHeaderBytes;
}

void Mailbox::shrink_last(uint32_t size) noexcept {
    uint32_t* header = header_at(last_);
    if (size >= header[0]) return;
    header[0] = size;
    write_ = last_ + footprint(size);
}

bool Mailbox::publish() noexcept {
    // seq_cst store, then seq_cst load: pairs with prepare_to_sleep()'s store of idle_ and load
    // of tail_, so at least one side sees the other's write.
    tail_.store(write_, std::memory_order_seq_cst);
    if (!idle_.load(std::memory_order_seq_cst)) return false;
    return idle_.exchange(false, std::memory_order_acq_rel);
}

bool Mailbox::next(Record* record) noexcept {
    for (;;) {
        if (read_ == tail_seen_) {
            tail_seen_ = tail_.load(std::memory_order_acquire);
            if (read_ == tail_seen_) return false;
        }
        uint32_t* header = header_at(read_);
        if (header[0] == kPadding) {
            read_ += capacity_ - (read_ & mask_);
            continue;
        }
        record->data = reinterpret_cast<char*>(header) + kHeaderBytes;
        record->size = header[0];
        read_ += footprint(header[0]);
        return true;
    }
}

void Mailbox::release() noexcept { head_.store(read_, std::memory_order_release); }

bool Mailbox::prepare_to_sleep() noexcept {
    idle_.store(true, std::memory_order_seq_cst);
    if (tail_.load(std::memory_order_seq_cst) != read_) {
        idle_.store(false, std::memory_order_relaxed);
        return false;
    }
    return true;
}

}  // namespace nexure::engine
