#include "alloc/region.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace nexure::alloc {
namespace {

size_t page_size() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

uintptr_t addr(const void* p) {
    return reinterpret_cast<uintptr_t>(p);
}

char* page_of(const void* p) {
    return reinterpret_cast<char*>(addr(p) & ~(page_size() - 1));
}

// Whether the page holding `p` is mapped at all (mincore fails with ENOMEM on unmapped memory).
bool is_mapped(const void* p) {
    unsigned char resident = 0;
    return mincore(page_of(p), 1, &resident) == 0;
}

// A small deterministic generator, so that a failure reproduces.
struct Lcg {
    uint64_t state = 0x2545F4914F6CDD1DULL;
    uint32_t next() {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<uint32_t>(state >> 33);
    }
};

// One-page chunks: capacity 4096 - header, so growth and oversize are cheap to provoke.
ChunkCache::Options small_chunks(size_t max_cached = 4096) {
    return ChunkCache::Options{.chunk_bytes = 4096, .max_cached = max_cached, .node = -1};
}

// Allocates 1000-byte blocks until the region holds `chunks` standard chunks; returns the first
// allocation of each chunk (with 4096-byte chunks, page_of() of it is the chunk's header page).
std::vector<char*> fill_chunks(Region& r, size_t chunks) {
    std::vector<char*> firsts;
    while (r.chunk_count() < chunks) {
        const size_t before = r.chunk_count();
        char* p = static_cast<char*>(r.allocate(1000, 8));
        std::memset(p, 0x5a, 1000);
        if (r.chunk_count() != before) firsts.push_back(p);
    }
    return firsts;
}

TEST(Region, EveryAllocationIsAlignedForEveryPowerOfTwoUpTo4096) {
    ChunkCache cache;
    Region r(cache);
    const size_t sizes[] = {1, 3, 8, 17, 100, 1000};
    for (size_t align = 1; align <= 4096; align <<= 1) {
        for (size_t n : sizes) {
            void* p = r.allocate(n, align);
            ASSERT_NE(p, nullptr);
            EXPECT_EQ(addr(p) % align, 0u) << "align " << align << " size " << n;
            std::memset(p, 0xab, n);  // usable (and unpoisoned under ASan) to the last byte
        }
        // Oversize requests align the same way inside their own mapping.
        const size_t big = cache.chunk_capacity() / 4 + 1;
        void* p = r.allocate(big, align);
        EXPECT_EQ(addr(p) % align, 0u) << "oversize, align " << align;
        std::memset(p, 0xcd, big);
    }
}

TEST(Region, AllocationsNeverOverlapAcrossChunks) {
    ChunkCache cache(small_chunks());
    Region r(cache);
    struct Block {
        unsigned char* p;
        size_t n;
        unsigned char fill;
    };
    std::vector<Block> blocks;
    Lcg rng;
    for (int i = 0; i < 4000; ++i) {
        const size_t n = 1 + rng.next() % 700;
        const size_t align = size_t{1} << (rng.next() % 9);  // 1..256
        auto* p = static_cast<unsigned char*>(r.allocate(n, align));
        const auto fill = static_cast<unsigned char>(i * 31 + 7);
        std::memset(p, fill, n);
        blocks.push_back({p, n, fill});
    }
    EXPECT_GT(r.chunk_count(), 100u);
    // Every block still holds exactly its own pattern: no later allocation wrote over it.
    for (size_t i = 0; i < blocks.size(); ++i) {
        const Block& b = blocks[i];
        for (size_t k = 0; k < b.n; ++k) {
            ASSERT_EQ(b.p[k], b.fill) << "block " << i << " byte " << k;
        }
    }
    // And as address ranges, no two intersect.
    std::sort(blocks.begin(), blocks.end(),
              [](const Block& a, const Block& b) { return a.p < b.p; });
    for (size_t i = 1; i < blocks.size(); ++i) {
        EXPECT_LE(addr(blocks[i - 1].p) + blocks[i - 1].n, addr(blocks[i].p)) << i;
    }
}

TEST(Region, GrowsAcrossManyChunksTakingThemFromTheCache) {
    ChunkCache cache(small_chunks());
    Region r(cache);
    EXPECT_EQ(r.chunk_count(), 0u);  // nothing mapped before the first allocation
    EXPECT_EQ(cache.mapped(), 0u);
    // 1000-byte blocks at 8-byte alignment: floor(capacity / 1000) of them per chunk.
    const size_t per_chunk = cache.chunk_capacity() / 1000;
    ASSERT_GE(per_chunk, 1u);
    const size_t count = 500;
    std::vector<char*> blocks;
    for (size_t i = 0; i < count; ++i) {
        auto* p = static_cast<char*>(r.allocate(1000, 8));
        std::memset(p, static_cast<int>(i), 1000);
        blocks.push_back(p);
    }
    EXPECT_EQ(r.chunk_count(), (count + per_chunk - 1) / per_chunk);
    EXPECT_EQ(cache.mapped(), r.chunk_count());
    EXPECT_EQ(cache.cached(), 0u);
    for (size_t i = 0; i < count; ++i) {
        EXPECT_EQ(static_cast<unsigned char>(blocks[i][999]), static_cast<unsigned char>(i));
    }
}

TEST(Region, UsedCountsBytesHandedOutIncludingPaddingButNotChunkTails) {
    ChunkCache cache(small_chunks());
    Region r(cache);
    EXPECT_EQ(r.used(), 0u);
    auto* a = static_cast<char*>(r.allocate(10, 1));
    EXPECT_EQ(r.used(), 10u);
    r.allocate(5, 1);
    EXPECT_EQ(r.used(), 15u);
    auto* c = static_cast<char*>(r.allocate(1, 64));  // padded up to a 64-byte boundary
    EXPECT_EQ(r.used(), static_cast<size_t>(c + 1 - a));
    EXPECT_GT(r.used(), 16u);

    // Unaligned allocations over many chunks: the unused tail of each full chunk is not "used".
    r.reset();
    EXPECT_EQ(r.used(), 0u);
    for (int i = 0; i < 50; ++i)
        r.allocate(1000, 1);
    EXPECT_GT(r.chunk_count(), 10u);
    EXPECT_EQ(r.used(), 50u * 1000u);

    // Oversize allocations count their size.
    const size_t big = cache.chunk_capacity();
    r.allocate(big, 1);
    EXPECT_EQ(r.used(), 50u * 1000u + big);
    r.reset();
    EXPECT_EQ(r.used(), 0u);
}

TEST(Region, ResetKeepsExactlyOneChunkAndReturnsTheOthersToTheCache) {
    ChunkCache cache(small_chunks());
    Region r(cache);
    const std::vector<char*> firsts = fill_chunks(r, 10);
    ASSERT_EQ(r.chunk_count(), 10u);
    ASSERT_EQ(cache.mapped(), 10u);
    const size_t cached_before = cache.cached();

    r.reset();
    EXPECT_EQ(r.chunk_count(), 1u);
    EXPECT_EQ(cache.cached(), cached_before + 9);
    EXPECT_EQ(cache.mapped(), 10u);  // returned, not unmapped
    EXPECT_EQ(r.used(), 0u);

    // The kept chunk is the first one, rewound: the next allocation lands where the first did.
    EXPECT_EQ(r.allocate(1000, 8), firsts[0]);
    // Growing again takes the cached chunks back instead of mapping new ones.
    fill_chunks(r, 10);
    EXPECT_EQ(cache.cached(), 0u);
    EXPECT_EQ(cache.mapped(), 10u);
}

TEST(Region, ResetOfOneChunkAndOfAThousandChunksBothLeaveOneChunk) {
    ChunkCache cache(small_chunks(/*max_cached=*/2000));
    Region one(cache);
    Region many(cache);
    fill_chunks(one, 1);
    fill_chunks(many, 1000);
    ASSERT_EQ(cache.mapped(), 1001u);

    one.reset();
    EXPECT_EQ(one.chunk_count(), 1u);
    EXPECT_EQ(cache.cached(), 0u);

    many.reset();
    EXPECT_EQ(many.chunk_count(), 1u);
    EXPECT_EQ(cache.cached(), 999u);
    EXPECT_EQ(cache.mapped(), 1001u);

    // Resetting an already reset region changes nothing.
    many.reset();
    EXPECT_EQ(many.chunk_count(), 1u);
    EXPECT_EQ(cache.cached(), 999u);
}

// O(1) without a clock: the chunks between the second one and the newest are made inaccessible
// before reset(). A reset that splices the list in one step never touches them; one that walks
// the chunks faults. (Runs in a child process so that a fault fails this test only.)
TEST(Region, ResetDoesNotTouchTheChunksItHandsBack) {
#if NEXURE_REGION_ASAN
    GTEST_SKIP() << "AddressSanitizer builds walk the chunks on reset() to poison them";
#else
    EXPECT_EXIT(
        {
            ChunkCache cache(small_chunks(2000));
            Region r(cache);
            const std::vector<char*> firsts = fill_chunks(r, 1000);
            // Chunk 0 (kept) and chunk 1 (linked to it) are the ends of the splice; the rest,
            // the newest included, must stay untouched.
            for (size_t i = 2; i < firsts.size(); ++i) {
                if (mprotect(page_of(firsts[i]), page_size(), PROT_NONE) != 0) std::_Exit(2);
            }
            r.reset();
            for (size_t i = 2; i < firsts.size(); ++i) {
                if (mprotect(page_of(firsts[i]), page_size(), PROT_READ | PROT_WRITE) != 0) {
                    std::_Exit(3);
                }
            }
            std::_Exit(r.chunk_count() == 1 && cache.cached() == 999 ? 0 : 4);
        },
        ::testing::ExitedWithCode(0), "");
#endif
}

// A request that does not fit in the current chunk and needs more than a quarter of a chunk
// (size + alignment) gets a mapping of its own instead of a new standard chunk.
TEST(Region, OversizeAllocationsGetAMappingOfTheirOwnThatResetUnmaps) {
    ChunkCache cache;
    Region r(cache);
    const size_t capacity = cache.chunk_capacity();
    auto* small = static_cast<char*>(r.allocate(16, 16));
    ASSERT_EQ(r.chunk_count(), 1u);
    // Leave 10000 bytes of room in the chunk: less than any request below.
    const size_t filler_size = capacity - r.used() - 10000;
    auto* filler = static_cast<char*>(r.allocate(filler_size, 1));
    char* const cursor = filler + filler_size;
    const size_t used_before = r.used();

    const size_t sizes[] = {capacity / 4 - 15,  // with align 16: one byte over the quarter
                            capacity * 3, size_t{1} << 20};
    std::vector<char*> bigs;
    for (size_t n : sizes) {
        auto* p = static_cast<char*>(r.allocate(n, 16));
        EXPECT_EQ(addr(p) % 16, 0u);
        std::memset(p, 0x77, n);
        // Not carved from the standard chunk: outside [chunk, chunk + chunk bytes).
        const uintptr_t chunk = addr(page_of(small));
        const bool inside = addr(p) >= chunk && addr(p) < chunk + capacity + sizeof(detail::Chunk);
        EXPECT_FALSE(inside) << n;
        EXPECT_TRUE(is_mapped(p));
        EXPECT_TRUE(is_mapped(p + n - 1));
        bigs.push_back(p);
    }
    EXPECT_EQ(r.chunk_count(), 1u);  // oversize chunks are not standard chunks
    EXPECT_EQ(cache.mapped(), 1u);
    EXPECT_EQ(r.used(), used_before + sizes[0] + sizes[1] + sizes[2]);
    // The standard chunk in use was not abandoned: small allocations continue where it was.
    EXPECT_EQ(r.allocate(16, 1), cursor);

    r.reset();
    for (size_t i = 0; i < bigs.size(); ++i) {
        EXPECT_FALSE(is_mapped(bigs[i])) << sizes[i];
        EXPECT_FALSE(is_mapped(bigs[i] + sizes[i] - 1)) << sizes[i];
    }
    EXPECT_TRUE(is_mapped(small));  // the kept chunk stays
    EXPECT_EQ(cache.cached(), 0u);  // the default budget keeps no large mapping
    EXPECT_EQ(cache.oversize_cached_bytes(), 0u);
    EXPECT_EQ(cache.mapped(), 1u);
}

TEST(Region, LargeMappingsAreKeptUpToTheBudgetAndReusedForWhatFits) {
    const size_t mib = size_t{1} << 20;
    ChunkCache cache(ChunkCache::Options{.max_cached_oversize_bytes = 4 * mib});
    Region r(cache);
    auto* one = static_cast<char*>(r.allocate(mib - 4096));
    std::memset(one, 1, mib - 4096);
    r.reset();
    EXPECT_TRUE(is_mapped(one));  // kept, pages and all
    EXPECT_EQ(cache.oversize_cached_bytes(), mib);

    // A smaller large request reuses it; a larger one cannot and gets a mapping of its own.
    auto* again = static_cast<char*>(r.allocate(mib / 2));
    EXPECT_EQ(again, one);
    EXPECT_EQ(cache.oversize_cached_bytes(), 0u);
    auto* larger = static_cast<char*>(r.allocate(2 * mib));
    EXPECT_NE(larger, one);
    std::memset(larger, 2, 2 * mib);
    r.reset();
    EXPECT_EQ(cache.oversize_cached_bytes(), 3 * mib + 4096);

    // Of several that fit, the smallest is taken.
    auto* fits = static_cast<char*>(r.allocate(mib / 2));
    EXPECT_EQ(fits, one);
    r.reset();

    // Beyond the budget, what comes back is unmapped.
    std::vector<char*> many;
    for (int i = 0; i < 4; ++i)
        many.push_back(static_cast<char*>(r.allocate(mib)));
    r.reset();
    EXPECT_LE(cache.oversize_cached_bytes(), 4 * mib);
    size_t still_mapped = 0;
    for (char* p : many)
        still_mapped += is_mapped(p) ? 1 : 0;
    EXPECT_LT(still_mapped, many.size());
}

TEST(Region, ARequestOfAtMostAQuarterChunkThatDoesNotFitTakesANewStandardChunk) {
    ChunkCache cache;
    Region r(cache);
    const size_t capacity = cache.chunk_capacity();
    r.allocate(16, 16);
    r.allocate(capacity - r.used() - 10000, 1);  // 10000 bytes of room left
    const size_t n = capacity / 4 - 16;          // size + align == a quarter: still standard
    auto* p = static_cast<char*>(r.allocate(n, 16));
    std::memset(p, 0x66, n);
    EXPECT_EQ(r.chunk_count(), 2u);
    EXPECT_EQ(cache.mapped(), 2u);
    r.reset();
    EXPECT_EQ(cache.cached(), 1u);  // a standard chunk: cached, not unmapped
    EXPECT_TRUE(is_mapped(p));
}

// While it fits, a large request is served from the current chunk like any other.
TEST(Region, ALargeRequestThatFitsTheCurrentChunkStaysInIt) {
    ChunkCache cache;
    Region r(cache);
    auto* a = static_cast<char*>(r.allocate(16, 16));
    const size_t n = cache.chunk_capacity() / 2;
    auto* p = static_cast<char*>(r.allocate(n, 16));
    EXPECT_EQ(p, a + 16);
    std::memset(p, 1, n);
    EXPECT_EQ(r.chunk_count(), 1u);
}

TEST(Region, OversizeAsFirstAllocationMapsNoStandardChunk) {
    ChunkCache cache;
    Region r(cache);
    const size_t n = cache.chunk_capacity();
    auto* p = static_cast<char*>(r.allocate(n));
    std::memset(p, 1, n);
    EXPECT_EQ(r.chunk_count(), 0u);
    EXPECT_EQ(cache.mapped(), 0u);
    r.release();
    EXPECT_FALSE(is_mapped(p));
}

TEST(Region, ExtendGrowsTheMostRecentAllocationInPlace) {
    ChunkCache cache;
    Region r(cache);
    r.allocate(24);
    auto* p = static_cast<char*>(r.allocate(100, 8));
    for (int i = 0; i < 100; ++i)
        p[i] = static_cast<char>(i);
    const size_t used = r.used();

    auto* q = static_cast<char*>(r.extend(p, 100, 300, 8));
    EXPECT_EQ(q, p);
    EXPECT_EQ(r.used(), used + 200);
    for (int i = 0; i < 100; ++i)
        ASSERT_EQ(q[i], static_cast<char>(i));
    std::memset(q + 100, 0x11, 200);  // the new bytes are usable
    // The cursor moved past the extended block.
    EXPECT_EQ(r.allocate(1, 1), p + 300);

    // Extending twice in a row also stays in place.
    auto* s = static_cast<char*>(r.allocate(10, 8));
    std::memcpy(s, "0123456789", 10);
    EXPECT_EQ(r.extend(s, 10, 20, 8), s);
    EXPECT_EQ(r.extend(s, 20, 40, 8), s);
    EXPECT_EQ(std::string_view(s, 10), "0123456789");
}

TEST(Region, ExtendCopiesWhenTheBlockIsNotTheMostRecent) {
    ChunkCache cache;
    Region r(cache);
    auto* a = static_cast<char*>(r.allocate(100, 8));
    std::memset(a, 'a', 100);
    auto* b = static_cast<char*>(r.allocate(50, 8));
    std::memset(b, 'b', 50);

    auto* a2 = static_cast<char*>(r.extend(a, 100, 200, 8));
    EXPECT_NE(a2, a);
    EXPECT_EQ(std::string_view(a2, 100), std::string(100, 'a'));
    std::memset(a2 + 100, 'A', 100);
    EXPECT_EQ(std::string_view(b, 50), std::string(50, 'b'));  // the neighbour is intact
    EXPECT_TRUE(addr(a2) >= addr(b) + 50 || addr(a2) + 200 <= addr(b));
}

TEST(Region, ExtendCopiesIntoANewChunkWhenTheCurrentOneHasNoRoom) {
    ChunkCache cache;  // 64 KiB chunks
    Region r(cache);
    // Fill the first chunk to within capacity % 1000 bytes of its end.
    const size_t blocks = cache.chunk_capacity() / 1000;
    char* last = nullptr;
    for (size_t i = 0; i < blocks; ++i) {
        last = static_cast<char*>(r.allocate(1000, 8));
        std::memset(last, static_cast<int>('a' + i % 26), 1000);
    }
    ASSERT_EQ(r.chunk_count(), 1u);
    ASSERT_LT(cache.chunk_capacity() - blocks * 1000, 3000u);

    // The most recent block, but 3000 more bytes do not fit behind it: copied to a new chunk.
    auto* grown = static_cast<char*>(r.extend(last, 1000, 4000, 8));
    EXPECT_NE(grown, last);
    EXPECT_EQ(r.chunk_count(), 2u);
    const char expected = static_cast<char>('a' + (blocks - 1) % 26);
    EXPECT_EQ(std::string_view(grown, 1000), std::string(1000, expected));
    std::memset(grown + 1000, 'w', 3000);
    EXPECT_EQ(last[999], expected);  // the old block is left as it was (reclaimed by reset)
}

TEST(Region, ExtendOfAnOversizeBlockCopiesItsContent) {
    ChunkCache cache(small_chunks());
    Region r(cache);
    const size_t n = cache.chunk_capacity() / 2;
    auto* p = static_cast<char*>(r.allocate(n, 8));
    for (size_t i = 0; i < n; ++i)
        p[i] = static_cast<char>(i * 7);
    auto* q = static_cast<char*>(r.extend(p, n, 3 * n, 8));
    EXPECT_NE(q, p);
    for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(q[i], static_cast<char>(i * 7)) << i;
    std::memset(q + n, 0, 2 * n);
}

TEST(Region, CopyDuplicatesTheBytesIntoTheRegion) {
    ChunkCache cache;
    Region r(cache);
    std::string source = "Content-Type: text/plain";
    const std::string_view copy = r.copy(source);
    EXPECT_EQ(copy, "Content-Type: text/plain");
    EXPECT_NE(copy.data(), source.data());
    source[0] = 'X';  // the copy does not alias the source
    EXPECT_EQ(copy, "Content-Type: text/plain");
    EXPECT_EQ(r.used(), source.size());

    const std::string_view second = r.copy("abc");
    EXPECT_EQ(second.data(), copy.data() + copy.size());  // alignment 1: packed
    EXPECT_TRUE(r.copy("").empty());
}

TEST(Region, MakeConstructsTrivialObjectsWithTheirAlignment) {
    struct alignas(64) Header {
        uint32_t a;
        uint16_t b;
    };
    ChunkCache cache;
    Region r(cache);
    r.allocate(3, 1);
    Header* h = r.make<Header>(Header{7, 9});
    EXPECT_EQ(addr(h) % 64, 0u);
    EXPECT_EQ(h->a, 7u);
    EXPECT_EQ(h->b, 9u);
    uint64_t* arr = r.make_array<uint64_t>(100);
    EXPECT_EQ(addr(arr) % alignof(uint64_t), 0u);
    for (int i = 0; i < 100; ++i)
        arr[i] = static_cast<uint64_t>(i);
    EXPECT_EQ(arr[99], 99u);
    EXPECT_TRUE(addr(arr) >= addr(h) + sizeof(Header) || addr(arr) + 800 <= addr(h));
}

TEST(Region, ReleaseReturnsEveryChunkIncludingTheFirst) {
    ChunkCache cache(small_chunks());
    Region r(cache);
    fill_chunks(r, 5);
    const size_t big = cache.chunk_capacity() * 2;
    auto* over = static_cast<char*>(r.allocate(big));
    std::memset(over, 0, big);

    r.release();
    EXPECT_EQ(r.chunk_count(), 0u);
    EXPECT_EQ(r.used(), 0u);
    EXPECT_EQ(cache.cached(), 5u);
    EXPECT_EQ(cache.mapped(), 5u);
    EXPECT_FALSE(is_mapped(over));

    // Still usable: the first chunk comes back from the cache.
    auto* p = static_cast<char*>(r.allocate(64));
    std::memset(p, 1, 64);
    EXPECT_EQ(r.chunk_count(), 1u);
    EXPECT_EQ(cache.cached(), 4u);
    EXPECT_EQ(cache.mapped(), 5u);
}

TEST(Region, DestructorReturnsItsChunksToTheCache) {
    ChunkCache cache(small_chunks());
    {
        Region r(cache);
        fill_chunks(r, 7);
    }
    EXPECT_EQ(cache.cached(), 7u);
    EXPECT_EQ(cache.mapped(), 7u);
    // Another region of the same cache reuses them without mapping.
    Region again(cache);
    fill_chunks(again, 7);
    EXPECT_EQ(cache.cached(), 0u);
    EXPECT_EQ(cache.mapped(), 7u);
}

TEST(ChunkCache, ChunkSizeIsRoundedToWholePages) {
    const size_t page = page_size();
    ChunkCache tiny(ChunkCache::Options{.chunk_bytes = 100});
    EXPECT_EQ(tiny.chunk_capacity() + sizeof(detail::Chunk), std::max<size_t>(4096, page));
    ChunkCache odd(ChunkCache::Options{.chunk_bytes = 3 * page + 1});
    EXPECT_EQ(odd.chunk_capacity() + sizeof(detail::Chunk), 4 * page);
    ChunkCache dflt;
    EXPECT_EQ(dflt.chunk_capacity() + sizeof(detail::Chunk), 64u * 1024u);
    EXPECT_EQ(dflt.node(), -1);
}

TEST(ChunkCache, TrimUnmapsOnlyTheChunksBeyondMaxCached) {
    ChunkCache cache(small_chunks(/*max_cached=*/3));
    Region r(cache);
    const std::vector<char*> firsts = fill_chunks(r, 10);

    cache.trim();  // nothing cached yet: nothing to do
    EXPECT_EQ(cache.mapped(), 10u);

    r.reset();  // reset() and release() never unmap, whatever the cap
    EXPECT_EQ(cache.cached(), 9u);
    r.release();
    EXPECT_EQ(cache.cached(), 10u);
    EXPECT_EQ(cache.mapped(), 10u);
    for (char* p : firsts)
        EXPECT_TRUE(is_mapped(p));

    cache.trim();
    EXPECT_EQ(cache.cached(), 3u);
    EXPECT_EQ(cache.mapped(), 3u);
    const auto still_mapped = std::count_if(firsts.begin(), firsts.end(), is_mapped);
    EXPECT_EQ(still_mapped, 3);

    cache.trim();  // at the cap: a no-op
    EXPECT_EQ(cache.cached(), 3u);
    EXPECT_EQ(cache.mapped(), 3u);

    // The survivors are reused; a fourth chunk is mapped anew.
    fill_chunks(r, 4);
    EXPECT_EQ(cache.cached(), 0u);
    EXPECT_EQ(cache.mapped(), 4u);
}

#if NEXURE_REGION_ASAN
// AddressSanitizer builds: what the region has not handed out, or has taken back, is poisoned.
TEST(RegionDeathTest, ReadingAfterResetIsReportedAsUseAfterPoison) {
    EXPECT_DEATH(
        {
            ChunkCache cache;
            Region r(cache);
            auto* p = static_cast<volatile char*>(r.allocate(64));
            p[0] = 1;
            r.reset();
            const char c = p[0];
            (void)c;
        },
        "use-after-poison");
}

TEST(RegionDeathTest, ReadingAChunkHandedBackByResetIsReported) {
    EXPECT_DEATH(
        {
            ChunkCache cache(small_chunks());
            Region r(cache);
            fill_chunks(r, 3);
            auto* p = static_cast<volatile char*>(r.allocate(16));  // in the third chunk
            p[0] = 1;
            r.reset();
            const char c = p[0];
            (void)c;
        },
        "use-after-poison");
}

TEST(RegionDeathTest, ReadingAKeptLargeMappingAfterResetIsReported) {
    EXPECT_DEATH(
        {
            ChunkCache cache(ChunkCache::Options{.max_cached_oversize_bytes = size_t{1} << 22});
            Region r(cache);
            auto* p = static_cast<volatile char*>(r.allocate(size_t{1} << 20));
            p[0] = 1;
            r.reset();
            const char c = p[0];
            (void)c;
        },
        "use-after-poison");
}

TEST(RegionDeathTest, ReadingPastTheAllocationIntoUnallocatedChunkMemoryIsReported) {
    EXPECT_DEATH(
        {
            ChunkCache cache;
            Region r(cache);
            auto* p = static_cast<volatile char*>(r.allocate(16));
            p[15] = 1;             // the last byte of the allocation is fine
            const char c = p[64];  // not handed out yet
            (void)c;
        },
        "use-after-poison");
}

TEST(RegionDeathTest, TheAllocatedBytesThemselvesAreNotPoisoned) {
    // The control for the tests above: the same accesses within bounds do not die.
    ChunkCache cache;
    Region r(cache);
    auto* p = static_cast<volatile char*>(r.allocate(64));
    for (int i = 0; i < 64; ++i)
        p[i] = static_cast<char>(i);
    r.reset();
    auto* q = static_cast<volatile char*>(r.allocate(64));
    for (int i = 0; i < 64; ++i)
        q[i] = 0;
    SUCCEED();
}
#endif

}  // namespace
}  // namespace nexure::alloc
