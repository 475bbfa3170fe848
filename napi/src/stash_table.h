// StashTable: response bodies copied to native memory before their record is handed over
// (kind-1 response records, napi/PROTOCOL.md), by id. One JavaScript thread's own (JsSide, or a
// ThreadSide of jsThreads); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "alloc/result.h"

namespace nexure::napi {

class StashTable {
  public:
    StashTable() = default;
    StashTable(const StashTable&) = delete;
    StashTable& operator=(const StashTable&) = delete;
    ~StashTable();  // frees every body never taken

    // Copies `size` bytes to a malloc'd body; returns its id (>= 1).
    Result<uint32_t> copy(const void* data, size_t size) noexcept;
    // Takes ownership of a malloc'd body (freed here when no id can be given).
    Result<uint32_t> adopt(void* data, uint32_t size) noexcept;
    // Null when `id` names a body of `size` bytes, else why not.
    const char* check(uint32_t id, uint32_t size) const noexcept;
    // Hands the body `id` names (checked) over to the caller, who frees it; the id is reused.
    void* take(uint32_t id) noexcept;

  private:
    struct Stash {
        void* data = nullptr;
        uint32_t size = 0;
    };
    std::vector<Stash> stashes_;  // by id - 1
    std::vector<uint32_t> free_ids_;
};

}  // namespace nexure::napi
