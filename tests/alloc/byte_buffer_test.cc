#include "alloc/byte_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace nexure::alloc {
namespace {

TEST(ByteBuffer, StartsEmptyWithoutAllocating) {
    ByteBuffer b;
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(b.data(), nullptr);
    EXPECT_EQ(b.view(), "");
}

TEST(ByteBuffer, AppendConcatenatesBytes) {
    ByteBuffer b;
    b.append("Hello, ");
    b.append(std::string_view("World!"));
    const char tail[] = {'\0', 'x'};
    b.append(tail, sizeof(tail));
    EXPECT_EQ(b.size(), 15u);
    EXPECT_EQ(b.view(), std::string_view("Hello, World!\0x", 15));
    EXPECT_GE(b.capacity(), b.size());
}

TEST(ByteBuffer, AppendingNothingDoesNotAllocate) {
    ByteBuffer b;
    b.append("", 0);
    b.append(std::string_view{});
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_TRUE(b.empty());
}

TEST(ByteBuffer, GrowsAcrossManyAppendsAndKeepsContent) {
    ByteBuffer b;
    std::string expected;
    for (int i = 0; i < 5000; ++i) {
        const std::string piece = std::to_string(i) + ",";
        b.append(piece);
        expected += piece;
    }
    EXPECT_EQ(b.view(), expected);
    EXPECT_GE(b.capacity(), expected.size());
}

TEST(ByteBuffer, PrepareGivesRoomAndCommitPublishesOnlyWhatWasWritten) {
    ByteBuffer b;
    b.append("ab");
    char* room = b.prepare(100);
    ASSERT_NE(room, nullptr);
    EXPECT_GE(b.capacity() - b.size(), 100u);
    EXPECT_EQ(room, b.data() + 2);
    std::memcpy(room, "cdef", 4);
    b.commit(3);  // only "cde" counts
    EXPECT_EQ(b.view(), "abcde");
    // A second prepare within the capacity does not move the data.
    const char* before = b.data();
    b.prepare(10);
    EXPECT_EQ(b.data(), before);
    EXPECT_EQ(b.view(), "abcde");
}

TEST(ByteBuffer, ConsumeFrontMovesTheRestToTheFront) {
    ByteBuffer b;
    b.append("0123456789");
    b.consume_front(3);
    EXPECT_EQ(b.view(), "3456789");
    b.consume_front(0);
    EXPECT_EQ(b.view(), "3456789");
    b.consume_front(7);
    EXPECT_TRUE(b.empty());
    b.append("xyz");
    EXPECT_EQ(b.view(), "xyz");
}

TEST(ByteBuffer, ClearKeepsCapacity) {
    ByteBuffer b;
    b.append(std::string(1000, 'a'));
    const size_t cap = b.capacity();
    const char* data = b.data();
    b.clear();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.capacity(), cap);
    // Reuse within the old size does not reallocate.
    b.append(std::string(1000, 'b'));
    EXPECT_EQ(b.data(), data);
    EXPECT_EQ(b.capacity(), cap);
    EXPECT_EQ(b.view(), std::string(1000, 'b'));
}

TEST(ByteBuffer, ReleaseFreesTheAllocation) {
    ByteBuffer b;
    b.append("something");
    b.release();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(b.data(), nullptr);
    b.append("again");  // usable after release
    EXPECT_EQ(b.view(), "again");
}

TEST(ByteBuffer, ReserveGrowsCapacityWithoutChangingSize) {
    ByteBuffer b;
    b.append("abc");
    b.reserve(5000);
    EXPECT_GE(b.capacity(), 5000u);
    EXPECT_EQ(b.view(), "abc");
    const size_t cap = b.capacity();
    b.reserve(10);  // never shrinks
    EXPECT_EQ(b.capacity(), cap);
}

TEST(ByteBuffer, MoveConstructionTransfersOwnership) {
    ByteBuffer a;
    a.append("payload");
    const char* data = a.data();
    ByteBuffer b(std::move(a));
    EXPECT_EQ(b.view(), "payload");
    EXPECT_EQ(b.data(), data);
    EXPECT_EQ(a.data(),
              nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(a.capacity(), 0u);
}

TEST(ByteBuffer, MoveAssignmentReplacesContent) {
    ByteBuffer a;
    a.append("new");
    ByteBuffer b;
    b.append(std::string(500, 'o'));
    b = std::move(a);
    EXPECT_EQ(b.view(), "new");
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(a.capacity(), 0u);
    // Self-move leaves the buffer intact.
    ByteBuffer& alias = b;
    b = std::move(alias);
    EXPECT_EQ(b.view(), "new");
}

TEST(ByteBuffer, SwapExchangesContentAndCapacity) {
    ByteBuffer a;
    a.append("first");
    ByteBuffer b;
    b.append(std::string(1000, 's'));
    const size_t cap_a = a.capacity();
    const size_t cap_b = b.capacity();
    a.swap(b);
    EXPECT_EQ(a.view(), std::string(1000, 's'));
    EXPECT_EQ(b.view(), "first");
    EXPECT_EQ(a.capacity(), cap_b);
    EXPECT_EQ(b.capacity(), cap_a);
}

}  // namespace
}  // namespace nexure::alloc
