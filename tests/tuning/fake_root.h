// FakeRoot: a fake host tree (/proc, /sys) in a temporary directory, for nexure-tune's tests. The
// directory is removed when the FakeRoot is destroyed. One thread.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tuning/checks.h"
#include "tuning/profile.h"

namespace nexure::tuning::test {

class FakeRoot {
  public:
    FakeRoot() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "nexure-tune-test.XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp failed";
            tmpl = std::filesystem::temp_directory_path().string() + "/nexure-tune-test." +
                   std::to_string(::getpid());
            std::filesystem::create_directories(tmpl);
        }
        root_ = tmpl;
    }
    ~FakeRoot() {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    FakeRoot(const FakeRoot&) = delete;
    FakeRoot& operator=(const FakeRoot&) = delete;

    const std::filesystem::path& path() const { return root_; }
    std::string str() const { return root_.string(); }
    std::filesystem::path at(std::string_view host_path) const {
        return root_ / std::filesystem::path(host_path).relative_path();
    }

    // Writes `content` at the host path, creating its directories.
    void write(std::string_view host_path, std::string_view content) const {
        const std::filesystem::path p = at(host_path);
        std::filesystem::create_directories(p.parent_path());
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << content;
        ASSERT_TRUE(out.good()) << p;
    }
    void mkdir(std::string_view host_path) const {
        std::filesystem::create_directories(at(host_path));
    }
    void symlink(std::string_view host_path, std::string_view target) const {
        const std::filesystem::path p = at(host_path);
        std::filesystem::create_directories(p.parent_path());
        std::filesystem::create_symlink(std::string(target), p);
    }
    void remove(std::string_view host_path) const {
        std::error_code ec;
        std::filesystem::remove_all(at(host_path), ec);
    }
    bool exists(std::string_view host_path) const {
        std::error_code ec;
        return std::filesystem::exists(at(host_path), ec);
    }
    std::string read(std::string_view host_path) const { return read_path(at(host_path)); }
    static std::string read_path(const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }

    // Every regular file under the root with its content: two snapshots are equal when nothing
    // was written, created or removed.
    std::map<std::string, std::string> snapshot() const {
        std::map<std::string, std::string> files;
        for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
            if (e.is_symlink()) {
                files[e.path().string()] = "-> " + std::filesystem::read_symlink(e.path()).string();
            } else if (e.is_regular_file()) {
                files[e.path().string()] = read_path(e.path());
            }
        }
        return files;
    }

    void set_limits(std::string_view nofile_soft, std::string_view nofile_hard,
                    std::string_view memlock_soft, std::string_view memlock_hard) const {
        auto row = [](std::string_view name, std::string_view soft, std::string_view hard,
                      std::string_view units) {
            std::string r(name);
            r.resize(26, ' ');
            r += soft;
            r.resize(47, ' ');
            r += hard;
            r.resize(68, ' ');
            r += units;
            return r + "     \n";
        };
        write("/proc/self/limits",
              row("Limit", "Soft Limit", "Hard Limit", "Units") +
                  row("Max cpu time", "unlimited", "unlimited", "seconds") +
                  row("Max open files", nofile_soft, nofile_hard, "files") +
                  row("Max locked memory", memlock_soft, memlock_hard, "bytes") +
                  row("Max address space", "unlimited", "unlimited", "bytes"));
    }

    // A 4-CPU host tuned as NexureJS recommends: with a working io_uring every check is OK.
    void populate_good_host() const {
        write("/proc/sys/kernel/osrelease", "6.8.0-nexure-test\n");
        write("/proc/sys/kernel/io_uring_disabled", "0\n");
        set_limits("1048576", "1048576", "unlimited", "unlimited");
        write("/proc/sys/fs/nr_open", "1048576\n");
        write("/sys/devices/system/cpu/online", "0-3\n");
        write("/proc/sys/net/core/somaxconn", "4096\n");
        write("/proc/sys/net/ipv4/tcp_max_syn_backlog", "8192\n");
        write("/proc/sys/net/ipv4/ip_local_port_range", "10240\t65535\n");
        mkdir("/sys/devices/system/cpu/cpufreq");
        mkdir("/sys/devices/system/cpu/cpuidle");
        for (int cpu = 0; cpu < 4; ++cpu)
            set_governor(cpu, "performance");
        write("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
        write("/sys/kernel/mm/transparent_hugepage/defrag",
              "always defer [defer+madvise] madvise never\n");

        write("/sys/class/net/lo/type", "772\n");
        write("/sys/class/net/veth0/type", "1\n");  // virtual: no device
        write("/sys/class/net/eth0/type", "1\n");
        mkdir("/sys/devices/pci0000:00/0000:3b:00.0/msi_irqs");
        symlink("/sys/class/net/eth0/device", "../../../devices/pci0000:00/0000:3b:00.0");
        std::string interrupts = "           CPU0       CPU1       CPU2       CPU3\n";
        for (int q = 0; q < 4; ++q) {
            const std::string n = std::to_string(q);
            const std::string irq = std::to_string(40 + q);
            write("/sys/class/net/eth0/queues/rx-" + n + "/rps_cpus", "0\n");
            write("/sys/class/net/eth0/queues/tx-" + n + "/xps_cpus",
                  std::to_string(1 << q) + "\n");
            write("/sys/devices/pci0000:00/0000:3b:00.0/msi_irqs/" + irq, "msix\n");
            write("/proc/irq/" + irq + "/smp_affinity_list", n + "\n");
            write("/proc/irq/" + irq + "/effective_affinity_list", n + "\n");
            std::string counts;
            for (int c = 0; c < 4; ++c)
                counts += c == q ? "       1234" : "          0";
            interrupts +=
                "  " + irq + ":" + counts + "  IR-PCI-MSI 1048576-edge      eth0-TxRx-" + n + "\n";
        }
        interrupts +=
            " NMI:          0          0          0          0   Non-maskable interrupts\n";
        write("/proc/interrupts", interrupts);

        write("/sys/devices/system/cpu/vulnerabilities/meltdown", "Not affected\n");
        write("/sys/devices/system/cpu/vulnerabilities/mds", "Not affected\n");
        write("/sys/devices/system/cpu/vulnerabilities/spectre_v2",
              "Mitigation: Enhanced / Automatic IBRS; IBPB: conditional\n");
        write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz-6.8.0 root=/dev/sda1 ro quiet\n");
    }

    void set_governor(int cpu, std::string_view governor) const {
        const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/";
        write(dir + "scaling_governor", std::string(governor) + "\n");
        write(dir + "scaling_available_governors", "performance powersave\n");
        write(dir + "scaling_driver", "intel_pstate\n");
    }

  private:
    std::filesystem::path root_;
};

inline std::vector<SysctlSetting> builtin_settings() {
    Result<std::vector<SysctlSetting>> p = parse_profile(builtin_profile());
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return p.ok() ? p.value() : std::vector<SysctlSetting>{};
}

// The item with `id`; an item with id "<missing id>" when there is none, so that the caller's
// expectations on it fail.
inline Item item_of(const std::vector<Item>& items, std::string_view id) {
    for (const Item& item : items) {
        if (item.id == id) return item;
    }
    Item missing;
    missing.id = "<missing " + std::string(id) + ">";
    missing.status = Status::kWarn;
    return missing;
}

inline bool contains(std::string_view text, std::string_view what) {
    return text.find(what) != std::string_view::npos;
}

// `text` with every run of spaces made one space, to match lines whose columns are padded.
inline std::string squeezed(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == ' ' && !out.empty() && out.back() == ' ') continue;
        out += c;
    }
    return out;
}

}  // namespace nexure::tuning::test
