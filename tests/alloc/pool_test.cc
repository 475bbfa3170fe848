#include "alloc/pool.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

namespace nexure::alloc {
namespace {

size_t page_size() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

bool is_mapped(const void* p) {
    const auto page = reinterpret_cast<uintptr_t>(p) & ~(page_size() - 1);
    unsigned char resident = 0;
    return mincore(reinterpret_cast<void*>(page), 1, &resident) == 0;
}

// Counts constructions and destructions, and remembers which objects were destroyed. Each test
// resets the counters first.
struct Counted {
    static inline int constructed = 0;
    static inline int destroyed = 0;
    static inline std::multiset<const void*>* destroyed_at = nullptr;
    static void reset_counters() {
        constructed = 0;
        destroyed = 0;
    }

    Counted() { ++constructed; }
    ~Counted() {
        ++destroyed;
        if (destroyed_at != nullptr) destroyed_at->insert(this);
    }
    Counted(const Counted&) = delete;
    Counted& operator=(const Counted&) = delete;

    uint64_t value = 0;
    char payload[40] = {};
};

// Like a connection: records the index it was made with. (Default-constructible only because
// Pool<T>::grow() names T() even when a `make` callback is given.)
struct Tagged {
    Tagged() = default;
    explicit Tagged(uint32_t i) : index(i) {}
    uint32_t index = UINT32_MAX;
    uint32_t uses = 0;
    char payload[56] = {};
};

struct alignas(64) CacheAligned {
    char bytes[192];
};

size_t expected_block_bytes(size_t object_size, size_t per_block) {
    return ((object_size * per_block + 3) & ~size_t{3}) + sizeof(uint32_t) * per_block;
}

TEST(Pool, AcquireReturnsNullptrExactlyAtTheCapRoundedUpToWholeBlocks) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 4, .max_objects = 10});
    EXPECT_EQ(pool.max_objects(), 12u);  // 10 rounded up to 3 blocks of 4
    std::set<Counted*> seen;
    for (uint32_t i = 0; i < 12; ++i) {
        Counted* c = pool.acquire();
        ASSERT_NE(c, nullptr) << "acquire " << i;
        EXPECT_TRUE(seen.insert(c).second) << "object handed out twice";
        EXPECT_EQ(pool.full(), i == 11);
    }
    EXPECT_EQ(pool.acquire(), nullptr);
    EXPECT_EQ(pool.acquire(), nullptr);  // and stays so
    EXPECT_EQ(pool.live(), 12u);
    EXPECT_EQ(pool.block_count(), 3u);
    EXPECT_TRUE(pool.full());

    // One release makes exactly one acquire possible again.
    Counted* back = *seen.begin();
    pool.release(back);
    EXPECT_FALSE(pool.full());
    EXPECT_EQ(pool.acquire(), back);
    EXPECT_EQ(pool.acquire(), nullptr);
}

TEST(Pool, ObjectsPerBlockIsRoundedUpToAPowerOfTwo) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 5, .max_objects = 9});
    ASSERT_NE(pool.acquire(), nullptr);
    EXPECT_EQ(pool.capacity(), 8u);      // one block of 8
    EXPECT_EQ(pool.max_objects(), 16u);  // 9 rounded up to two blocks of 8
    EXPECT_EQ(pool.block_bytes(), expected_block_bytes(sizeof(Counted), 8));
}

TEST(Pool, ACapOfZeroStillAllowsOneBlock) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 2, .max_objects = 0});
    EXPECT_EQ(pool.max_objects(), 2u);
    EXPECT_NE(pool.acquire(), nullptr);
    EXPECT_NE(pool.acquire(), nullptr);
    EXPECT_EQ(pool.acquire(), nullptr);
}

TEST(Pool, DefaultOptionsCapAt65536ObjectsIn256ObjectBlocks) {
    Pool<Counted> pool;
    EXPECT_EQ(pool.max_objects(), 65536u);
    ASSERT_NE(pool.acquire(), nullptr);
    EXPECT_EQ(pool.capacity(), 256u);
    EXPECT_EQ(pool.node(), -1);
}

// A cap near UINT32_MAX (an "unlimited" setting) rounded up to whole blocks must not wrap around:
// the pool would then report a cap of 0 and call itself full before its first acquire.
TEST(Pool, ACapNearUint32MaxDoesNotWrapAround) {
    Pool<char> pool(PoolOptions{.objects_per_block = 1u << 20, .max_objects = UINT32_MAX});
    EXPECT_GE(pool.max_objects(), UINT32_MAX - (1u << 20));
    EXPECT_FALSE(pool.full());
    EXPECT_NE(pool.acquire(), nullptr);
}

TEST(Pool, ReleaseThenAcquireReusesTheLastReleasedFirst) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 8, .max_objects = 64});
    Counted* a = pool.acquire();
    Counted* b = pool.acquire();
    Counted* c = pool.acquire();
    ASSERT_TRUE(a && b && c);
    pool.release(b);
    pool.release(a);
    EXPECT_EQ(pool.acquire(), a);  // LIFO: the warmest object first
    EXPECT_EQ(pool.acquire(), b);
    // Release by index behaves the same.
    const uint32_t ic = pool.index_of(c);
    pool.release(ic);
    EXPECT_FALSE(pool.in_use(ic));
    EXPECT_EQ(pool.acquire(), c);
    EXPECT_TRUE(pool.in_use(ic));
}

TEST(Pool, ObjectsKeepTheirStateFromOneUseToTheNext) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 4, .max_objects = 4});
    Counted* c = pool.acquire();
    c->value = 0xfeed;
    pool.release(c);
    Counted* again = pool.acquire();
    ASSERT_EQ(again, c);
    EXPECT_EQ(again->value, 0xfeedu);  // not reconstructed on acquire
}

TEST(Pool, IndexOfAndAtRoundTripAndFollowTheBlockLayout) {
    Pool<CacheAligned> pool(PoolOptions{.objects_per_block = 16, .max_objects = 64});
    std::vector<CacheAligned*> objects;
    for (int i = 0; i < 64; ++i)
        objects.push_back(pool.acquire());
    ASSERT_EQ(pool.block_count(), 4u);
    std::set<uint32_t> indices;
    for (CacheAligned* o : objects) {
        ASSERT_NE(o, nullptr);
        const uint32_t i = pool.index_of(o);
        EXPECT_LT(i, pool.capacity());
        EXPECT_TRUE(indices.insert(i).second);
        EXPECT_EQ(&pool.at(i), o);
        // index = block * per_block + slot, at a fixed place in the block's mapping.
        const auto* block = static_cast<const char*>(pool.block_address(i / 16));
        EXPECT_EQ(reinterpret_cast<const char*>(o), block + (i % 16) * sizeof(CacheAligned));
        EXPECT_EQ(reinterpret_cast<uintptr_t>(o) % 64, 0u);  // the type's alignment holds
        EXPECT_TRUE(pool.valid(i));
        EXPECT_TRUE(pool.in_use(i));
    }
    EXPECT_FALSE(pool.valid(pool.capacity()));
    EXPECT_FALSE(pool.in_use(pool.capacity()));
}

TEST(Pool, ObjectsAreConstructedOncePerBlockWhenTheBlockIsAdded) {
    Counted::reset_counters();
    {
        Pool<Counted> pool(PoolOptions{.objects_per_block = 8, .max_objects = 64});
        EXPECT_EQ(Counted::constructed, 0);  // no block before the first acquire
        EXPECT_EQ(pool.block_count(), 0u);
        std::vector<Counted*> held;
        held.push_back(pool.acquire());
        EXPECT_EQ(Counted::constructed, 8);
        for (int i = 1; i < 8; ++i)
            held.push_back(pool.acquire());
        EXPECT_EQ(Counted::constructed, 8);
        held.push_back(pool.acquire());  // the ninth needs a second block
        EXPECT_EQ(Counted::constructed, 16);
        for (Counted* c : held)
            pool.release(c);
        for (int i = 0; i < 16; ++i)
            ASSERT_NE(pool.acquire(), nullptr);
        EXPECT_EQ(Counted::constructed, 16);  // reuse constructs nothing
        EXPECT_EQ(Counted::destroyed, 0);     // and release destroys nothing
    }
}

TEST(Pool, TheMakeCallbackConstructsEachObjectWithItsIndex) {
    std::vector<std::pair<void*, uint32_t>> made;
    Pool<Tagged> pool(PoolOptions{.objects_per_block = 4, .max_objects = 12},
                      [&made](void* where, uint32_t index) {
                          made.emplace_back(where, index);
                          ::new (where) Tagged(index);
                      });
    std::vector<Tagged*> objects;
    for (int i = 0; i < 9; ++i)
        objects.push_back(pool.acquire());
    ASSERT_EQ(made.size(), 12u);  // three blocks of four, all constructed when added
    for (uint32_t k = 0; k < made.size(); ++k) {
        EXPECT_EQ(made[k].second, k);  // blocks added in order, slots in order
        EXPECT_EQ(made[k].first, static_cast<void*>(&pool.at(made[k].second)));
    }
    for (Tagged* t : objects) {
        ASSERT_NE(t, nullptr);
        EXPECT_EQ(t->index, pool.index_of(t));
        EXPECT_EQ(&pool.at(t->index), t);
    }
}

TEST(Pool, DestructorDestroysEveryObjectExactlyOnce) {
    Counted::reset_counters();
    std::multiset<const void*> destroyed;
    Counted::destroyed_at = &destroyed;
    std::set<const void*> all;
    {
        Pool<Counted> pool(PoolOptions{.objects_per_block = 8, .max_objects = 64});
        std::vector<Counted*> held;
        for (int i = 0; i < 20; ++i)
            held.push_back(pool.acquire());  // three blocks: 24 objects
        pool.release(held[3]);               // live and free ones alike
        for (uint32_t i = 0; i < pool.capacity(); ++i)
            all.insert(&pool.at(i));
        EXPECT_EQ(Counted::destroyed, 0);
    }
    Counted::destroyed_at = nullptr;
    EXPECT_EQ(Counted::constructed, 24);
    EXPECT_EQ(Counted::destroyed, 24);
    EXPECT_EQ(destroyed.size(), 24u);
    EXPECT_EQ(std::set<const void*>(destroyed.begin(), destroyed.end()), all);
}

TEST(Pool, BlocksGrowOneBlockBytesMappingAtATime) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 64, .max_objects = 1024});
    const size_t bytes = expected_block_bytes(sizeof(Counted), 64);
    EXPECT_EQ(pool.block_bytes(), bytes);
    std::set<const void*> blocks;
    for (uint32_t i = 0; i < 4 * 64; ++i) {
        ASSERT_NE(pool.acquire(), nullptr);
        EXPECT_EQ(pool.block_count(), i / 64 + 1);
        EXPECT_EQ(pool.capacity(), pool.block_count() * 64);
        const void* block = pool.block_address(pool.block_count() - 1);
        if (blocks.insert(block).second) {
            // A new mapping: page-aligned, and its last byte (the free-list links) is there.
            EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % page_size(), 0u);
            EXPECT_TRUE(is_mapped(static_cast<const char*>(block) + bytes - 1));
        }
    }
    EXPECT_EQ(blocks.size(), 4u);
}

TEST(Pool, LiveAndCapacityFollowAcquireAndRelease) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 4, .max_objects = 16});
    EXPECT_EQ(pool.live(), 0u);
    EXPECT_EQ(pool.capacity(), 0u);
    EXPECT_FALSE(pool.full());
    std::vector<Counted*> held;
    for (int i = 0; i < 6; ++i)
        held.push_back(pool.acquire());
    EXPECT_EQ(pool.live(), 6u);
    EXPECT_EQ(pool.capacity(), 8u);
    pool.release(held[0]);
    pool.release(held[5]);
    EXPECT_EQ(pool.live(), 4u);
    EXPECT_EQ(pool.capacity(), 8u);  // blocks are never given back
    for (int i = 1; i < 5; ++i)
        pool.release(held[i]);
    EXPECT_EQ(pool.live(), 0u);
    EXPECT_EQ(pool.capacity(), 8u);
    EXPECT_EQ(pool.block_count(), 2u);
}

TEST(Pool, ForEachLiveVisitsExactlyTheObjectsInUse) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 8, .max_objects = 64});
    std::vector<Counted*> held;
    for (int i = 0; i < 21; ++i)
        held.push_back(pool.acquire());
    std::set<Counted*> expected;
    for (size_t i = 0; i < held.size(); ++i) {
        if (i % 3 == 0) {
            pool.release(held[i]);
        } else {
            expected.insert(held[i]);
        }
    }
    std::set<Counted*> visited;
    int calls = 0;
    pool.for_each_live([&](Counted& c) {
        ++calls;
        visited.insert(&c);
    });
    EXPECT_EQ(calls, static_cast<int>(expected.size()));
    EXPECT_EQ(visited, expected);
    EXPECT_EQ(pool.live(), expected.size());

    Pool<Counted> empty;
    int none = 0;
    empty.for_each_live([&](Counted&) { ++none; });
    EXPECT_EQ(none, 0);
}

TEST(PoolDeathTest, IndexOfAForeignObjectIsFatal) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 4, .max_objects = 4});
    ASSERT_NE(pool.acquire(), nullptr);
    Counted stranger;
    EXPECT_DEATH((void)pool.index_of(&stranger), "not from this pool");
}

#ifndef NDEBUG
TEST(PoolDeathTest, ReleasingAFreeObjectIsCaughtInDebugBuilds) {
    Pool<Counted> pool(PoolOptions{.objects_per_block = 4, .max_objects = 4});
    Counted* c = pool.acquire();
    ASSERT_NE(c, nullptr);
    const uint32_t index = pool.index_of(c);
    pool.release(index);
    EXPECT_DEATH(pool.release(index), "check failed");
}
#endif

}  // namespace
}  // namespace nexure::alloc
