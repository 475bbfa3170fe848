#include "tuning/root_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <utility>

namespace nexure::tuning {

namespace {

Error errno_error(int err, const std::filesystem::path& path, const char* what) {
    return Error{err, std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

RootFs::RootFs(std::filesystem::path root) : root_(std::move(root)) {
    if (root_.empty()) root_ = "/";
}

std::filesystem::path RootFs::resolve(std::string_view path) const {
    const std::filesystem::path p(path);
    return root_ / p.relative_path();
}

Result<std::string> RootFs::read(std::string_view path) const {
    return read_file(resolve(path));
}

std::optional<std::string> RootFs::read_trimmed(std::string_view path) const {
    Result<std::string> r = read(path);
    if (!r) return std::nullopt;
    return std::string(trim(r.value()));
}

bool RootFs::exists(std::string_view path) const {
    std::error_code ec;
    return std::filesystem::exists(resolve(path), ec);
}

bool RootFs::is_directory(std::string_view path) const {
    std::error_code ec;
    return std::filesystem::is_directory(resolve(path), ec);
}

std::vector<std::string> RootFs::list(std::string_view path) const {
    std::vector<std::string> names;
    std::error_code ec;
    std::filesystem::directory_iterator it(resolve(path), ec);
    if (ec) return names;
    for (const std::filesystem::directory_entry& entry : it) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::optional<std::string> RootFs::link_target(std::string_view path) const {
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::read_symlink(resolve(path), ec);
    if (ec) return std::nullopt;
    return target.string();
}

Result<void> RootFs::write(std::string_view path, std::string_view value) const {
    const std::filesystem::path full = resolve(path);
    // O_TRUNC matters for ordinary files (a fake tree); /proc/sys and sysfs ignore it.
    const int fd = ::open(full.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, full, "cannot open for writing");
    std::string line(value);
    line += '\n';
    // One write: sysfs and /proc/sys parse each write(2) on its own, so a split value would be
    // taken as two values.
    ssize_t n;
    do {
        n = ::write(fd, line.data(), line.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        const int err = errno;
        ::close(fd);
        return errno_error(err, full, "cannot write");
    }
    if (static_cast<size_t>(n) != line.size()) {
        ::close(fd);
        return Error{EIO, "short write to " + full.string()};
    }
    if (::close(fd) != 0) return errno_error(errno, full, "cannot write");
    return {};
}

Result<std::string> read_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error(errno, path, "cannot open");
    std::string content;
    char buf[4096];
    while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            return errno_error(err, path, "cannot read");
        }
        if (n == 0) break;
        content.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return content;
}

std::string_view trim(std::string_view text) noexcept {
    while (!text.empty() && is_space(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_space(text.back()))
        text.remove_suffix(1);
    return text;
}

std::vector<std::string> split_words(std::string_view text) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_space(text[i]))
            ++i;
        const size_t start = i;
        while (i < text.size() && !is_space(text[i]))
            ++i;
        if (i > start) words.emplace_back(text.substr(start, i - start));
    }
    return words;
}

bool parse_u64(std::string_view text, uint64_t* out) noexcept {
    if (text.empty()) return false;
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return false;
    *out = v;
    return true;
}

}  // namespace nexure::tuning
