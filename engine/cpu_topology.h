// CpuTopology: the CPUs this process may run on (its affinity mask), in ascending order.
// Read once at start-up, on any thread. NUMA nodes are added with the memory work (alloc/).
#pragma once

#include <vector>

namespace nexure::engine {

class CpuTopology {
  public:
    // Reads sched_getaffinity(0); on failure falls back to 0..nproc-1.
    static CpuTopology detect();

    const std::vector<int>& cpus() const noexcept { return cpus_; }
    unsigned count() const noexcept { return static_cast<unsigned>(cpus_.size()); }
    // The CPU worker `index` is pinned to: workers are spread round-robin over allowed CPUs.
    int cpu_for_worker(unsigned index) const noexcept { return cpus_[index % cpus_.size()]; }

  private:
    std::vector<int> cpus_;
};

}  // namespace nexure::engine
