#include "tuning/apply.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

#include "tuning/checks.h"

namespace nexure::tuning {

namespace {

constexpr std::string_view kCpuDir = "/sys/devices/system/cpu";
constexpr std::string_view kThpDir = "/sys/kernel/mm/transparent_hugepage";

Change unreadable(std::string what, std::string path, const Error& error) {
    Change c;
    c.what = std::move(what);
    c.path = std::move(path);
    c.note = error.code == ENOENT ? "not present on this host" : std::strerror(error.code);
    return c;
}

void plan_sysctls(const RootFs& fs, const std::vector<SysctlSetting>& profile, Plan& plan) {
    for (const SysctlSetting& s : profile) {
        Result<std::string> r = fs.read(s.path);
        if (!r) {
            plan.changes.push_back(unreadable(s.key, s.path, r.error()));
            continue;
        }
        Change c;
        c.what = s.key;
        c.path = s.path;
        c.current = normalize_value(r.value());
        c.needed = !satisfies(s, c.current);
        c.wanted = c.needed ? value_to_write(s, c.current) : c.current;
        plan.changes.push_back(std::move(c));
    }
}

void plan_thp(const RootFs& fs, Plan& plan) {
    struct File {
        const char* name;
        std::string (*fix)(std::string_view);
    };
    for (const File& f : {File{"enabled", thp_enabled_fix}, File{"defrag", thp_defrag_fix}}) {
        const std::string path = std::string(kThpDir) + "/" + f.name;
        Result<std::string> r = fs.read(path);
        if (!r) {
            if (r.error().code != ENOENT) {
                plan.changes.push_back(
                    unreadable(std::string("transparent_hugepage/") + f.name, path, r.error()));
            }
            continue;  // a kernel without THP: nothing to say
        }
        Change c;
        c.what = std::string("transparent_hugepage/") + f.name;
        c.path = path;
        c.current = normalize_value(r.value());
        const std::string fix = f.fix(r.value());
        c.needed = !fix.empty();
        c.wanted = c.needed ? fix : c.current;
        plan.changes.push_back(std::move(c));
    }
}

void plan_governors(const RootFs& fs, Plan& plan) {
    std::vector<unsigned> not_offered;
    for (const std::string& name : fs.list(kCpuDir)) {
        if (name.size() < 4 || name.compare(0, 3, "cpu") != 0) continue;
        uint64_t cpu = 0;
        if (!parse_u64(std::string_view(name).substr(3), &cpu)) continue;
        const std::string dir = std::string(kCpuDir) + "/" + name + "/cpufreq/";
        const std::optional<std::string> governor = fs.read_trimmed(dir + "scaling_governor");
        if (!governor || governor->empty()) continue;  // no cpufreq here (a VM): nothing to set
        Change c;
        c.what = name + " scaling_governor";
        c.path = dir + "scaling_governor";
        c.current = *governor;
        c.wanted = "performance";
        if (*governor != "performance") {
            const std::vector<std::string> offered =
                split_words(fs.read_trimmed(dir + "scaling_available_governors").value_or(""));
            if (std::find(offered.begin(), offered.end(), "performance") != offered.end()) {
                c.needed = true;
            } else {
                c.wanted = c.current;
                c.note = "performance is not offered by this CPU's cpufreq driver";
                not_offered.push_back(static_cast<unsigned>(cpu));
            }
        }
        plan.changes.push_back(std::move(c));
    }
    if (!not_offered.empty()) {
        plan.advice.push_back("CPUs " + format_cpu_list(not_offered) +
                              ": their cpufreq driver offers no performance governor; see "
                              "scaling_available_governors (and the driver's own settings, e.g. "
                              "intel_pstate's energy_performance_preference).");
    }
}

void add_advice(const RootFs& fs, Plan& plan) {
    const unsigned cpus = online_cpu_count(fs);
    const std::string nofile = std::to_string(nofile_advice(cpus));
    plan.advice.push_back(
        "RLIMIT_MEMLOCK and RLIMIT_NOFILE belong to each process and cannot be set for other "
        "processes from here. Set them where the server starts: `ulimit -l unlimited; ulimit -n " +
        nofile + "` in its shell; LimitMEMLOCK=infinity and LimitNOFILE=" + nofile +
        " in its systemd unit; or, for login sessions, in /etc/security/limits.conf:\n"
        "    *  soft  memlock  unlimited\n"
        "    *  hard  memlock  unlimited\n"
        "    *  soft  nofile   " +
        nofile + "\n    *  hard  nofile   " + nofile);
    plan.advice.push_back(
        "NIC IRQ affinity and RPS/XPS depend on the NIC and the CPUs and are not changed here; "
        "`nexure-tune check` shows them and what to write where.");
    plan.advice.push_back(
        "kernel.io_uring_disabled is never changed here: disabling io_uring is a security "
        "decision; `nexure-tune check` says what NexureJS needs.");
}

bool restorable_path(std::string_view path) {
    const bool under = path.substr(0, 10) == "/proc/sys/" || path.substr(0, 5) == "/sys/";
    return under && path.find("/../") == std::string_view::npos &&
           path.find("/./") == std::string_view::npos && path.back() != '/' &&
           path.substr(path.size() - 3) != "/..";
}

Error errno_error(int err, const std::filesystem::path& path, const char* what) {
    return Error{err, std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

Result<void> write_file_atomically(const std::filesystem::path& file, const std::string& text) {
    std::error_code ec;
    const std::filesystem::path dir = file.parent_path();
    if (!dir.empty()) {
        std::filesystem::create_directories(dir, ec);
        if (ec) return errno_error(ec.value(), dir, "cannot create directory");
    }
    std::filesystem::path tmp = file;
    tmp += ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error(errno, tmp, "cannot create");
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            ::close(fd);
            ::unlink(tmp.c_str());
            return errno_error(err, tmp, "cannot write");
        }
        done += static_cast<size_t>(n);
    }
    // The saved values are the only record of the host's originals: on disk before the rename.
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return errno_error(err, tmp, "cannot write");
    }
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return errno_error(err, file, "cannot replace");
    }
    return {};
}

}  // namespace

Plan plan_apply(const RootFs& fs, const std::vector<SysctlSetting>& profile) {
    Plan plan;
    plan_sysctls(fs, profile, plan);
    plan_thp(fs, plan);
    plan_governors(fs, plan);
    add_advice(fs, plan);
    return plan;
}

std::filesystem::path default_state_file(const RootFs& fs) {
    return fs.resolve("/var/lib/nexure-tune/saved.conf");
}

Result<std::vector<SavedValue>> read_state(const std::filesystem::path& file) {
    Result<std::string> r = read_file(file);
    if (!r) return r.error();
    std::vector<SavedValue> saved;
    std::string_view text = r.value();
    int line_no = 0;
    while (!text.empty()) {
        const size_t eol = text.find('\n');
        const std::string_view line = trim(text.substr(0, eol));
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        ++line_no;
        if (line.empty() || line.front() == '#') continue;
        const std::string where = file.string() + ":" + std::to_string(line_no) + ": ";
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            return Error{EINVAL, where + "expected `path = value`"};
        }
        SavedValue v{std::string(trim(line.substr(0, eq))), normalize_value(line.substr(eq + 1))};
        if (v.path.empty() || !restorable_path(v.path)) {
            return Error{EINVAL, where + "'" + v.path +
                                     "' is not a file under /proc/sys or /sys; restore writes "
                                     "nowhere else"};
        }
        const bool duplicate = std::any_of(saved.begin(), saved.end(),
                                           [&](const SavedValue& s) { return s.path == v.path; });
        if (duplicate) return Error{EINVAL, where + v.path + " is saved twice"};
        saved.push_back(std::move(v));
    }
    return saved;
}

Result<size_t> save_state(const std::filesystem::path& file, const std::vector<Change>& changes) {
    std::vector<SavedValue> saved;
    Result<std::vector<SavedValue>> existing = read_state(file);
    if (existing) {
        saved = std::move(existing).value();
    } else if (existing.error().code != ENOENT) {
        return Error{existing.error().code,
                     existing.error().message + " (fix or remove the state file first)"};
    }
    for (const Change& c : changes) {
        if (!c.needed) continue;
        const bool known = std::any_of(saved.begin(), saved.end(),
                                       [&](const SavedValue& s) { return s.path == c.path; });
        if (!known) saved.push_back(SavedValue{c.path, c.current});
    }
    std::string text =
        "# nexure-tune: the values `nexure-tune apply --yes` replaced; `nexure-tune restore "
        "--yes`\n# writes them back and removes this file. One `host path = value` per line.\n";
    for (const SavedValue& v : saved)
        text += v.path + " = " + v.value + "\n";
    Result<void> w = write_file_atomically(file, text);
    if (!w) return w.error();
    return saved.size();
}

Plan plan_restore(const RootFs& fs, const std::vector<SavedValue>& saved) {
    Plan plan;
    for (const SavedValue& v : saved) {
        Change c;
        c.what = v.path;
        c.path = v.path;
        c.wanted = v.value;
        Result<std::string> r = fs.read(v.path);
        if (r) {
            c.current = normalize_value(r.value());
            c.needed = c.current != v.value;
        } else {
            c.current = "?";
            c.needed = true;  // the write will fail and say why; the saved value is kept
            c.note = r.error().code == ENOENT ? "not present on this host"
                                              : std::strerror(r.error().code);
        }
        plan.changes.push_back(std::move(c));
    }
    return plan;
}

Result<void> write_change(const RootFs& fs, const Change& change) {
    Result<void> w = fs.write(change.path, change.wanted);
    if (!w) return w;
    Result<std::string> r = fs.read(change.path);
    if (!r)
        return Error{r.error().code, "written, but reading it back failed: " + r.error().message};
    const std::string now = normalize_value(r.value());
    if (now != change.wanted) {
        return Error{EINVAL, "the kernel kept '" + now + "' instead of '" + change.wanted + "'"};
    }
    return {};
}

}  // namespace nexure::tuning
