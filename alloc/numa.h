// NUMA placement: which node a CPU belongs to, memory mapped on a chosen node, and where a page
// actually lives.
//
// Built on libnuma (topology) and its numaif.h system-call wrappers (mbind, move_pages). Where the
// kernel or machine has no NUMA support, every CPU is on node 0 and mappings are plain anonymous
// memory: the same code runs, with one node. A build without libnuma (NEXURE_STATIC_DEPS, the
// prebuilt addon npm ships: Debian's libnuma.a cannot go into a shared object) behaves the same
// way on every machine.
#pragma once

#include <cstddef>
#include <utility>

#include "alloc/result.h"

namespace nexure::alloc {

// True when the kernel exposes NUMA (libnuma's numa_available() succeeded); false without libnuma.
bool numa_supported() noexcept;
// Number of configured NUMA nodes (1 without NUMA support).
int numa_node_count() noexcept;
// The node of `cpu`, or 0 without NUMA support or for an unknown CPU.
int numa_node_of_cpu(int cpu) noexcept;

// Makes `node` the calling thread's preferred node for new pages (set_mempolicy
// MPOL_PREFERRED). Fails with ENOSYS without NUMA support.
Result<void> numa_prefer_node(int node) noexcept;

// Where a page of memory resides: its node, or an error naming why the kernel could not say
// (ENOSYS without NUMA support, ENOENT for a page not faulted in yet, EPERM under some sandboxes).
Result<int> numa_node_of_address(const void* address) noexcept;

struct MapOptions {
    int node = -1;            // NUMA node to place the pages on; -1: the kernel's default policy
    bool huge_pages = false;  // align to 2 MiB, round the size up to 2 MiB, ask for THP
    bool prefault = true;     // touch every page now, so first use on the hot path does not fault
};

// An anonymous private mapping, unmapped on destruction. Owned by one thread, movable.
class Mapping {
  public:
    Mapping() = default;
    ~Mapping() { reset(); }
    Mapping(Mapping&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          raw_(std::exchange(other.raw_, nullptr)),
          raw_size_(std::exchange(other.raw_size_, 0)),
          node_(std::exchange(other.node_, -1)),
          huge_(std::exchange(other.huge_, false)) {}
    Mapping& operator=(Mapping&& other) noexcept {
        if (this != &other) {
            reset();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
            raw_ = std::exchange(other.raw_, nullptr);
            raw_size_ = std::exchange(other.raw_size_, 0);
            node_ = std::exchange(other.node_, -1);
            huge_ = std::exchange(other.huge_, false);
        }
        return *this;
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;

    // Maps at least `bytes` (rounded up to the page size, or to 2 MiB with huge_pages).
    // The memory is zero-filled. Fails with the mmap error; placement and THP are best-effort
    // (a refused mbind or madvise is not an error: see node() and huge_pages()).
    static Result<Mapping> map(size_t bytes, const MapOptions& options = {}) noexcept;

    char* data() const noexcept { return static_cast<char*>(data_); }
    size_t size() const noexcept { return size_; }
    explicit operator bool() const noexcept { return data_ != nullptr; }
    // The node the pages were bound to (preferred), or -1 when no binding was made.
    int node() const noexcept { return node_; }
    // Whether the kernel accepted MADV_HUGEPAGE for the mapping.
    bool huge_pages() const noexcept { return huge_; }

    void reset() noexcept;
    // Gives up ownership: the caller must munmap(data, size()) itself. Returns data().
    [[nodiscard]] char* release() noexcept {
        char* p = data();
        data_ = raw_ = nullptr;
        size_ = raw_size_ = 0;
        return p;
    }

  private:
    void* data_ = nullptr;  // 2 MiB-aligned inside raw_ with huge_pages
    size_t size_ = 0;
    void* raw_ = nullptr;
    size_t raw_size_ = 0;
    int node_ = -1;
    bool huge_ = false;
};

}  // namespace nexure::alloc
