#include "alloc/numa.h"

// NEXURE_HAVE_LIBNUMA is 0 in a build without libnuma (NEXURE_STATIC_DEPS, the prebuilt addon:
// cmake/NexureDeps.cmake): the machine is then treated as having one node and nothing is placed.
#ifndef NEXURE_HAVE_LIBNUMA
#define NEXURE_HAVE_LIBNUMA 1
#endif
#if NEXURE_HAVE_LIBNUMA
#include <numa.h>
#include <numaif.h>
#endif
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace nexure::alloc {

namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;

bool detect_numa() noexcept {
#if NEXURE_HAVE_LIBNUMA
    // numa_available() returns -1 when the kernel lacks NUMA system calls (or they are blocked).
    return numa_available() >= 0;
#else
    return false;
#endif
}

// A one-node mask in the layout mbind and set_mempolicy take (nodes up to 1023).
struct NodeMask {
    static constexpr unsigned kBitsPerWord = sizeof(unsigned long) * 8;
    static constexpr unsigned kMaxNodes = 16 * kBitsPerWord;
    unsigned long bits[16] = {};
    explicit NodeMask(unsigned node) noexcept {
        bits[node / kBitsPerWord] = 1UL << (node % kBitsPerWord);
    }
};

size_t page_size() noexcept {
    static const size_t size = [] {
        const long p = sysconf(_SC_PAGESIZE);
        return p > 0 ? static_cast<size_t>(p) : size_t{4096};
    }();
    return size;
}

}  // namespace

bool numa_supported() noexcept {
    static const bool supported = detect_numa();
    return supported;
}

#if NEXURE_HAVE_LIBNUMA
int numa_node_count() noexcept {
    if (!numa_supported()) return 1;
    const int max = numa_max_node();
    return max >= 0 ? max + 1 : 1;
}

int numa_node_of_cpu(int cpu) noexcept {
    if (!numa_supported() || cpu < 0) return 0;
    const int node = ::numa_node_of_cpu(cpu);
    return node >= 0 ? node : 0;
}

Result<void> numa_prefer_node(int node) noexcept {
    if (!numa_supported()) return Error{ENOSYS, "the kernel has no NUMA support"};
    if (node < 0 || node >= numa_node_count() ||
        static_cast<unsigned>(node) >= NodeMask::kMaxNodes) {
        return Error{EINVAL, "no NUMA node " + std::to_string(node)};
    }
    const NodeMask mask(static_cast<unsigned>(node));
    if (set_mempolicy(MPOL_PREFERRED, mask.bits, NodeMask::kMaxNodes) != 0) {
        return Error{errno, std::string("set_mempolicy: ") + std::strerror(errno)};
    }
    return {};
}

Result<int> numa_node_of_address(const void* address) noexcept {
    if (!numa_supported()) return Error{ENOSYS, "the kernel has no NUMA support"};
    // move_pages with no target nodes only reports where each page is.
    const auto page = reinterpret_cast<uintptr_t>(address) & ~(page_size() - 1);
    void* pages[1] = {reinterpret_cast<void*>(page)};
    int status[1] = {-1};
    if (move_pages(0, 1, pages, nullptr, status, 0) != 0) {
        return Error{errno, std::string("move_pages: ") + std::strerror(errno)};
    }
    if (status[0] < 0) {
        return Error{-status[0],
                     std::string("move_pages: page status ") + std::strerror(-status[0])};
    }
    return status[0];
}
#else
int numa_node_count() noexcept { return 1; }

int numa_node_of_cpu(int /*cpu*/) noexcept { return 0; }

Result<void> numa_prefer_node(int /*node*/) noexcept {
    return Error{ENOSYS, "built without libnuma (NEXURE_STATIC_DEPS)"};
}

Result<int> numa_node_of_address(const void* /*address*/) noexcept {
    return Error{ENOSYS, "built without libnuma (NEXURE_STATIC_DEPS)"};
}
#endif

Result<Mapping> Mapping::map(size_t bytes, const MapOptions& options) noexcept {
    if (bytes == 0) return Error{EINVAL, "cannot map 0 bytes"};
    const size_t unit = options.huge_pages ? kHugePage : page_size();
    const size_t size = (bytes + unit - 1) & ~(unit - 1);
    // With huge pages, over-map by one huge page and trim both ends to a 2 MiB-aligned span, so
    // the kernel can back it with whole huge pages.
    const size_t raw_size = options.huge_pages ? size + kHugePage : size;
    void* raw = mmap(nullptr, raw_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        return Error{errno,
                     "cannot map " + std::to_string(size) + " bytes: " + std::strerror(errno)};
    }
    Mapping m;
    m.raw_ = raw;
    m.raw_size_ = raw_size;
    m.size_ = size;
    m.data_ = raw;
    if (options.huge_pages) {
        const auto addr = reinterpret_cast<uintptr_t>(raw);
        const uintptr_t aligned = (addr + kHugePage - 1) & ~(kHugePage - 1);
        if (aligned > addr) munmap(raw, aligned - addr);
        const uintptr_t tail = aligned + size;
        if (addr + raw_size > tail) munmap(reinterpret_cast<void*>(tail), addr + raw_size - tail);
        m.raw_ = m.data_ = reinterpret_cast<void*>(aligned);
        m.raw_size_ = size;
        m.huge_ = madvise(m.data_, size, MADV_HUGEPAGE) == 0;
    }
#if NEXURE_HAVE_LIBNUMA
    if (options.node >= 0 && numa_supported() && options.node < numa_node_count()) {
        // Preferred, not strict: when the node is full the kernel falls back to another one
        // rather than failing the fault on the hot path.
        const auto node = static_cast<unsigned>(options.node);
        if (node < NodeMask::kMaxNodes) {
            const NodeMask mask(node);
            if (mbind(m.data_, size, MPOL_PREFERRED, mask.bits, NodeMask::kMaxNodes, 0) == 0) {
                m.node_ = options.node;
            }
        }
    }
#endif
    if (options.prefault) {
        char* p = m.data();
        for (size_t off = 0; off < size; off += page_size())
            p[off] = 0;
    }
    return m;
}

void Mapping::reset() noexcept {
    if (raw_ != nullptr) munmap(raw_, raw_size_);
    raw_ = data_ = nullptr;
    raw_size_ = size_ = 0;
    node_ = -1;
    huge_ = false;
}

}  // namespace nexure::alloc
