#include "alloc/numa.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "alloc/pool.h"
#include "alloc/region.h"

namespace nexure::alloc {
namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;

size_t page_size() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

bool is_mapped(const void* p) {
    const auto page = reinterpret_cast<uintptr_t>(p) & ~(page_size() - 1);
    unsigned char resident = 0;
    return mincore(reinterpret_cast<void*>(page), 1, &resident) == 0;
}

int current_node() {
    const int cpu = sched_getcpu();
    return cpu >= 0 ? numa_node_of_cpu(cpu) : 0;
}

// Whether the kernel can tell where pages live here. Without NUMA (ENOSYS) or when move_pages is
// forbidden (EPERM, some sandboxes and seccomp profiles) placement cannot be observed: the
// placement tests skip rather than pass vacuously.
bool placement_observable(const void* touched_page, std::string* why) {
    Result<int> r = numa_node_of_address(touched_page);
    if (!r && (r.error().code == ENOSYS || r.error().code == EPERM)) {
        *why = "the kernel cannot report page placement here: " + r.error().message;
        return false;
    }
    return true;
}

#define SKIP_UNLESS_PLACEMENT_OBSERVABLE(page)                          \
    do {                                                                \
        std::string why_;                                               \
        if (!placement_observable((page), &why_)) GTEST_SKIP() << why_; \
    } while (0)

// Expects every page of [p, p + bytes) (already touched) to be on `node`.
void expect_pages_on_node(const void* p, size_t bytes, int node) {
    const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~(page_size() - 1);
    const uintptr_t last = reinterpret_cast<uintptr_t>(p) + bytes - 1;
    size_t checked = 0;
    for (uintptr_t page = first; page <= last; page += page_size()) {
        Result<int> r = numa_node_of_address(reinterpret_cast<const void*>(page));
        ASSERT_TRUE(r.ok()) << "page " << checked << ": " << r.error().message;
        EXPECT_EQ(r.value(), node) << "page " << checked;
        ++checked;
    }
    EXPECT_GT(checked, 0u);
}

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

TEST(Numa, AnUntouchedPageHasNoNodeYet) {
    Result<Mapping> m = Mapping::map(page_size(), MapOptions{.prefault = false});
    ASSERT_TRUE(m.ok()) << m.error().message;
    Result<int> r = numa_node_of_address(m.value().data());
    if (!r && (r.error().code == ENOSYS || r.error().code == EPERM)) {
        GTEST_SKIP() << "the kernel cannot report page placement here: " << r.error().message;
    }
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

TEST(Mapping, MappingOnTheCurrentNodePlacesEveryPageThere) {
    const int node = current_node();
    Result<Mapping> r = Mapping::map(64 * page_size(), MapOptions{.node = node, .prefault = true});
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Mapping& m = r.value();
    if (numa_supported()) {
        EXPECT_EQ(m.node(), node);
    }
    SKIP_UNLESS_PLACEMENT_OBSERVABLE(m.data());
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

TEST(NumaPlacement, PoolBlocksAreOnTheRequestedNode) {
    const int node = current_node();
    struct Object {
        char bytes[200];
    };
    Pool<Object> pool(PoolOptions{.objects_per_block = 512, .max_objects = 2048, .node = node});
    EXPECT_EQ(pool.node(), node);
    for (int i = 0; i < 1024; ++i)
        ASSERT_NE(pool.acquire(), nullptr);  // two blocks
    ASSERT_EQ(pool.block_count(), 2u);
    SKIP_UNLESS_PLACEMENT_OBSERVABLE(pool.block_address(0));
    for (size_t b = 0; b < pool.block_count(); ++b)
        expect_pages_on_node(pool.block_address(b), pool.block_bytes(), node);
}

TEST(NumaPlacement, RegionChunksAreOnTheCachesNode) {
    const int node = current_node();
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

    SKIP_UNLESS_PLACEMENT_OBSERVABLE(touched[0].first);
    for (const auto& [q, n] : touched)
        expect_pages_on_node(q, n, node);
}

}  // namespace
}  // namespace nexure::alloc
