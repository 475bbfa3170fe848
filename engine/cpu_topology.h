// CpuTopology: the CPUs this process may run on (its affinity mask), in ascending order, and the
// NUMA node of each (libnuma; node 0 for all where the kernel has no NUMA support). Read once at
// start-up, on any thread.
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
    // The NUMA node of that CPU: where the worker's memory is placed.
    int node_for_worker(unsigned index) const noexcept { return nodes_[index % nodes_.size()]; }
    // The node of each CPU in cpus(), same order.
    const std::vector<int>& nodes() const noexcept { return nodes_; }
    // Distinct nodes among the allowed CPUs.
    unsigned node_count() const noexcept;

  private:
    std::vector<int> cpus_;
    std::vector<int> nodes_;
};

}  // namespace nexure::engine
