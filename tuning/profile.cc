#include "tuning/profile.h"

#include <algorithm>

#include "tuning/root_fs.h"

namespace nexure::tuning {

namespace {

bool valid_key(std::string_view key) noexcept {
    if (key.empty() || key.front() == '.' || key.front() == '/') return false;
    for (char c : key) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '/';
        if (!ok) return false;
    }
    return key.find("..") == std::string_view::npos;
}

// sysctl(8)'s rule: a key with a '/' is a path below /proc/sys as is (its dots are part of names,
// e.g. a VLAN interface "eth0.100"); otherwise dots separate the levels.
std::string key_to_path(std::string_view key) {
    std::string path = "/proc/sys/";
    if (key.find('/') != std::string_view::npos) {
        path += key;
    } else {
        for (char c : key)
            path += c == '.' ? '/' : c;
    }
    return path;
}

// Two unsigned integers "LOW HIGH".
bool parse_range(std::string_view value, uint64_t* low, uint64_t* high) {
    const std::vector<std::string> words = split_words(value);
    return words.size() == 2 && parse_u64(words[0], low) && parse_u64(words[1], high);
}

Compare shape_of(std::string_view value) {
    uint64_t a = 0;
    uint64_t b = 0;
    if (parse_u64(value, &a)) return Compare::kAtLeast;
    if (parse_range(value, &a, &b)) return Compare::kCoversRange;
    return Compare::kExact;
}

}  // namespace

Result<std::vector<SysctlSetting>> parse_profile(std::string_view text) {
    std::vector<SysctlSetting> settings;
    int line_no = 0;
    while (!text.empty()) {
        const size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        ++line_no;
        line = trim(line);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        const std::string where = "profile line " + std::to_string(line_no) + ": ";
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            return Error{EINVAL, where + "expected `key = value`, got '" + std::string(line) + "'"};
        }
        std::string_view key = trim(line.substr(0, eq));
        // sysctl.d: a leading '-' means "ignore failures to set this"; apply reports every
        // failure anyway, so it is accepted and dropped.
        if (!key.empty() && key.front() == '-') key = trim(key.substr(1));
        const std::string value = normalize_value(line.substr(eq + 1));
        if (!valid_key(key)) {
            return Error{EINVAL, where + "'" + std::string(key) +
                                     "' is not a sysctl key (letters, digits, _ - . / only)"};
        }
        if (value.empty()) return Error{EINVAL, where + std::string(key) + " has no value"};
        const std::string path = key_to_path(key);
        const bool duplicate = std::any_of(settings.begin(), settings.end(),
                                           [&](const SysctlSetting& s) { return s.path == path; });
        if (duplicate) return Error{EINVAL, where + std::string(key) + " is set twice"};
        settings.push_back(SysctlSetting{std::string(key), path, value, shape_of(value), line_no});
    }
    return settings;
}

std::string normalize_value(std::string_view raw) {
    const std::vector<std::string> words = split_words(raw);
    for (const std::string& w : words) {
        if (w.size() > 2 && w.front() == '[' && w.back() == ']') return w.substr(1, w.size() - 2);
    }
    std::string out;
    for (const std::string& w : words) {
        if (!out.empty()) out += ' ';
        out += w;
    }
    return out;
}

bool satisfies(const SysctlSetting& setting, std::string_view current) {
    switch (setting.compare) {
        case Compare::kAtLeast: {
            uint64_t want = 0;
            uint64_t have = 0;
            return parse_u64(setting.value, &want) && parse_u64(current, &have) && have >= want;
        }
        case Compare::kCoversRange: {
            uint64_t want_low = 0;
            uint64_t want_high = 0;
            uint64_t low = 0;
            uint64_t high = 0;
            return parse_range(setting.value, &want_low, &want_high) &&
                   parse_range(current, &low, &high) && low <= want_low && high >= want_high;
        }
        case Compare::kExact:
            return normalize_value(current) == setting.value;
    }
    return false;
}

std::string value_to_write(const SysctlSetting& setting, std::string_view current) {
    if (setting.compare == Compare::kCoversRange) {
        uint64_t want_low = 0;
        uint64_t want_high = 0;
        uint64_t low = 0;
        uint64_t high = 0;
        if (parse_range(setting.value, &want_low, &want_high) &&
            parse_range(current, &low, &high) && low <= high) {
            return std::to_string(std::min(low, want_low)) + " " +
                   std::to_string(std::max(high, want_high));
        }
    }
    return setting.value;
}

}  // namespace nexure::tuning
