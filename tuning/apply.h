// Apply: the changes `nexure-tune apply` makes to a host, the state file that remembers what they
// replaced, and `nexure-tune restore`, which puts those values back.
//
// What apply may change: the profile's sysctls (raised, never lowered: see profile.h), the
// transparent-huge-page modes and each CPU's frequency governor, and only where `check` warns
// about them. Resource limits belong to each process, and NIC IRQ affinity and RPS depend on the
// hardware, so for those it gives advice instead. kernel.io_uring_disabled is a security decision
// and is never changed.
//
// Order of a real run: plan, save the current values of everything about to change to the state
// file (merged with values saved by an earlier run, which stay: they are the host's originals),
// then write. Nothing is written when the state file cannot be saved.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "alloc/result.h"
#include "tuning/profile.h"
#include "tuning/root_fs.h"

namespace nexure::tuning {

struct Change {
    std::string what;     // for people: "net.core.somaxconn", "cpu3 scaling_governor"
    std::string path;     // host path: "/proc/sys/net/core/somaxconn"
    std::string current;  // the host's value, normalized (normalize_value)
    std::string wanted;   // what would be written
    bool needed = false;  // false: the host already has it, or it cannot be changed (see note)
    std::string note;     // why it is not needed, when that is not obvious
};

struct Plan {
    std::vector<Change> changes;
    std::vector<std::string> advice;  // what apply does not change itself, and how to
};

Plan plan_apply(const RootFs& fs, const std::vector<SysctlSetting>& profile);

// One line of the state file: a host path and the value it had before apply changed it.
struct SavedValue {
    std::string path;
    std::string value;
};

// Where apply saves previous values unless told otherwise: /var/lib/nexure-tune/saved.conf under
// the root (so that a test root never reaches the real one).
std::filesystem::path default_state_file(const RootFs& fs);

// Reads a state file ("path = value" lines, '#' comments; a value may be empty). Fails with ENOENT
// when it does not exist, and with EINVAL naming the line when a line is malformed or names a path
// outside /proc/sys and /sys (restore writes nowhere else).
Result<std::vector<SavedValue>> read_state(const std::filesystem::path& file);

// Adds the current values of the needed changes to the state file, keeping every value already
// saved there, and writes it atomically (a temporary file renamed over it), creating its
// directory. Returns the number of values it holds afterwards.
Result<size_t> save_state(const std::filesystem::path& file, const std::vector<Change>& changes);

// The changes that put the saved values back.
Plan plan_restore(const RootFs& fs, const std::vector<SavedValue>& saved);

// Writes change.wanted to change.path and reads it back; fails when either fails or the kernel
// kept another value.
Result<void> write_change(const RootFs& fs, const Change& change);

}  // namespace nexure::tuning
