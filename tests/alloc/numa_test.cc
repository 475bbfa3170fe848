#include "alloc/numa.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "alloc/pool.h"
#include "alloc/region.h"
#include "tests/alloc/numa_checks.h"

namespace nexure::alloc {
namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;

size_t page_size() {
    return numa_checks::page_bytes();
}

bool is_mapped(const void* p) {
    const auto page = reinterpret_cast<uintptr_t>(p) & ~(page_size() - 1);
    unsigned char resident = 0;
    return mincore(reinterpret_cast<void*>(page), 1, &resident) == 0;
}

using numa_checks::current_node;
using numa_checks::expect_pages_on_node;
using numa_checks::policy_at;

TEST(Numa, ThereIsAtLeastOneNode) {
    EXPECT_GE(numa_node_count(), 1);
    if (!numa_supported()) {
        EXPECT_EQ(numa_node_count(), 1);
    }
}

TEST(Numa, TheCurrentCpuIsOnAKnownNode) {
    const int cpu = sched_getcpu();
    ASSERT_GE(cpu, 0) << std::strerror(errno);
    const int node = numa_node_of_cpu(cpu);
    EXPECT_GE(node, 0);
    EXPECT_LT(node, numa_node_count());
}

TEST(Numa, UnknownCpusMapToNodeZero) {
    EXPECT_EQ(numa_node_of_cpu(-1), 0);
    EXPECT_EQ(numa_node_of_cpu(1 << 20), 0);
}

TEST(Numa, PreferringANodeThatDoesNotExistFails) {
    Result<void> r = numa_prefer_node(numa_node_count());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, numa_supported() ? EINVAL : ENOSYS);
    EXPECT_FALSE(r.error().message.empty());
    Result<void> negative = numa_prefer_node(-1);
    EXPECT_FALSE(negative.ok());
}

TEST(Numa, PreferringANodeBecomesTheThreadsPolicy) {
    const int node = current_node();
    // On a thread of its own: the policy stays with the thread, not with this test.
    std::thread([node] {
        Result<void> r = numa_prefer_node(node);
        if (!numa_supported()) {
            ASSERT_FALSE(r.ok());
            EXPECT_EQ(r.error().code, ENOSYS) << r.error().message;
            return;
        }
        ASSERT_TRUE(r.ok()) << r.error().message;
        int mode = -1;
        unsigned long mask[16] = {};
        ASSERT_EQ(get_mempolicy(&mode, mask, sizeof(mask) * 8, nullptr, 0), 0)
            << std::strerror(errno);
        EXPECT_EQ(mode, MPOL_PREFERRED);
        EXPECT_NE(mask[node / 64] & (1UL << (node % 64)), 0u) << "node " << node;
    }).join();
}

TEST(Numa, AnUntouchedPageHasNoNodeYet) {
    Result<Mapping> m = Mapping::map(page_size(), MapOptions{.prefault = false});
    ASSERT_TRUE(m.ok()) << m.error().message;
    NEXURE_SKIP_UNLESS_PLACEMENT_OBSERVABLE(m.value().data());
    Result<int> r = numa_node_of_address(m.value().data());
    ASSERT_FALSE(r.ok()) << "node " << r.value();
    EXPECT_EQ(r.error().code, ENOENT) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
}

TEST(Mapping, MappingZeroBytesFailsWithEinval) {
    Result<Mapping> m = Mapping::map(0);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, EINVAL);
    EXPECT_FALSE(m.error().message.empty());
}

TEST(Mapping, MapsWholeZeroFilledPages) {
    Result<Mapping> r = Mapping::map(page_size() + 1);
    ASSERT_TRUE(r.ok()) << r.error().message;
    Mapping& m = r.value();
    EXPECT_TRUE(static_cast<bool>(m));
    EXPECT_EQ(m.size(), 2 * page_size());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % page_size(), 0u);
    EXPECT_EQ(m.node(), -1);  // no node asked for
    for (size_t i = 0; i < m.size(); ++i)
        ASSERT_EQ(m.data()[i], 0) << i;
    m.data()[m.size() - 1] = 1;  // writable to the end
}

TEST(Mapping, ResetAndDestructionUnmapMoveTransfersAndReleaseGivesUp) {
    Result<Mapping> r = Mapping::map(3 * page_size());
    ASSERT_TRUE(r.ok()) << r.error().message;
    Mapping a = std::move(r).value();
    char* p = a.data();
    Mapping b = std::move(a);
    EXPECT_FALSE(static_cast<bool>(a));  // NOLINT(bugprone-use-after-move): specified state
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(b.size(), 3 * page_size());
    b.reset();
    EXPECT_FALSE(is_mapped(p));

    {
        Result<Mapping> scoped = Mapping::map(page_size());
        ASSERT_TRUE(scoped.ok());
        p = scoped.value().data();
        EXPECT_TRUE(is_mapped(p));
    }
    EXPECT_FALSE(is_mapped(p));

    Result<Mapping> kept = Mapping::map(page_size());
    ASSERT_TRUE(kept.ok());
    char* q = kept.value().release();
    EXPECT_FALSE(static_cast<bool>(kept.value()));
    kept.value().reset();  // owns nothing any more
    EXPECT_TRUE(is_mapped(q));
    q[0] = 1;
    munmap(q, page_size());
}

TEST(Mapping, ANodeAskedForBecomesThePolicyOfTheWholeRange) {
    const int node = current_node();
    Result<Mapping> r = Mapping::map(64 * page_size(), MapOptions{.node = node, .prefault = true});
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Mapping& m = r.value();
    if (!numa_supported()) {
        EXPECT_EQ(m.node(), -1);  // the fallback: plain memory, not bound
        return;
    }
    EXPECT_EQ(m.node(), node);
    for (const char* page : {m.data(), m.data() + m.size() - page_size()}) {
        const numa_checks::Policy p = policy_at(page);
        EXPECT_EQ(p.mode, MPOL_PREFERRED);
        EXPECT_EQ(p.node, node);
    }
}

TEST(Mapping, ANodeThatDoesNotExistLeavesTheMappingUnboundAndUsable) {
    Result<Mapping> r = Mapping::map(4 * page_size(), MapOptions{.node = numa_node_count()});
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Mapping& m = r.value();
    EXPECT_EQ(m.node(), -1);
    if (numa_supported()) {
        EXPECT_EQ(policy_at(m.data()).mode, MPOL_DEFAULT);
    }
    m.data()[m.size() - 1] = 1;
}

TEST(NumaPlacement, AMappingOnAnotherNodeHasEveryPageThere) {
    NEXURE_PLACEMENT_TARGET_OR_SKIP(node);
    Result<Mapping> r = Mapping::map(64 * page_size(), MapOptions{.node = node, .prefault = true});
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Mapping& m = r.value();
    EXPECT_EQ(m.node(), node);
    NEXURE_SKIP_UNLESS_PLACEMENT_OBSERVABLE(m.data());
    expect_pages_on_node(m.data(), m.size(), node);
}

TEST(Mapping, HugePagesGiveA2MiBAlignedSpanRoundedTo2MiB) {
    for (size_t bytes : {size_t{1}, kHugePage, kHugePage + 1, 3 * kHugePage - 5}) {
        Result<Mapping> r = Mapping::map(bytes, MapOptions{.huge_pages = true, .prefault = true});
        ASSERT_TRUE(r.ok()) << r.error().message;
        const Mapping& m = r.value();
        EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % kHugePage, 0u) << bytes;
        EXPECT_EQ(m.size() % kHugePage, 0u) << bytes;
        EXPECT_EQ(m.size(), (bytes + kHugePage - 1) / kHugePage * kHugePage);
        m.data()[0] = 1;
        m.data()[m.size() - 1] = 1;  // writable from end to end
    }
}

TEST(Mapping, HugePageMappingsUnmapTheirWholeSpan) {
    char* p = nullptr;
    size_t size = 0;
    {
        Result<Mapping> r = Mapping::map(kHugePage + 1, MapOptions{.huge_pages = true});
        ASSERT_TRUE(r.ok()) << r.error().message;
        p = r.value().data();
        size = r.value().size();
    }
    EXPECT_FALSE(is_mapped(p));
    EXPECT_FALSE(is_mapped(p + size - 1));
}

struct PoolObject {
    char bytes[200];
};

TEST(Numa, PoolBlocksAndRegionChunksCarryTheirNodesPolicy) {
    const int node = current_node();
    Pool<PoolObject> pool(PoolOptions{.objects_per_block = 512, .max_objects = 2048, .node = node});
    EXPECT_EQ(pool.node(), node);
    ASSERT_NE(pool.acquire(), nullptr);
    ChunkCache cache(ChunkCache::Options{.chunk_bytes = 64 * 1024, .max_cached = 8, .node = node});
    EXPECT_EQ(cache.node(), node);
    Region region(cache);
    void* chunk = region.allocate(8000, 64);
    void* big = region.allocate(256 * 1024);  // an oversize mapping of its own
    if (!numa_supported()) return;  // nothing is bound; the calls above must still work
    for (const void* p : {static_cast<const void*>(pool.block_address(0)),
                          static_cast<const void*>(chunk), static_cast<const void*>(big)}) {
        const numa_checks::Policy policy = policy_at(p);
        EXPECT_EQ(policy.mode, MPOL_PREFERRED);
        EXPECT_EQ(policy.node, node);
    }
}

TEST(NumaPlacement, PoolBlocksAreOnTheRequestedNode) {
    NEXURE_PLACEMENT_TARGET_OR_SKIP(node);
    Pool<PoolObject> pool(PoolOptions{.objects_per_block = 512, .max_objects = 2048, .node = node});
    EXPECT_EQ(pool.node(), node);
    for (int i = 0; i < 1024; ++i)
        ASSERT_NE(pool.acquire(), nullptr);  // two blocks
    ASSERT_EQ(pool.block_count(), 2u);
    NEXURE_SKIP_UNLESS_PLACEMENT_OBSERVABLE(pool.block_address(0));
    for (size_t b = 0; b < pool.block_count(); ++b)
        expect_pages_on_node(pool.block_address(b), pool.block_bytes(), node);
}

TEST(NumaPlacement, RegionChunksAreOnTheCachesNode) {
    NEXURE_PLACEMENT_TARGET_OR_SKIP(node);
    ChunkCache cache(ChunkCache::Options{.chunk_bytes = 64 * 1024, .max_cached = 8, .node = node});
    EXPECT_EQ(cache.node(), node);
    Region r(cache);
    std::vector<std::pair<char*, size_t>> touched;
    for (int i = 0; i < 20; ++i) {  // several standard chunks
        auto* p = static_cast<char*>(r.allocate(8000, 64));
        std::memset(p, 1, 8000);
        touched.emplace_back(p, 8000);
    }
    ASSERT_GE(r.chunk_count(), 2u);
    const size_t big = 256 * 1024;  // and an oversize mapping
    auto* p = static_cast<char*>(r.allocate(big));
    std::memset(p, 1, big);
    touched.emplace_back(p, big);

    NEXURE_SKIP_UNLESS_PLACEMENT_OBSERVABLE(touched[0].first);
    for (const auto& [q, n] : touched)
        expect_pages_on_node(q, n, node);
}

}  // namespace
}  // namespace nexure::alloc
