// What the NUMA tests can check, and when a check would test nothing.
//
// Two things can be observed: the memory policy the kernel recorded for a range (get_mempolicy
// with MPOL_F_ADDR), which is meaningful on any machine with NUMA support, one node or many; and
// the node each page actually landed on (move_pages), which is meaningful only with two or more
// nodes: on one node every page is on node 0 whatever the policy says, so a placement check there
// passes without testing anything. Placement checks therefore target a node other than the current
// CPU's, and skip with the reason on a one-node machine.
#pragma once

#include <gtest/gtest.h>
#include <numaif.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "alloc/numa.h"

namespace nexure::alloc::numa_checks {

inline size_t page_bytes() {
    return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

inline int current_node() {
    const int cpu = sched_getcpu();
    return cpu >= 0 ? numa_node_of_cpu(cpu) : 0;
}

// The nodes that have memory, from /sys/devices/system/node/has_memory ("0", "0-1,3").
inline std::vector<int> nodes_with_memory() {
    std::vector<int> nodes;
    std::ifstream in("/sys/devices/system/node/has_memory");
    std::string list;
    if (!(in >> list)) return nodes;
    std::stringstream ranges(list);
    std::string range;
    while (std::getline(ranges, range, ',')) {
        const size_t dash = range.find('-');
        const int first = std::stoi(range.substr(0, dash));
        const int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
        for (int n = first; n <= last; ++n)
            nodes.push_back(n);
    }
    return nodes;
}

// The node placement tests bind memory to: one with memory other than the current CPU's, so that
// pages landing there cannot be explained by the default (local) policy. nullopt, with `why`
// set, when there is no such node (one node, or no NUMA support).
inline std::optional<int> placement_target(std::string* why) {
    if (!numa_supported()) {
        *why = "no NUMA support here: memory is never bound, placement cannot be observed";
        return std::nullopt;
    }
    const int here = current_node();
    for (int node : nodes_with_memory()) {
        if (node != here && node < numa_node_count()) return node;
    }
    *why = "this machine has one NUMA node with memory: every page is on node " +
           std::to_string(here) + " whatever the policy, so placement cannot be told apart";
    return std::nullopt;
}

// Why the kernel cannot report where pages live here (no NUMA, or move_pages forbidden by a
// sandbox), or nullopt when it can.
inline std::optional<std::string> placement_unobservable(const void* touched_page) {
    Result<int> r = numa_node_of_address(touched_page);
    if (!r && (r.error().code == ENOSYS || r.error().code == EPERM)) {
        return "the kernel cannot report page placement here: " + r.error().message;
    }
    return std::nullopt;
}

// Expects every page of [p, p + bytes) (already touched) to be on `node`.
inline void expect_pages_on_node(const void* p, size_t bytes, int node) {
    const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~(page_bytes() - 1);
    const uintptr_t last = reinterpret_cast<uintptr_t>(p) + bytes - 1;
    size_t checked = 0;
    for (uintptr_t page = first; page <= last; page += page_bytes()) {
        Result<int> r = numa_node_of_address(reinterpret_cast<const void*>(page));
        ASSERT_TRUE(r.ok()) << "page " << checked << ": " << r.error().message;
        EXPECT_EQ(r.value(), node) << "page " << checked;
        ++checked;
    }
    EXPECT_GT(checked, 0u);
}

// The policy the kernel recorded for the page at `addr`: its mode and the one node in its mask
// (-1 when the mask is empty or names several).
struct Policy {
    int mode = -1;
    int node = -1;
};
inline Policy policy_at(const void* addr) {
    constexpr unsigned kWords = 16;
    unsigned long mask[kWords] = {};
    int mode = -1;
    if (get_mempolicy(&mode, mask, kWords * 8 * sizeof(unsigned long), const_cast<void*>(addr),
                      MPOL_F_ADDR) != 0) {
        ADD_FAILURE() << "get_mempolicy: " << std::strerror(errno);
        return {};
    }
    Policy p{.mode = mode};
    for (unsigned w = 0; w < kWords; ++w) {
        for (unsigned b = 0; b < 8 * sizeof(unsigned long); ++b) {
            if ((mask[w] >> b & 1UL) == 0) continue;
            p.node = p.node == -1 ? static_cast<int>(w * 8 * sizeof(unsigned long) + b) : -2;
        }
    }
    if (p.node == -2) p.node = -1;
    return p;
}

}  // namespace nexure::alloc::numa_checks

// Ends the test as skipped when placement cannot be observed or cannot be told apart (see above);
// otherwise declares `int target` (the node to bind to) in the calling scope.
#define NEXURE_PLACEMENT_TARGET_OR_SKIP(target)                                            \
    std::string target##_why_;                                                             \
    const std::optional<int> target##_node_ = ::nexure::alloc::numa_checks::placement_target(     \
        &target##_why_);                                                                   \
    if (!target##_node_) GTEST_SKIP() << target##_why_;                                    \
    const int target = *target##_node_

#define NEXURE_SKIP_UNLESS_PLACEMENT_OBSERVABLE(page)                                      \
    do {                                                                                   \
        if (const auto why_ = ::nexure::alloc::numa_checks::placement_unobservable(page); why_)   \
            GTEST_SKIP() << *why_;                                                         \
    } while (0)
