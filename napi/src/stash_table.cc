#include "napi/src/stash_table.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace nexure::napi {

StashTable::~StashTable() {
    for (const Stash& s : stashes_)
        std::free(s.data);
}

Result<uint32_t> StashTable::copy(const void* data, size_t size) noexcept {
    if (size > UINT32_MAX) return Error{EINVAL, "a stashed body is at most 4 GiB - 1 bytes"};
    void* body = std::malloc(size == 0 ? 1 : size);
    if (body == nullptr) return Error{ENOMEM, "out of memory stashing a response body"};
    if (size != 0) std::memcpy(body, data, size);
    return adopt(body, static_cast<uint32_t>(size));
}

Result<uint32_t> StashTable::adopt(void* data, uint32_t size) noexcept {
    try {
        uint32_t id;
        if (!free_ids_.empty()) {
            id = free_ids_.back();
            free_ids_.pop_back();
        } else {
            stashes_.emplace_back();
            // So that take() never allocates: the free list may hold every id.
            free_ids_.reserve(stashes_.capacity());
            id = static_cast<uint32_t>(stashes_.size());
        }
        stashes_[id - 1] = Stash{data, size};
        return id;
    } catch (const std::bad_alloc&) {
        std::free(data);
        return Error{ENOMEM, "out of memory stashing a response body"};
    }
}

const char* StashTable::check(uint32_t id, uint32_t size) const noexcept {
    if (id == 0 || id > stashes_.size() || stashes_[id - 1].data == nullptr) {
        return "unknown stash id";
    }
    if (stashes_[id - 1].size != size) return "the body length differs from the stashed body's";
    return nullptr;
}

void* StashTable::take(uint32_t id) noexcept {
    void* body = stashes_[id - 1].data;
    stashes_[id - 1] = Stash{};
    free_ids_.push_back(id);  // within the capacity adopt() reserved
    return body;
}

}  // namespace nexure::napi
