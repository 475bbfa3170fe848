#include "engine/op_tag.h"

#include <gtest/gtest.h>

namespace nexure::engine {
namespace {

TEST(OpTag, PackAndUnpackRoundTrip) {
    const OpTag cases[] = {
        {0, 0, 0},
        {16, 1, 1},
        {17, 0x123456, 0xDEADBEEF},
        {255, OpTag::kGenerationMask, 0xFFFFFFFF},
        {static_cast<uint8_t>(Op::kWake), 42, 7},
    };
    for (const OpTag& tag : cases) {
        const OpTag back = OpTag::unpack(tag.pack());
        EXPECT_EQ(back.op, tag.op);
        EXPECT_EQ(back.generation, tag.generation);
        EXPECT_EQ(back.slot, tag.slot);
    }
}

TEST(OpTag, OpLivesInTheTopByte) {
    // The worker dispatches on `user_data >> 56` without unpacking.
    EXPECT_EQ(make_tag(0x21, 0xFFFFFF, 0xFFFFFFFF) >> 56, 0x21u);
    EXPECT_EQ(make_tag(static_cast<uint8_t>(Op::kFirstUserOp), 0, 0) >> 56, 16u);
}

TEST(OpTag, GenerationIsMaskedTo24Bits) {
    const uint64_t tag = make_tag(20, 0xAB123456, 99);
    const OpTag back = OpTag::unpack(tag);
    EXPECT_EQ(back.generation, 0x123456u);
    EXPECT_EQ(back.op, 20) << "the generation's high bits must not leak into the op";
    EXPECT_EQ(back.slot, 99u);
    // A generation that wrapped past 24 bits compares equal to the masked one.
    EXPECT_EQ(make_tag(20, 0x1000005, 3), make_tag(20, 5, 3));
}

TEST(OpTag, DifferentGenerationsOfOneSlotGiveDifferentTags) {
    EXPECT_NE(make_tag(17, 1, 5), make_tag(17, 2, 5));
    EXPECT_NE(make_tag(17, 1, 5), make_tag(18, 1, 5));
    EXPECT_NE(make_tag(17, 1, 5), make_tag(17, 1, 6));
}

TEST(OpTag, PackIsUsableAtCompileTime) {
    constexpr uint64_t packed = make_tag(16, 3, 4);
    static_assert(OpTag::unpack(packed).slot == 4);
    static_assert(OpTag::unpack(packed).generation == 3);
    static_assert(OpTag::unpack(packed).op == 16);
    SUCCEED();
}

}  // namespace
}  // namespace nexure::engine
