// Mailbox: records arrive whole and in order, wrap around the buffer's end, a full ring refuses
// (backpressure) and frees on release; across two threads millions of records of random sizes
// arrive intact while the consumer sleeps on an eventfd doorbell without ever missing a wake-up.
#include "engine/mailbox.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace nexure::engine {
namespace {

// The payload of record `seq`: its size and bytes follow from the number, so the consumer can
// check every byte without shared state.
uint32_t size_of(uint64_t seq, uint32_t max) {
    return static_cast<uint32_t>((seq * 2654435761u) % (max + 1));
}
void fill(char* p, uint64_t seq, uint32_t size) {
    for (uint32_t i = 0; i < size; ++i)
        p[i] = static_cast<char>((seq + i) * 31);
}
bool check(const char* p, uint64_t seq, uint32_t size) {
    for (uint32_t i = 0; i < size; ++i) {
        if (p[i] != static_cast<char>((seq + i) * 31)) return false;
    }
    return true;
}

TEST(Mailbox, RefusesACapacityThatIsNotAPowerOfTwoInRange) {
    for (const size_t bad : {size_t{0}, size_t{1000}, size_t{2048}, size_t{6000},
                             size_t{1} << 31}) {
        Mailbox m;
        Result<void> r = m.init(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().message.find("power of two"), std::string::npos);
    }
    Mailbox m;
    ASSERT_TRUE(m.init(4096).ok());
    EXPECT_EQ(m.capacity(), 4096u);
    EXPECT_EQ(m.max_record(), 2048u - 8);
}

TEST(Mailbox, RecordsArriveWholeInOrderOnlyAfterPublish) {
    Mailbox m;
    ASSERT_TRUE(m.init(4096).ok());
    for (uint32_t i = 0; i < 5; ++i) {
        char* p = m.try_reserve(i * 3);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u);
        fill(p, i, i * 3);
    }
    Mailbox::Record r;
    EXPECT_FALSE(m.next(&r)) << "visible before publish()";
    EXPECT_TRUE(m.has_unpublished());
    EXPECT_FALSE(m.publish()) << "nobody asked to be woken";
    for (uint32_t i = 0; i < 5; ++i) {
        ASSERT_TRUE(m.next(&r));
        EXPECT_EQ(r.size, i * 3);
        EXPECT_TRUE(check(r.data, i, r.size));
    }
    EXPECT_FALSE(m.next(&r));
    EXPECT_GT(m.used_bytes(), 0u);
    m.release();
    EXPECT_EQ(m.used_bytes(), 0u);
}

TEST(Mailbox, AFullRingRefusesUntilTheConsumerReleases) {
    Mailbox m;
    ASSERT_TRUE(m.init(4096).ok());
    EXPECT_EQ(m.try_reserve(m.max_record() + 1), nullptr);
    // 4096 bytes hold 32 records of 120 + 8 bytes.
    for (int i = 0; i < 32; ++i)
        ASSERT_NE(m.try_reserve(120), nullptr) << i;
    EXPECT_EQ(m.try_reserve(0), nullptr);
    m.publish();
    Mailbox::Record r;
    ASSERT_TRUE(m.next(&r));
    EXPECT_EQ(m.try_reserve(120), nullptr) << "room before release()";
    m.release();
    EXPECT_NE(m.try_reserve(120), nullptr);
    EXPECT_EQ(m.try_reserve(0), nullptr);
}

TEST(Mailbox, ARecordThatWouldCrossTheEndStartsAtTheBeginning) {
    Mailbox m;
    ASSERT_TRUE(m.init(4096).ok());
    // 3008 bytes in (two records), drained; the next 2000-byte record cannot fit in the last
    // 1088 bytes.
    ASSERT_NE(m.try_reserve(1496), nullptr);
    ASSERT_NE(m.try_reserve(1496), nullptr);
    m.publish();
    Mailbox::Record r;
    ASSERT_TRUE(m.next(&r));
    ASSERT_TRUE(m.next(&r));
    m.release();
    char* p = m.try_reserve(2000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p, m.buffer() + 8) << "placed at the start, after its header";
    fill(p, 7, 2000);
    m.publish();
    ASSERT_TRUE(m.next(&r));
    EXPECT_EQ(r.size, 2000u);
    EXPECT_EQ(r.data, p);
    EXPECT_TRUE(check(r.data, 7, 2000));
    EXPECT_FALSE(m.next(&r));
    // The largest record always fits once the ring is drained, wherever the write position is.
    m.release();
    for (int i = 0; i < 8; ++i) {
        ASSERT_NE(m.try_reserve(m.max_record()), nullptr) << i;
        m.publish();
        ASSERT_TRUE(m.next(&r));
        EXPECT_EQ(r.size, m.max_record());
        m.release();
        ASSERT_NE(m.try_reserve(static_cast<uint32_t>(100 * i)), nullptr);
        m.publish();
        ASSERT_TRUE(m.next(&r));
        m.release();
    }
}

TEST(Mailbox, ShrinkLastGivesBackWhatWasNotWritten) {
    Mailbox m;
    ASSERT_TRUE(m.init(4096).ok());
    char* a = m.try_reserve(1000);
    ASSERT_NE(a, nullptr);
    fill(a, 1, 10);
    m.shrink_last(10);
    char* b = m.try_reserve(5);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b, a + 16 + 8) << "the next record follows the shrunk one";
    fill(b, 2, 5);
    m.publish();
    Mailbox::Record r;
    ASSERT_TRUE(m.next(&r));
    EXPECT_EQ(r.size, 10u);
    EXPECT_TRUE(check(r.data, 1, 10));
    ASSERT_TRUE(m.next(&r));
    EXPECT_EQ(r.size, 5u);
    EXPECT_TRUE(check(r.data, 2, 5));
}

TEST(Mailbox, TheSleepAnnouncementIsWithdrawnWhenWorkIsWaiting) {
    Mailbox m;
    ASSERT_TRUE(m.init(4096).ok());
    EXPECT_TRUE(m.prepare_to_sleep());
    ASSERT_NE(m.try_reserve(4), nullptr);
    EXPECT_TRUE(m.publish()) << "the consumer announced sleep: ring";
    ASSERT_NE(m.try_reserve(4), nullptr);
    EXPECT_FALSE(m.publish()) << "at most one doorbell per sleep";
    EXPECT_FALSE(m.prepare_to_sleep()) << "records are waiting";
    ASSERT_NE(m.try_reserve(4), nullptr);
    EXPECT_FALSE(m.publish()) << "the announcement was withdrawn";
    Mailbox::Record r;
    int n = 0;
    while (m.next(&r))
        ++n;
    EXPECT_EQ(n, 3);
    m.release();
    EXPECT_TRUE(m.prepare_to_sleep());
    m.awake();
    ASSERT_NE(m.try_reserve(4), nullptr);
    EXPECT_FALSE(m.publish()) << "awake() withdrew it";
}

// Two threads, a small ring (so it fills and wraps constantly), random batch sizes; the consumer
// sleeps on an eventfd whenever prepare_to_sleep() allows. A lost wake-up would leave it asleep:
// the poll below would time out and fail the test.
TEST(Mailbox, TwoThreadsMillionsOfRecordsNoLossNoLostWakeUp) {
    Mailbox m;
    ASSERT_TRUE(m.init(16384).ok());
    const int doorbell = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(doorbell, 0);
    constexpr uint64_t kRecords = 2'000'000;
    constexpr uint32_t kMaxSize = 300;
    std::atomic<uint64_t> doorbells{0};
    std::atomic<uint64_t> publishes{0};

    std::thread producer([&] {
        std::mt19937 rng(12345);
        uint64_t seq = 0;
        while (seq < kRecords) {
            const uint64_t batch = 1 + rng() % 64;
            uint64_t put = 0;
            for (; put < batch && seq < kRecords; ++put, ++seq) {
                const uint32_t size = size_of(seq, kMaxSize);
                char* p = m.try_reserve(size);
                if (p == nullptr) break;
                fill(p, seq, size);
            }
            if (put != 0) {
                publishes.fetch_add(1);
                if (m.publish()) {
                    doorbells.fetch_add(1);
                    const uint64_t one = 1;
                    ASSERT_EQ(::write(doorbell, &one, sizeof one), 8);
                }
            } else {
                std::this_thread::yield();  // full: wait for the consumer to release
            }
        }
    });

    uint64_t expected = 0;
    bool ok = true;
    uint64_t announcements = 0;  // prepare_to_sleep() calls: each allows at most one doorbell
    while (expected < kRecords && ok) {
        Mailbox::Record r;
        bool any = false;
        while (m.next(&r)) {
            any = true;
            const uint32_t size = size_of(expected, kMaxSize);
            if (r.size != size || !check(r.data, expected, size)) {
                ADD_FAILURE() << "record " << expected << " damaged (size " << r.size << ", wanted "
                              << size << ")";
                ok = false;
                break;
            }
            ++expected;
        }
        m.release();
        if (any || expected == kRecords) continue;
        ++announcements;
        if (!m.prepare_to_sleep()) continue;
        pollfd pfd{doorbell, POLLIN, 0};
        const int rc = ::poll(&pfd, 1, 10'000);
        if (rc != 1) {
            ADD_FAILURE() << "asleep for 10 s with " << expected << " of " << kRecords
                          << " records: a lost wake-up";
            ok = false;
            break;
        }
        uint64_t count = 0;
        ASSERT_EQ(::read(doorbell, &count, sizeof count), 8);
    }
    producer.join();
    ::close(doorbell);
    EXPECT_TRUE(ok);
    EXPECT_EQ(expected, kRecords);
    EXPECT_LE(doorbells.load(), announcements) << "more doorbells than announced sleeps";
    EXPECT_LE(doorbells.load(), publishes.load());
}

}  // namespace
}  // namespace nexure::engine
