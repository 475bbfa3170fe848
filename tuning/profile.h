// Profile: the sysctl settings nexure-tune checks and applies. The built-in one is
// tuning/sysctl.conf, compiled into the program; `--profile FILE` reads another file in the same
// format (`key = value` lines, '#' or ';' comments, as sysctl.d uses).
//
// A value is read according to its shape (tuning/sysctl.conf explains why): one integer is a
// minimum, two integers are a range to be covered, anything else must match exactly. That is
// what lets `apply` raise settings without ever lowering one a host already has higher.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/result.h"

namespace nexure::tuning {

enum class Compare : uint8_t {
    kAtLeast,      // "4096": the host's value must be at least this
    kCoversRange,  // "10240 65535": the host's range must include this one
    kExact,        // anything else: must be equal, word for word
};

struct SysctlSetting {
    std::string key;    // as written in the profile: "net.core.somaxconn"
    std::string path;   // the host file: "/proc/sys/net/core/somaxconn"
    std::string value;  // normalized (see normalize_value): "10240 65535"
    Compare compare = Compare::kExact;
    int line = 0;  // in the profile, for messages
};

// tuning/sysctl.conf as it was when nexure-tune was built.
std::string_view builtin_profile() noexcept;

// Parses a profile. Errors name the line and what is wrong with it.
Result<std::vector<SysctlSetting>> parse_profile(std::string_view text);

// The value a /proc/sys or sysfs file holds, in one canonical form: for selection files such as
// "always [madvise] never" the selected word ("madvise"), otherwise the words separated by one
// space ("32768\t60999\n" -> "32768 60999").
std::string normalize_value(std::string_view raw);

// Whether the host's normalized value `current` meets `setting`.
bool satisfies(const SysctlSetting& setting, std::string_view current);

// What `apply` writes on a host that has `current`: the profile's value, except that a range
// becomes the union of both ranges, so that nothing the host already allowed is taken away.
std::string value_to_write(const SysctlSetting& setting, std::string_view current);

}  // namespace nexure::tuning
