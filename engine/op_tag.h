// Tagged io_uring user_data: {op, generation, slot} packed into 64 bits.
//
// A completion may arrive after the object it was meant for has been freed and its slot reused.
// The generation stored in the tag is compared with the slot's current generation; a mismatch
// means the completion is stale and is dropped. Pure value type, any thread.
#pragma once

#include <cstdint>

namespace nexure::engine {

// Operation kinds. Modules above engine/ use values from kFirstUserOp on.
enum class Op : uint8_t {
    kNone = 0,
    kWake = 1,    // eventfd doorbell read
    kIgnore = 2,  // completions nobody waits for (async close, cancel)
    kFirstUserOp = 16,
};

struct OpTag {
    uint8_t op = 0;
    uint32_t generation = 0;  // 24 bits are kept
    uint32_t slot = 0;

    static constexpr uint32_t kGenerationMask = 0xFFFFFF;

    constexpr uint64_t pack() const noexcept {
        return (uint64_t{op} << 56) | (uint64_t{generation & kGenerationMask} << 32) | slot;
    }
    static constexpr OpTag unpack(uint64_t v) noexcept {
        return OpTag{static_cast<uint8_t>(v >> 56),
                     static_cast<uint32_t>((v >> 32) & kGenerationMask), static_cast<uint32_t>(v)};
    }
};

constexpr uint64_t make_tag(uint8_t op, uint32_t generation, uint32_t slot) noexcept {
    return OpTag{op, generation, slot}.pack();
}

}  // namespace nexure::engine
