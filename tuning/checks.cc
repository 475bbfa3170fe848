#include "tuning/checks.h"

#include <liburing.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "engine/ring.h"
#include "net/server.h"

namespace nexure::tuning {

namespace {

constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kMiB = 1024 * 1024;
// Descriptors a server needs besides its connections: listeners, rings, eventfds, logs.
constexpr uint64_t kSpareDescriptors = 1024;
constexpr std::string_view kCpuDir = "/sys/devices/system/cpu";
constexpr std::string_view kThpDir = "/sys/kernel/mm/transparent_hugepage";

Item make_item(std::string id, std::string name) {
    Item item;
    item.id = std::move(id);
    item.name = std::move(name);
    return item;
}

void warn(Item& item) {
    item.status = Status::kWarn;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const std::string& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

std::string format_bytes(uint64_t v) {
    if (v == kUnlimited) return "unlimited";
    if (v >= kMiB && v % kMiB == 0) return std::to_string(v / kMiB) + " MiB";
    if (v >= 1024 && v % 1024 == 0) return std::to_string(v / 1024) + " KiB";
    return std::to_string(v) + " bytes";
}

std::string format_count(uint64_t v) {
    return v == kUnlimited ? "unlimited" : std::to_string(v);
}

// A failed read as a short phrase for the report: "not present" for ENOENT, else errno's text.
std::string read_failure(const Error& error) {
    return error.code == ENOENT ? std::string("not present") : std::strerror(error.code);
}

bool starts_with(std::string_view text, std::string_view prefix) noexcept {
    return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) noexcept {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// "cpu12" -> 12; false for "cpufreq", "cpuidle", ...
bool parse_numbered(std::string_view name, std::string_view prefix, unsigned* n) {
    if (!starts_with(name, prefix)) return false;
    uint64_t v = 0;
    if (!parse_u64(name.substr(prefix.size()), &v) || v > std::numeric_limits<unsigned>::max()) {
        return false;
    }
    *n = static_cast<unsigned>(v);
    return true;
}

std::string quoted_if_spaced(const std::string& value) {
    return value.find(' ') == std::string::npos ? value : "\"" + value + "\"";
}

// ---- kernel and io_uring ------------------------------------------------------------------------

bool parse_kernel_version(std::string_view release, unsigned* major, unsigned* minor) {
    const char* p = release.data();
    const char* end = p + release.size();
    auto r = std::from_chars(p, end, *major);
    if (r.ec != std::errc() || r.ptr == end || *r.ptr != '.') return false;
    r = std::from_chars(r.ptr + 1, end, *minor);
    return r.ec == std::errc();
}

Item check_kernel(const RootFs& fs) {
    Item item = make_item("kernel", "kernel version");
    const std::optional<std::string> release = fs.read_trimmed("/proc/sys/kernel/osrelease");
    unsigned major = 0;
    unsigned minor = 0;
    if (!release || release->empty()) {
        item.found = "unknown (/proc/sys/kernel/osrelease is not readable)";
        item.recommendation =
            "`uname -r` shows it; NexureJS needs Linux 6.0 or newer. The io_uring_setup item "
            "tests the kernel directly.";
    } else if (!parse_kernel_version(*release, &major, &minor)) {
        item.found = *release;
        item.recommendation =
            "Not a version this tool can read; NexureJS needs Linux 6.0 or newer.";
    } else if (major < 6) {
        warn(item);
        item.found = *release;
        item.recommendation =
            "Too old: NexureJS needs Linux 6.0 or newer for the io_uring features its engine uses "
            "(multishot receive into provided-buffer rings). Upgrade the kernel.";
    } else {
        item.found = *release;
        item.recommendation = "Nothing to do: NexureJS needs Linux 6.0 or newer.";
    }
    return item;
}

Item check_io_uring_disabled(const RootFs& fs) {
    Item item = make_item("io_uring.disabled", "kernel.io_uring_disabled");
    Result<std::string> r = fs.read("/proc/sys/kernel/io_uring_disabled");
    if (!r) {
        if (r.error().code == ENOENT) {
            item.found = "not present";
            item.recommendation =
                "Nothing to do: kernels before 6.6 have no such switch, so io_uring cannot be "
                "turned off this way.";
        } else {
            warn(item);
            item.found = "not readable (" + read_failure(r.error()) + ")";
            item.recommendation =
                "Check with `sysctl kernel.io_uring_disabled`: NexureJS needs 0 (or 1 with the "
                "server in kernel.io_uring_group).";
        }
        return item;
    }
    const std::string value(trim(r.value()));
    if (value == "0") {
        item.found = "0 (every process may use io_uring)";
        item.recommendation = "Nothing to do.";
    } else if (value == "1") {
        warn(item);
        const std::optional<std::string> group = fs.read_trimmed("/proc/sys/kernel/io_uring_group");
        item.found = "1 (only root and members of kernel.io_uring_group may create rings)";
        if (group && !group->empty() && *group != "-1") {
            item.recommendation = "Run nexure-server as root or as a member of group " + *group +
                                  " (kernel.io_uring_group), or allow every process: ";
        } else {
            item.recommendation =
                "No group is allowed (kernel.io_uring_group is -1), so only root may use "
                "io_uring. Set a group with `sysctl -w kernel.io_uring_group=GID` and run the "
                "server in it, or allow every process: ";
        }
        item.recommendation += "`sysctl -w kernel.io_uring_disabled=0` as root.";
    } else if (value == "2") {
        warn(item);
        item.found = "2 (io_uring is disabled for every process)";
        item.recommendation =
            "nexure-server cannot start. `sysctl -w kernel.io_uring_disabled=0` as root (and in "
            "/etc/sysctl.d/ to keep it). Someone chose to disable it; ask why before changing "
            "it. nexure-tune apply never changes it.";
    } else {
        warn(item);
        item.found = value + " (unexpected)";
        item.recommendation = "Expected 0, 1 or 2; NexureJS needs 0.";
    }
    return item;
}

Item check_io_uring_setup(const IoUringProbe& probe) {
    Item item = make_item("io_uring.setup", "io_uring_setup");
    const int rc = probe ? probe() : probe_io_uring();
    if (rc == 0) {
        item.found = "works (a test ring was created and destroyed)";
        item.recommendation =
            "Nothing to do. A server started elsewhere (a container, a systemd unit with "
            "SystemCallFilter=) may still be refused; nexure-server then names the cause.";
    } else {
        warn(item);
        const int err = rc < 0 ? -rc : rc;
        item.found = std::string("fails: ") + std::strerror(err);
        item.recommendation = engine::describe_io_uring_setup_error(err);
    }
    return item;
}

// ---- resource limits ----------------------------------------------------------------------------

struct Limit {
    uint64_t soft = 0;
    uint64_t hard = 0;
};

bool parse_limit_value(std::string_view word, uint64_t* out) {
    if (word == "unlimited") {
        *out = kUnlimited;
        return true;
    }
    return parse_u64(word, out);
}

// One row of /proc/PID/limits: "Max locked memory         8388608      8388608      bytes".
std::optional<Limit> find_limit(std::string_view text, std::string_view name) {
    while (!text.empty()) {
        const size_t eol = text.find('\n');
        const std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (!starts_with(line, name)) continue;
        const std::vector<std::string> words = split_words(line.substr(name.size()));
        Limit limit;
        if (words.size() >= 2 && parse_limit_value(words[0], &limit.soft) &&
            parse_limit_value(words[1], &limit.hard)) {
            return limit;
        }
        return std::nullopt;
    }
    return std::nullopt;
}

constexpr std::string_view kLimitsNote =
    " These are the limits of the process that ran nexure-tune; the server gets those of "
    "whatever starts it (a shell, a systemd unit, a container runtime).";

Item check_memlock(const Result<std::string>& limits, unsigned cpus) {
    Item item = make_item("rlimit.memlock", "RLIMIT_MEMLOCK");
    const uint64_t per_worker = memlock_needed(1);
    const uint64_t need = memlock_needed(cpus);
    const std::string why =
        "io_uring charges registered buffers to the locked-memory limit of users without "
        "CAP_IPC_LOCK (before Linux 5.12 it charged the rings too). nexure-server registers its "
        "send slabs, " +
        format_bytes(per_worker) +
        " per worker by default with one worker per CPU, when the kernel takes fixed-buffer "
        "sends (`nexure-server --version` says whether it does); when the limit refuses them it "
        "falls back to plain sends.";
    std::optional<Limit> limit;
    if (limits) limit = find_limit(limits.value(), "Max locked memory");
    if (!limit) {
        warn(item);
        item.found = limits ? "unknown (no 'Max locked memory' row in /proc/self/limits)"
                            : "unknown (/proc/self/limits: " + read_failure(limits.error()) + ")";
        item.recommendation = "Check with `ulimit -l` (KiB). " + why;
        return item;
    }
    item.found = "soft " + format_bytes(limit->soft) + ", hard " + format_bytes(limit->hard);
    if (limit->soft >= need) {
        item.recommendation = "Nothing to do: enough for the send slabs of " +
                              std::to_string(cpus) + " workers (" + format_bytes(need) + ")." +
                              std::string(kLimitsNote);
        return item;
    }
    warn(item);
    item.recommendation =
        "Below the " + format_bytes(need) + " the send slabs of " + std::to_string(cpus) +
        " workers need. " + why +
        " Raise it where the server is started: `ulimit -l unlimited` in its shell, "
        "LimitMEMLOCK=infinity in its systemd unit, or a memlock line in "
        "/etc/security/limits.conf";
    if (limit->hard < need)
        item.recommendation += " (the hard limit is lower too: that needs root)";
    item.recommendation += ". Root with CAP_IPC_LOCK is not limited." + std::string(kLimitsNote);
    return item;
}

Item check_nofile(const RootFs& fs, const Result<std::string>& limits, unsigned cpus) {
    Item item = make_item("rlimit.nofile", "RLIMIT_NOFILE");
    const net::ServerConfig defaults;
    const uint64_t need = nofile_needed(cpus);
    const uint64_t connections = need - kSpareDescriptors;
    const uint64_t advice = nofile_advice(cpus);
    std::optional<Limit> limit;
    if (limits) limit = find_limit(limits.value(), "Max open files");
    if (!limit) {
        warn(item);
        item.found = limits ? "unknown (no 'Max open files' row in /proc/self/limits)"
                            : "unknown (/proc/self/limits: " + read_failure(limits.error()) + ")";
        item.recommendation =
            "Check with `ulimit -n`; nexure-server needs one descriptor per "
            "connection, " +
            std::to_string(need) + " with the default budget.";
        return item;
    }
    item.found = "soft " + format_count(limit->soft) + ", hard " + format_count(limit->hard);
    if (limit->soft >= need) {
        item.recommendation = "Nothing to do: enough for " + std::to_string(cpus) +
                              " workers with the default budget of " +
                              std::to_string(defaults.max_connections_per_worker) +
                              " connections each." + std::string(kLimitsNote);
        return item;
    }
    warn(item);
    item.recommendation =
        "One descriptor per connection: " + std::to_string(cpus) +
        " workers with the default "
        "budget of " +
        std::to_string(defaults.max_connections_per_worker) + " connections each hold up to " +
        std::to_string(connections) + ", plus listeners, rings and logs (" + std::to_string(need) +
        "). At the limit accept fails with EMFILE and new connections wait. Raise it where the "
        "server is started: `ulimit -n " +
        std::to_string(advice) + "`, LimitNOFILE=" + std::to_string(advice) +
        " in its systemd unit, or a nofile line in "
        "/etc/security/limits.conf";
    if (limit->hard < need)
        item.recommendation += " (the hard limit is lower too: that needs root)";
    item.recommendation += ".";
    uint64_t nr_open = 0;
    const std::optional<std::string> nr = fs.read_trimmed("/proc/sys/fs/nr_open");
    if (nr && parse_u64(*nr, &nr_open) && nr_open < advice) {
        item.recommendation +=
            " No process may have more than fs.nr_open = " + *nr +
            " descriptors: raise that first (`sysctl -w fs.nr_open=" + std::to_string(advice) +
            "`).";
    }
    item.recommendation += std::string(kLimitsNote);
    return item;
}

// ---- the profile's sysctls ----------------------------------------------------------------------

struct SysctlWhy {
    std::string_view key;
    std::string_view why;
};

constexpr SysctlWhy kSysctlWhy[] = {
    {"net.core.somaxconn",
     "It caps every listen() backlog; nexure-server asks for 4096 on each worker's socket, so a "
     "burst of new connections waits in the accept queue instead of being dropped and retried a "
     "second later."},
    {"net.ipv4.tcp_max_syn_backlog",
     "Half-open connections; above the accept backlog, a connection storm is limited by the "
     "accept queue the workers drain rather than by early SYN drops."},
    {"net.ipv4.ip_local_port_range",
     "Ports for outgoing connections: it matters where connections are opened (the load "
     "generator, a proxy to upstreams), where a narrow range runs out while closed connections "
     "sit in TIME_WAIT."},
};

std::string wanted_text(const SysctlSetting& s) {
    switch (s.compare) {
        case Compare::kAtLeast:
            return "at least " + s.value;
        case Compare::kCoversRange: {
            const std::vector<std::string> w = split_words(s.value);
            return "a range covering " + w.at(0) + "-" + w.at(1);
        }
        case Compare::kExact:
            return "'" + s.value + "'";
    }
    return s.value;
}

Item check_sysctl(const RootFs& fs, const SysctlSetting& s) {
    Item item = make_item("sysctl." + s.key, s.key);
    std::string why;
    for (const SysctlWhy& w : kSysctlWhy) {
        if (w.key == s.key) why = " " + std::string(w.why);
    }
    Result<std::string> r = fs.read(s.path);
    if (!r) {
        warn(item);
        item.found = "not readable (" + read_failure(r.error()) + ")";
        item.recommendation =
            "The profile asks for " + wanted_text(s) + "; check `sysctl " + s.key + "`." + why;
        return item;
    }
    const std::string current = normalize_value(r.value());
    item.found = current;
    if (satisfies(s, current)) {
        item.recommendation = "Nothing to do: the profile asks for " + wanted_text(s) + "." + why;
        return item;
    }
    warn(item);
    item.recommendation = "The profile asks for " + wanted_text(s) + ": `sysctl -w " + s.key + "=" +
                          quoted_if_spaced(value_to_write(s, current)) +
                          "` as root, or `nexure-tune apply --yes`; tuning/sysctl.conf in "
                          "/etc/sysctl.d/ keeps it across reboots." +
                          why;
    return item;
}

// ---- CPU frequency governor ---------------------------------------------------------------------

Item check_governor(const RootFs& fs) {
    Item item = make_item("cpu.governor", "CPU frequency governor");
    std::map<std::string, std::vector<unsigned>> by_governor;
    std::vector<unsigned> without;
    std::string driver;
    std::string choices;  // scaling_available_governors of a CPU not on performance
    for (const std::string& name : fs.list(kCpuDir)) {
        unsigned cpu = 0;
        if (!parse_numbered(name, "cpu", &cpu)) continue;
        const std::string dir = std::string(kCpuDir) + "/" + name + "/cpufreq/";
        const std::optional<std::string> governor = fs.read_trimmed(dir + "scaling_governor");
        if (!governor || governor->empty()) {
            without.push_back(cpu);
            continue;
        }
        by_governor[*governor].push_back(cpu);
        if (driver.empty()) driver = fs.read_trimmed(dir + "scaling_driver").value_or("");
        if (*governor != "performance" && choices.empty()) {
            choices = fs.read_trimmed(dir + "scaling_available_governors").value_or("");
        }
    }
    if (by_governor.empty()) {
        item.found = "no cpufreq interface";
        item.recommendation =
            "Usual in virtual machines and containers: the hypervisor or the host decides the "
            "clock, so there is nothing to set here. For stable benchmark numbers compare runs "
            "made back to back on the same machine type.";
        return item;
    }
    std::vector<std::string> parts;
    for (const auto& [governor, cpus] : by_governor) {
        parts.push_back(governor + " on CPUs " + format_cpu_list(cpus));
    }
    item.found = (driver.empty() ? "" : driver + ": ") + join(parts, "; ");
    if (!without.empty()) item.details.push_back("no cpufreq on CPUs " + format_cpu_list(without));
    const bool all_performance = by_governor.size() == 1 && by_governor.count("performance") == 1;
    if (all_performance) {
        item.recommendation =
            "Nothing to do: every CPU is on the performance governor, which keeps benchmark "
            "numbers steady.";
        return item;
    }
    warn(item);
    item.recommendation =
        "For steady benchmark numbers and the lowest latency use performance: `cpupower "
        "frequency-set -g performance` (package linux-cpupower) or `nexure-tune apply --yes`, "
        "which writes it to each CPU's cpufreq/scaling_governor. Other governors follow the "
        "load, so the same run measures differently from one minute to the next and the first "
        "requests after an idle spell are slow. It costs power: on laptops and shared hosts that "
        "is a trade-off.";
    const std::vector<std::string> offered = split_words(choices);
    if (!choices.empty() &&
        std::find(offered.begin(), offered.end(), "performance") == offered.end()) {
        item.recommendation += " This cpufreq driver offers only: " + choices + ".";
    }
    return item;
}

// ---- transparent huge pages ---------------------------------------------------------------------

Item check_thp_enabled(const RootFs& fs) {
    Item item = make_item("thp.enabled", "transparent huge pages: enabled");
    Result<std::string> r = fs.read(std::string(kThpDir) + "/enabled");
    if (!r) {
        item.found = read_failure(r.error()) + " (a kernel without transparent huge pages)";
        item.recommendation = "Nothing to set: the buffer pools use 4 KiB pages.";
        return item;
    }
    const std::string mode = normalize_value(r.value());
    item.found = mode;
    if (mode == "madvise") {
        item.recommendation =
            "Nothing to do: the receive-buffer and send-slab pools ask for huge pages "
            "(MADV_HUGEPAGE) and get them, other memory stays on 4 KiB pages.";
    } else if (mode == "always") {
        item.recommendation =
            "Works: the pools get huge pages. madvise would give them only to what asks for them "
            "(the pools) and keep other memory, such as per-connection allocations, on 4 KiB "
            "pages, which uses less of it.";
    } else {
        warn(item);
        item.recommendation =
            (mode == "never" ? std::string() : "Not a mode NexureJS knows. ") +
            "The receive-buffer and send-slab pools ask for huge pages (MADV_HUGEPAGE) and do "
            "not get them: each 2 MiB pool then needs 512 TLB entries instead of one, which "
            "shows in CPU time per request. Set madvise: `echo madvise > " +
            std::string(kThpDir) +
            "/enabled` or `nexure-tune apply --yes`; transparent_hugepage=madvise on the kernel "
            "command line keeps it.";
    }
    return item;
}

Item check_thp_defrag(const RootFs& fs) {
    Item item = make_item("thp.defrag", "transparent huge pages: defrag");
    Result<std::string> r = fs.read(std::string(kThpDir) + "/defrag");
    if (!r) {
        item.found = read_failure(r.error()) + " (a kernel without transparent huge pages)";
        item.recommendation = "Nothing to set.";
        return item;
    }
    const std::string mode = normalize_value(r.value());
    item.found = mode;
    if (mode == "madvise" || mode == "defer+madvise") {
        item.recommendation =
            "Nothing to do: the pools, which ask for huge pages, get them at start-up (compacting "
            "memory once if it must), and no other page fault waits for compaction.";
    } else if (mode == "defer" || mode == "never") {
        item.recommendation =
            "Acceptable: no page fault waits for compaction, but on a host with fragmented memory "
            "the pools start on 4 KiB pages" +
            std::string(mode == "defer" ? " until khugepaged merges them" : "") +
            ". defer+madvise would compact memory for them, once, at start-up.";
    } else {
        warn(item);
        const std::string fix = thp_defrag_fix(r.value());
        item.recommendation =
            std::string(mode == "always" ? "" : "Not a mode NexureJS knows. ") +
            "Every page fault that could use a huge page may stall on memory compaction: "
            "latency spikes of milliseconds once memory is fragmented. Set " +
            (fix.empty() ? std::string("madvise") : fix) + ": `echo " +
            (fix.empty() ? std::string("madvise") : fix) + " > " + std::string(kThpDir) +
            "/defrag` or `nexure-tune apply --yes`.";
    }
    return item;
}

// ---- NICs: IRQ affinity, RPS and XPS ------------------------------------------------------------

struct InterruptLine {
    unsigned irq = 0;
    std::vector<uint64_t> counts;    // per CPU
    std::vector<std::string> words;  // chip, hardware IRQ, trigger, action names
};

std::vector<InterruptLine> read_interrupts(const RootFs& fs) {
    std::vector<InterruptLine> lines;
    Result<std::string> r = fs.read("/proc/interrupts");
    if (!r) return lines;
    std::string_view text = r.value();
    size_t ncpu = 0;
    bool header = true;
    while (!text.empty()) {
        const size_t eol = text.find('\n');
        const std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        std::vector<std::string> words = split_words(line);
        if (header) {
            ncpu = words.size();  // "CPU0 CPU1 ..."
            header = false;
            continue;
        }
        if (words.empty() || words[0].size() < 2 || words[0].back() != ':') continue;
        uint64_t irq = 0;
        if (!parse_u64(std::string_view(words[0]).substr(0, words[0].size() - 1), &irq) ||
            irq > std::numeric_limits<unsigned>::max()) {
            continue;  // NMI:, LOC:, ...
        }
        InterruptLine entry;
        entry.irq = static_cast<unsigned>(irq);
        size_t i = 1;
        for (uint64_t count = 0;
             i < words.size() && entry.counts.size() < ncpu && parse_u64(words[i], &count); ++i) {
            entry.counts.push_back(count);
        }
        entry.words.assign(words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
        lines.push_back(std::move(entry));
    }
    return lines;
}

// Whether an action name in /proc/interrupts belongs to the interface or device `name`:
// "eth0-TxRx-3" and "virtio2-input.0" do, and so does mlx5's "mlx5_comp3@pci:0000:3b:00.0" for
// the device 0000:3b:00.0.
bool names_device(std::string_view word, std::string_view name) {
    if (name.size() < 2) return false;
    if (word == name) return true;
    if (word.size() > name.size() && starts_with(word, name)) {
        const char next = word[name.size()];
        return next == '-' || next == '_' || next == '@' || next == ':';
    }
    return ends_with(word, "@pci:" + std::string(name));
}

enum class Steering : uint8_t { kRps, kXps };

// What one queue's rps_cpus or xps_cpus says, e.g. "RPS on CPUs 0-3"; sets *on when it is on.
std::string queue_cpus(const RootFs& fs, const std::string& queue_dir, Steering steering,
                       bool* on) {
    const bool rps = steering == Steering::kRps;
    const std::string file = rps ? "rps_cpus" : "xps_cpus";
    const std::optional<std::string> mask = fs.read_trimmed(queue_dir + "/" + file);
    if (!mask) return "no " + file + " file";
    std::vector<unsigned> cpus;
    if (!parse_cpu_mask(*mask, &cpus)) return file + " '" + *mask + "'";
    if (cpus.empty()) return rps ? "RPS off" : "XPS off";
    *on = true;
    return (rps ? "RPS on CPUs " : "XPS on CPUs ") + format_cpu_list(cpus);
}

// Sorts "rx-10" after "rx-9".
void sort_queues(std::vector<std::string>& queues) {
    std::sort(queues.begin(), queues.end(), [](const std::string& a, const std::string& b) {
        unsigned na = 0;
        unsigned nb = 0;
        parse_numbered(a, a.substr(0, 3), &na);
        parse_numbered(b, b.substr(0, 3), &nb);
        return a.substr(0, 3) != b.substr(0, 3) ? a < b : na < nb;
    });
}

Item check_nic(const RootFs& fs, const std::string& ifname,
               const std::vector<InterruptLine>& interrupts, unsigned cpus) {
    Item item = make_item("nic." + ifname, "NIC " + ifname);
    const std::string base = "/sys/class/net/" + ifname;
    const std::string link = fs.link_target(base + "/device").value_or("");
    std::string device = link.substr(link.find_last_of('/') + 1);
    if (device.empty()) device = "present";

    std::vector<std::string> rx;
    std::vector<std::string> tx;
    for (const std::string& q : fs.list(base + "/queues")) {
        if (starts_with(q, "rx-")) rx.push_back(q);
        if (starts_with(q, "tx-")) tx.push_back(q);
    }
    sort_queues(rx);
    sort_queues(tx);
    bool rps = false;
    bool xps = false;
    for (const std::string& q : rx) {
        item.details.push_back(q + ": " +
                               queue_cpus(fs, base + "/queues/" + q, Steering::kRps, &rps));
    }
    for (const std::string& q : tx) {
        item.details.push_back(q + ": " +
                               queue_cpus(fs, base + "/queues/" + q, Steering::kXps, &xps));
    }

    // The interface's IRQs: the PCI device's MSI vectors, its legacy IRQ, and /proc/interrupts
    // lines named after the interface or the device (virtio, for one, names them virtioN-input.0).
    std::set<unsigned> irqs;
    for (const std::string& name : fs.list(base + "/device/msi_irqs")) {
        unsigned n = 0;
        if (parse_numbered(name, "", &n)) irqs.insert(n);
    }
    // device/irq is the legacy line, unused once the device has MSI vectors.
    uint64_t legacy = 0;
    const std::optional<std::string> irq_file = fs.read_trimmed(base + "/device/irq");
    if (irqs.empty() && irq_file && parse_u64(*irq_file, &legacy) && legacy != 0 &&
        legacy <= std::numeric_limits<unsigned>::max()) {
        irqs.insert(static_cast<unsigned>(legacy));
    }
    std::map<unsigned, const InterruptLine*> by_irq;
    for (const InterruptLine& line : interrupts) {
        by_irq[line.irq] = &line;
        for (const std::string& word : line.words) {
            if (names_device(word, ifname) || (!link.empty() && names_device(word, device))) {
                irqs.insert(line.irq);
            }
        }
    }
    std::set<unsigned> serving;  // CPUs the IRQs are delivered to
    for (unsigned irq : irqs) {
        const std::string dir = "/proc/irq/" + std::to_string(irq) + "/";
        std::string text = "IRQ " + std::to_string(irq);
        const auto found = by_irq.find(irq);
        if (found != by_irq.end() && !found->second->words.empty()) {
            text += " (" + found->second->words.back() + ")";
        }
        std::vector<unsigned> affinity;
        std::optional<std::string> list = fs.read_trimmed(dir + "smp_affinity_list");
        if (list && parse_cpu_list(*list, &affinity)) {
            text += ": affinity CPUs " + format_cpu_list(affinity);
        } else if (const auto mask = fs.read_trimmed(dir + "smp_affinity");
                   mask && parse_cpu_mask(*mask, &affinity)) {
            text += ": affinity CPUs " + format_cpu_list(affinity);
        } else {
            text += ": affinity not readable";
        }
        std::vector<unsigned> effective;
        list = fs.read_trimmed(dir + "effective_affinity_list");
        if (list && parse_cpu_list(*list, &effective) && !effective.empty()) {
            text += ", effective " + format_cpu_list(effective);
        } else {
            effective = affinity;
        }
        serving.insert(effective.begin(), effective.end());
        if (found != by_irq.end()) {
            std::vector<unsigned> busy;
            for (size_t c = 0; c < found->second->counts.size(); ++c) {
                if (found->second->counts[c] != 0) busy.push_back(static_cast<unsigned>(c));
            }
            text += busy.empty() ? ", no interrupts yet"
                                 : ", interrupts so far on CPUs " + format_cpu_list(busy);
        }
        item.details.push_back(std::move(text));
    }
    if (irqs.empty()) {
        item.details.push_back(
            "no IRQs found (looked in device/msi_irqs, device/irq and /proc/interrupts)");
    }

    item.found = "device " + device + ": " + std::to_string(rx.size()) + " rx / " +
                 std::to_string(tx.size()) + " tx queues, RPS " + (rps ? "on" : "off") + ", XPS " +
                 (xps ? "on" : "off") + ", " + std::to_string(irqs.size()) + " IRQs";
    const std::string loopback_note = " Only traffic through " + ifname +
                                      " is affected; benchmarks on 127.0.0.1 never reach a NIC.";
    if (cpus > 1 && rx.size() == 1 && !rps) {
        warn(item);
        item.recommendation =
            "One receive queue and RPS off: every packet from " + ifname +
            " is processed on the CPU that takes its interrupt, which caps a busy server at one "
            "CPU of network processing. Spread it with RPS: `echo " +
            cpu_mask_for(cpus) + " > " + base + "/queues/rx-0/rps_cpus` (CPUs 0-" +
            std::to_string(cpus - 1) + "), or give the NIC more queues (`ethtool -L " + ifname +
            " combined N`)." + loopback_note;
    } else if (cpus > 1 && rx.size() > 1 && irqs.size() > 1 && serving.size() == 1) {
        warn(item);
        item.recommendation = "All " + std::to_string(irqs.size()) + " IRQs of " + ifname +
                              " go to CPU " + std::to_string(*serving.begin()) + ", so its " +
                              std::to_string(rx.size()) +
                              " queues share one CPU. Spread them: run irqbalance, or write one "
                              "CPU per queue IRQ to /proc/irq/N/smp_affinity_list." +
                              loopback_note;
    } else {
        item.recommendation =
            "Nothing to do." + loopback_note +
            " For real traffic, keep each queue's IRQ on its own CPU (irqbalance does, or "
            "/proc/irq/N/smp_affinity_list) and use RPS when the NIC has fewer queues than the "
            "server has workers.";
    }
    return item;
}

std::vector<Item> check_nics(const RootFs& fs, unsigned cpus) {
    std::vector<Item> items;
    const std::vector<std::string> names = fs.list("/sys/class/net");
    const std::vector<InterruptLine> interrupts = read_interrupts(fs);
    std::vector<std::string> virtual_names;
    for (const std::string& name : names) {
        const std::string base = "/sys/class/net/" + name;
        if (name == "lo" || fs.read_trimmed(base + "/type").value_or("") == "772") continue;
        if (!fs.exists(base + "/device")) {
            virtual_names.push_back(name);
            continue;
        }
        items.push_back(check_nic(fs, name, interrupts, cpus));
    }
    if (!virtual_names.empty()) {
        Item item = make_item("nic.virtual", "virtual interfaces");
        item.found = join(virtual_names, ", ");
        item.recommendation =
            "Nothing to do: bridges, veth, tun and ifb interfaces have no device and no IRQs; "
            "their packets are processed on the CPU that sent them, or where RPS says.";
        items.push_back(std::move(item));
    }
    if (items.empty()) {
        Item item = make_item("nic", "network interfaces");
        item.found = names.empty() ? "none listed in /sys/class/net" : "only loopback";
        item.recommendation =
            "Nothing to do: IRQ affinity and RPS/XPS matter for real NICs, and traffic over "
            "127.0.0.1 uses none.";
        items.push_back(std::move(item));
    }
    return items;
}

// ---- CPU vulnerability mitigations --------------------------------------------------------------

Item check_mitigations(const RootFs& fs) {
    Item item = make_item("cpu.mitigations", "CPU vulnerability mitigations");
    const std::string dir = std::string(kCpuDir) + "/vulnerabilities";
    std::vector<std::string> vulnerable;
    unsigned mitigated = 0;
    unsigned unaffected = 0;
    unsigned other = 0;
    for (const std::string& name : fs.list(dir)) {
        const std::optional<std::string> state = fs.read_trimmed(dir + "/" + name);
        if (!state) continue;
        if (starts_with(*state, "Not affected")) {
            ++unaffected;
            continue;
        }
        item.details.push_back(name + ": " + *state);
        if (starts_with(*state, "Vulnerable")) {
            vulnerable.push_back(name);
        } else if (starts_with(*state, "Mitigation")) {
            ++mitigated;
        } else {
            ++other;
        }
    }
    std::string cmdline = "no mitigations= (the default, auto)";
    if (const std::optional<std::string> line = fs.read_trimmed("/proc/cmdline")) {
        for (const std::string& word : split_words(*line)) {
            if (word == "--") break;  // what follows goes to init, not to the kernel
            if (starts_with(word, "mitigations=")) cmdline = word;
        }
    } else {
        cmdline = "unknown (/proc/cmdline is not readable)";
    }
    const std::string benchmark_note =
        " Mitigations change the cost of every system call and context switch: compare "
        "benchmark runs only between hosts in the same state (keep this report with the "
        "results), and keep mitigations=off to isolated benchmark machines.";
    if (vulnerable.empty() && mitigated + unaffected + other == 0) {
        item.found = "not reported by this kernel; command line: " + cmdline;
        item.recommendation = "Nothing to check." + benchmark_note;
        return item;
    }
    item.found = std::to_string(vulnerable.size()) + " vulnerable, " + std::to_string(mitigated) +
                 " mitigated, " + std::to_string(unaffected) + " not affected" +
                 (other ? ", " + std::to_string(other) + " other" : std::string()) +
                 "; command line: " + cmdline;
    if (vulnerable.empty()) {
        item.recommendation = "Nothing to do." + benchmark_note;
        return item;
    }
    warn(item);
    item.recommendation = "The kernel reports " + join(vulnerable, ", ") +
                          " without a mitigation (mitigations=off, or missing microcode or kernel "
                          "support). On a shared host update the microcode and the kernel, and "
                          "do not boot with mitigations=off." +
                          benchmark_note;
    return item;
}

}  // namespace

uint64_t memlock_needed(unsigned cpus) {
    const net::ServerConfig defaults;
    return static_cast<uint64_t>(defaults.send_buffers()) * defaults.send_buffer_size * cpus;
}

uint64_t nofile_needed(unsigned cpus) {
    const net::ServerConfig defaults;
    return static_cast<uint64_t>(defaults.max_connections_per_worker) * cpus + kSpareDescriptors;
}

uint64_t nofile_advice(unsigned cpus) {
    return std::max<uint64_t>(65536, std::bit_ceil(nofile_needed(cpus)));
}

namespace {

// The modes a selection file offers ("always [madvise] never" -> always, madvise, never).
bool offers(std::string_view content, std::string_view mode) {
    for (std::string word : split_words(content)) {
        if (word.size() > 2 && word.front() == '[' && word.back() == ']') {
            word = word.substr(1, word.size() - 2);
        }
        if (word == mode) return true;
    }
    return false;
}

}  // namespace

std::string thp_enabled_fix(std::string_view content) {
    const std::string mode = normalize_value(content);
    if (mode == "madvise" || mode == "always" || !offers(content, "madvise")) return {};
    return "madvise";
}

std::string thp_defrag_fix(std::string_view content) {
    const std::string mode = normalize_value(content);
    if (mode == "madvise" || mode == "defer+madvise" || mode == "defer" || mode == "never") {
        return {};
    }
    if (offers(content, "defer+madvise")) return "defer+madvise";
    if (offers(content, "madvise")) return "madvise";
    return {};
}

const char* status_name(Status status) noexcept {
    return status == Status::kOk ? "OK" : "WARN";
}

int probe_io_uring() noexcept {
    io_uring ring{};
    const int rc = io_uring_queue_init(2, &ring, 0);
    if (rc < 0) return rc;
    io_uring_queue_exit(&ring);
    return 0;
}

std::vector<Item> run_checks(const CheckOptions& options) {
    const RootFs& fs = options.fs;
    const unsigned cpus = online_cpu_count(fs);
    const Result<std::string> limits = fs.read("/proc/self/limits");
    std::vector<Item> items;
    items.push_back(check_kernel(fs));
    items.push_back(check_io_uring_disabled(fs));
    items.push_back(check_io_uring_setup(options.io_uring_probe));
    items.push_back(check_memlock(limits, cpus));
    items.push_back(check_nofile(fs, limits, cpus));
    for (const SysctlSetting& s : options.profile)
        items.push_back(check_sysctl(fs, s));
    items.push_back(check_governor(fs));
    items.push_back(check_thp_enabled(fs));
    items.push_back(check_thp_defrag(fs));
    for (Item& item : check_nics(fs, cpus))
        items.push_back(std::move(item));
    items.push_back(check_mitigations(fs));
    return items;
}

Status overall_status(const std::vector<Item>& items) noexcept {
    for (const Item& item : items) {
        if (item.status == Status::kWarn) return Status::kWarn;
    }
    return Status::kOk;
}

unsigned online_cpu_count(const RootFs& fs) {
    std::vector<unsigned> cpus;
    const std::optional<std::string> online = fs.read_trimmed("/sys/devices/system/cpu/online");
    if (!online || !parse_cpu_list(*online, &cpus) || cpus.empty()) return 1;
    return static_cast<unsigned>(cpus.size());
}

bool parse_cpu_list(std::string_view text, std::vector<unsigned>* cpus) {
    cpus->clear();
    text = trim(text);
    while (!text.empty()) {
        const size_t comma = text.find(',');
        const std::string_view part = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        const size_t dash = part.find('-');
        uint64_t first = 0;
        uint64_t last = 0;
        if (dash == std::string_view::npos) {
            if (!parse_u64(part, &first)) return false;
            last = first;
        } else if (!parse_u64(part.substr(0, dash), &first) ||
                   !parse_u64(part.substr(dash + 1), &last)) {
            return false;
        }
        if (last < first || last > 65535) return false;  // beyond any kernel's NR_CPUS
        for (uint64_t c = first; c <= last; ++c)
            cpus->push_back(static_cast<unsigned>(c));
    }
    std::sort(cpus->begin(), cpus->end());
    cpus->erase(std::unique(cpus->begin(), cpus->end()), cpus->end());
    return true;
}

std::string format_cpu_list(std::vector<unsigned> cpus) {
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
            ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(cpus[i]);
        if (j > i) out += "-" + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

bool parse_cpu_mask(std::string_view text, std::vector<unsigned>* cpus) {
    cpus->clear();
    text = trim(text);
    if (text.empty()) return false;
    unsigned bit = 0;
    for (size_t i = text.size(); i > 0; --i) {
        const char c = text[i - 1];
        if (c == ',') continue;
        unsigned v = 0;
        if (c >= '0' && c <= '9') {
            v = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v = static_cast<unsigned>(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v = static_cast<unsigned>(c - 'A' + 10);
        } else {
            return false;
        }
        for (unsigned b = 0; b < 4; ++b) {
            if (v & (1u << b)) cpus->push_back(bit + b);
        }
        bit += 4;
    }
    std::sort(cpus->begin(), cpus->end());
    return true;
}

std::string cpu_mask_for(unsigned count) {
    if (count == 0) return "0";
    static const char kHex[] = "0123456789abcdef";
    std::string digits;  // least significant first
    for (unsigned bit = 0; bit < count; bit += 4) {
        const unsigned bits = std::min(4u, count - bit);
        digits += kHex[(1u << bits) - 1];
    }
    std::string out;
    for (size_t i = digits.size(); i > 0; --i) {
        out += digits[i - 1];
        if (i > 1 && (i - 1) % 8 == 0) out += ',';
    }
    return out;
}

}  // namespace nexure::tuning
