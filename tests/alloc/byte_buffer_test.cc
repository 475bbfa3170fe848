#include "alloc/byte_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// adopt(): memory the buffer writes into but never frees. The memory comes from inside a vector
// the test owns (an interior pointer: a stray free() of it aborts, under ASan or glibc alike).
class AdoptedMemory {
  public:
    static constexpr size_t kOffset = 64;
    explicit AdoptedMemory(size_t capacity) : bytes_(kOffset + capacity + kOffset, '#') {}
    char* memory() { return bytes_.data() + kOffset; }
    // The guard bytes before and after the adopted span were never written.
    bool guards_intact() const {
        const size_t n = bytes_.size();
        for (size_t i = 0; i < kOffset; ++i) {
            if (bytes_[i] != '#' || bytes_[n - 1 - i] != '#') return false;
        }
        return true;
    }
    std::string_view span(size_t n) const { return {bytes_.data() + kOffset, n}; }

  private:
    std::vector<char> bytes_;
};

TEST(ByteBufferAdopt, WritesGoToTheAdoptedMemory) {
    AdoptedMemory mem(128);
    ByteBuffer b;
    b.adopt(mem.memory(), 128);
    EXPECT_TRUE(b.adopted());
    EXPECT_EQ(b.data(), mem.memory());
    EXPECT_EQ(b.capacity(), 128u);
    EXPECT_EQ(b.size(), 0u);
    b.append("HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(b.data(), mem.memory());
    EXPECT_EQ(mem.span(17), "HTTP/1.1 200 OK\r\n");
    char* room = b.prepare(100);
    EXPECT_EQ(room, mem.memory() + 17);
    std::memcpy(room, "abc", 3);
    b.commit(3);
    EXPECT_EQ(b.view(), "HTTP/1.1 200 OK\r\nabc");
    EXPECT_TRUE(b.adopted());
    EXPECT_TRUE(mem.guards_intact());
}

TEST(ByteBufferAdopt, FillingTheAdoptedMemoryExactlyStaysInIt) {
    AdoptedMemory mem(64);
    ByteBuffer b;
    b.adopt(mem.memory(), 64);
    b.append(std::string(64, 'x'));
    EXPECT_TRUE(b.adopted());
    EXPECT_EQ(b.data(), mem.memory());
    EXPECT_EQ(b.capacity(), 64u);
    EXPECT_EQ(mem.span(64), std::string(64, 'x'));
    EXPECT_TRUE(mem.guards_intact());
}

TEST(ByteBufferAdopt, GrowingPastItMovesToTheHeapWithContentPreserved) {
    AdoptedMemory mem(32);
    ByteBuffer b;
    b.adopt(mem.memory(), 32);
    b.append("0123456789");
    b.append(std::string(100, 'y'));  // 110 > 32
    EXPECT_FALSE(b.adopted());
    EXPECT_NE(b.data(), mem.memory());
    EXPECT_GE(b.capacity(), 110u);
    EXPECT_EQ(b.view(), "0123456789" + std::string(100, 'y'));
    // The adopted memory kept what was written to it, and nothing was written past it.
    EXPECT_EQ(mem.span(10), "0123456789");
    EXPECT_TRUE(mem.guards_intact());
    // From here on an ordinary buffer: it keeps growing and frees its heap storage itself.
    b.append(std::string(5000, 'z'));
    EXPECT_EQ(b.size(), 5110u);
    EXPECT_FALSE(b.adopted());
}

TEST(ByteBufferAdopt, ReserveBeyondTheAdoptedMemoryMovesToTheHeap) {
    AdoptedMemory mem(256);
    ByteBuffer b;
    b.adopt(mem.memory(), 256);
    b.append("keep");
    b.reserve(200);  // fits: stays
    EXPECT_TRUE(b.adopted());
    EXPECT_EQ(b.data(), mem.memory());
    b.reserve(1000);
    EXPECT_FALSE(b.adopted());
    EXPECT_GE(b.capacity(), 1000u);
    EXPECT_EQ(b.view(), "keep");
}

TEST(ByteBufferAdopt, DestructionAndReleaseNeverFreeTheAdoptedMemory) {
    AdoptedMemory mem(128);
    {
        ByteBuffer b;
        b.adopt(mem.memory(), 128);
        b.append("still here");
    }  // a free() of the interior pointer would abort here
    EXPECT_EQ(mem.span(10), "still here");
    EXPECT_TRUE(mem.guards_intact());

    ByteBuffer b;
    b.adopt(mem.memory(), 128);
    b.append("again");
    b.release();
    EXPECT_FALSE(b.adopted());
    EXPECT_EQ(b.data(), nullptr);
    EXPECT_EQ(b.capacity(), 0u);
    EXPECT_EQ(b.size(), 0u);
    EXPECT_EQ(mem.span(10), "again here");
    // After release it is an ordinary buffer again.
    b.append("heap");
    EXPECT_FALSE(b.adopted());
    EXPECT_NE(b.data(), mem.memory());
    EXPECT_EQ(b.view(), "heap");
}

TEST(ByteBufferAdopt, ClearKeepsWritingIntoTheAdoptedMemory) {
    AdoptedMemory mem(64);
    ByteBuffer b;
    b.adopt(mem.memory(), 64);
    b.append("first");
    b.clear();
    EXPECT_TRUE(b.adopted());
    EXPECT_EQ(b.capacity(), 64u);
    b.append("second");
    EXPECT_EQ(b.data(), mem.memory());
    EXPECT_EQ(mem.span(6), "second");
}

TEST(ByteBufferAdopt, ConsumeFrontWorksInAdoptedMemory) {
    AdoptedMemory mem(64);
    ByteBuffer b;
    b.adopt(mem.memory(), 64);
    b.append("0123456789");
    b.consume_front(4);
    EXPECT_EQ(b.view(), "456789");
    EXPECT_EQ(b.data(), mem.memory());
    EXPECT_TRUE(b.adopted());
}

TEST(ByteBufferAdopt, MovingAndSwappingCarryTheAdoptedState) {
    AdoptedMemory mem(64);
    ByteBuffer a;
    a.adopt(mem.memory(), 64);
    a.append("adopted");
    ByteBuffer b(std::move(a));
    EXPECT_TRUE(b.adopted());
    EXPECT_EQ(b.data(), mem.memory());
    EXPECT_EQ(b.capacity(), 64u);
    EXPECT_FALSE(a.adopted());  // NOLINT(bugprone-use-after-move): specified state

    ByteBuffer heap;
    heap.append("owned");
    heap.swap(b);
    EXPECT_TRUE(heap.adopted());
    EXPECT_EQ(heap.view(), "adopted");
    EXPECT_FALSE(b.adopted());
    EXPECT_EQ(b.view(), "owned");

    // Move-assigning over an adopted buffer must not free the adopted memory either.
    heap = std::move(b);
    EXPECT_FALSE(heap.adopted());
    EXPECT_EQ(heap.view(), "owned");
    EXPECT_EQ(mem.span(7), "adopted");
    EXPECT_TRUE(mem.guards_intact());
}

TEST(ByteBufferAdopt, AnEmptyAdoptedSpanGrowsOnFirstAppend) {
    AdoptedMemory mem(0);
    ByteBuffer b;
    b.adopt(mem.memory(), 0);
    EXPECT_TRUE(b.adopted());
    EXPECT_EQ(b.capacity(), 0u);
    b.append("x");
    EXPECT_FALSE(b.adopted());
    EXPECT_EQ(b.view(), "x");
    EXPECT_TRUE(mem.guards_intact());
}

}  // namespace
}  // namespace nexure::alloc
