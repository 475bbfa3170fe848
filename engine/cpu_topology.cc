#include "engine/cpu_topology.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include "alloc/numa.h"

namespace nexure::engine {

CpuTopology CpuTopology::detect() {
    CpuTopology topo;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (CPU_ISSET(cpu, &set)) topo.cpus_.push_back(cpu);
        }
    }
    if (topo.cpus_.empty()) {
        const long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long cpu = 0; cpu < (n > 0 ? n : 1); ++cpu)
            topo.cpus_.push_back(static_cast<int>(cpu));
    }
    topo.nodes_.reserve(topo.cpus_.size());
    for (int cpu : topo.cpus_)
        topo.nodes_.push_back(alloc::numa_node_of_cpu(cpu));
    return topo;
}

unsigned CpuTopology::node_count() const noexcept {
    std::vector<int> seen;
    for (int n : nodes_) {
        if (std::find(seen.begin(), seen.end(), n) == seen.end()) seen.push_back(n);
    }
    return static_cast<unsigned>(seen.size());
}

}  // namespace nexure::engine
