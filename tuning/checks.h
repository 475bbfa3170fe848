// Checks: what `nexure-tune check` reports about a host, one Item per setting: io_uring
// availability, resource limits, the profile's sysctls, the CPU frequency governor, transparent
// huge pages, NIC IRQ affinity and RPS/XPS, and CPU vulnerability mitigations.
//
// Every file is read through a RootFs, so a fake tree gives the same report a real host with those
// files would. The only things not read from files are io_uring_setup itself (a probe function,
// replaceable in tests) and nothing else: resource limits come from /proc/self/limits.
// Nothing here writes anything. Any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tuning/profile.h"
#include "tuning/root_fs.h"

namespace nexure::tuning {

enum class Status : uint8_t {
    kOk,    // nothing to do
    kWarn,  // worth changing; the recommendation says how
};

const char* status_name(Status status) noexcept;  // "OK", "WARN"

struct Item {
    std::string id;    // stable, for scripts: "rlimit.memlock", "nic.eth0"
    std::string name;  // what is checked, for people: "RLIMIT_MEMLOCK"
    Status status = Status::kOk;
    std::string found;                 // what the host has, on one line
    std::string recommendation;        // what to do, or why nothing needs doing
    std::vector<std::string> details;  // more of what was found (per CPU, queue, IRQ, ...)
};

// Creates and destroys a small io_uring; returns 0 when that works, -errno otherwise.
using IoUringProbe = std::function<int()>;
int probe_io_uring() noexcept;

struct CheckOptions {
    RootFs fs;
    std::vector<SysctlSetting> profile;  // usually parse_profile(builtin_profile())
    IoUringProbe io_uring_probe;         // empty: probe_io_uring
};

// Runs every check, in a fixed order.
std::vector<Item> run_checks(const CheckOptions& options);

// kWarn when any item warns.
Status overall_status(const std::vector<Item>& items) noexcept;

// What nexure-server in its default configuration needs with one worker per CPU: locked memory
// for its registered send slabs, and descriptors for its connections plus spares; the last one is
// the RLIMIT_NOFILE to recommend (a power of two, at least 65536).
uint64_t memlock_needed(unsigned cpus);
uint64_t nofile_needed(unsigned cpus);
uint64_t nofile_advice(unsigned cpus);

// The transparent-huge-page mode `apply` sets when `check` warns, from the file's content
// ("always madvise [never]"): "madvise" when huge pages are off for the pools, "defer+madvise"
// (or "madvise" on kernels without it) when every fault may compact memory. Empty when the
// current mode is fine, or the kernel offers nothing better.
std::string thp_enabled_fix(std::string_view content);
std::string thp_defrag_fix(std::string_view content);

// The CPUs online on the host (/sys/devices/system/cpu/online; 1 when that cannot be read).
unsigned online_cpu_count(const RootFs& fs);

// A kernel cpu list ("0-3,8,10-11") to CPU numbers, and back. Parsing fails on malformed text.
bool parse_cpu_list(std::string_view text, std::vector<unsigned>* cpus);
std::string format_cpu_list(std::vector<unsigned> cpus);

// A kernel CPU mask ("ff", "00000000,0000000f") to CPU numbers. Fails on non-hex text.
bool parse_cpu_mask(std::string_view text, std::vector<unsigned>* cpus);
// The mask with CPUs 0..count-1 set, in the kernel's comma-separated 32-bit groups.
std::string cpu_mask_for(unsigned count);

}  // namespace nexure::tuning
