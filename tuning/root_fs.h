// RootFs: every file nexure-tune reads or writes on the host (/proc, /sys), looked up under a
// root directory. The root is "/" in production; tests point it at a fake tree in a temporary
// directory, so that every check and every write can be exercised without touching the host.
//
// Paths given to RootFs are host paths ("/proc/sys/net/core/somaxconn"). Symbolic links inside
// the tree are followed as the kernel would (sysfs uses relative links, which stay inside a fake
// root). Any thread; RootFs holds no state besides the root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/result.h"

namespace nexure::tuning {

class RootFs {
  public:
    explicit RootFs(std::filesystem::path root = "/");

    const std::filesystem::path& root() const noexcept { return root_; }

    // Where the host path `path` (absolute) lives under the root.
    std::filesystem::path resolve(std::string_view path) const;

    // The whole file. The error code is the errno of the failed open or read (ENOENT: absent).
    Result<std::string> read(std::string_view path) const;
    // The file's content with leading and trailing whitespace removed; nullopt if unreadable.
    std::optional<std::string> read_trimmed(std::string_view path) const;

    bool exists(std::string_view path) const;
    bool is_directory(std::string_view path) const;
    // The names in directory `path`, sorted; empty when it is absent or unreadable.
    std::vector<std::string> list(std::string_view path) const;
    // The target of the symbolic link `path` as stored in the link; nullopt if it is not one.
    std::optional<std::string> link_target(std::string_view path) const;

    // Replaces the content of the existing file `path` with `value` and a newline, in one
    // write(2), the way `echo value > file` does for /proc/sys and sysfs. Never creates a file.
    // A value the kernel rejects fails here with its errno (EINVAL, EPERM, ...).
    Result<void> write(std::string_view path, std::string_view value) const;

  private:
    std::filesystem::path root_;
};

// The whole file at `path` as given (not under a root). The error code is the errno of the failed
// open or read.
Result<std::string> read_file(const std::filesystem::path& path);

// `text` without leading and trailing whitespace.
std::string_view trim(std::string_view text) noexcept;
// `text` split at runs of whitespace.
std::vector<std::string> split_words(std::string_view text);
// Parses a whole string as an unsigned decimal number.
bool parse_u64(std::string_view text, uint64_t* out) noexcept;

}  // namespace nexure::tuning
