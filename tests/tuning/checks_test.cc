#include "tuning/checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "engine/ring.h"
#include "tests/tuning/fake_root.h"

namespace nexure::tuning {
namespace {

using test::contains;
using test::FakeRoot;
using test::item_of;

std::vector<Item> check(const FakeRoot& root, int probe_result = 0) {
    CheckOptions options{RootFs(root.path()), test::builtin_settings(),
                         [probe_result] { return probe_result; }};
    return run_checks(options);
}

TEST(TuningChecks, WellTunedHostIsOkEverywhere) {
    FakeRoot root;
    root.populate_good_host();
    const std::vector<Item> items = check(root);
    for (const Item& item : items) {
        EXPECT_EQ(item.status, Status::kOk)
            << item.id << ": " << item.found << " => " << item.recommendation;
        EXPECT_FALSE(item.found.empty()) << item.id;
        EXPECT_FALSE(item.recommendation.empty()) << item.id;
    }
    EXPECT_EQ(overall_status(items), Status::kOk);
    for (const char* id :
         {"kernel", "io_uring.disabled", "io_uring.setup", "rlimit.memlock", "rlimit.nofile",
          "sysctl.net.core.somaxconn", "sysctl.net.ipv4.tcp_max_syn_backlog",
          "sysctl.net.ipv4.ip_local_port_range", "cpu.governor", "thp.enabled", "thp.defrag",
          "nic.eth0", "nic.virtual", "cpu.mitigations"}) {
        EXPECT_EQ(item_of(items, id).id, id);
    }
    EXPECT_EQ(item_of(items, "nic.virtual").found, "veth0");
    EXPECT_EQ(item_of(items, "sysctl.net.ipv4.ip_local_port_range").found, "10240 65535");
}

TEST(TuningChecks, EmptyRootReportsEveryItemWithoutFailing) {
    FakeRoot root;  // nothing in it: every file is absent
    const std::vector<Item> items = check(root);
    for (const Item& item : items) {
        EXPECT_FALSE(item.found.empty()) << item.id;
        EXPECT_FALSE(item.recommendation.empty()) << item.id;
    }
    EXPECT_EQ(item_of(items, "kernel").status, Status::kOk);
    EXPECT_EQ(item_of(items, "io_uring.disabled").status, Status::kOk);
    EXPECT_EQ(item_of(items, "io_uring.disabled").found, "not present");
    EXPECT_EQ(item_of(items, "rlimit.memlock").status, Status::kWarn);
    EXPECT_TRUE(contains(item_of(items, "rlimit.memlock").found, "unknown"));
    EXPECT_EQ(item_of(items, "sysctl.net.core.somaxconn").status, Status::kWarn);
    EXPECT_TRUE(contains(item_of(items, "sysctl.net.core.somaxconn").found, "not present"));
    EXPECT_EQ(item_of(items, "cpu.governor").status, Status::kOk);
    EXPECT_EQ(item_of(items, "cpu.governor").found, "no cpufreq interface");
    EXPECT_EQ(item_of(items, "thp.enabled").status, Status::kOk);
    EXPECT_EQ(item_of(items, "nic").status, Status::kOk);
    EXPECT_EQ(item_of(items, "nic").found, "none listed in /sys/class/net");
    EXPECT_EQ(item_of(items, "cpu.mitigations").status, Status::kOk);
    EXPECT_EQ(overall_status(items), Status::kWarn);
}

TEST(TuningChecks, IoUringDisabledSysctlWarnsAndSaysHowToAllowIt) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/sys/kernel/io_uring_disabled", "2\n");
    Item item = item_of(check(root), "io_uring.disabled");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_TRUE(contains(item.found, "disabled for every process")) << item.found;
    EXPECT_TRUE(contains(item.recommendation, "sysctl -w kernel.io_uring_disabled=0"));

    root.write("/proc/sys/kernel/io_uring_disabled", "1\n");
    root.write("/proc/sys/kernel/io_uring_group", "1234\n");
    item = item_of(check(root), "io_uring.disabled");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_TRUE(contains(item.recommendation, "group 1234")) << item.recommendation;

    root.write("/proc/sys/kernel/io_uring_group", "-1\n");
    item = item_of(check(root), "io_uring.disabled");
    EXPECT_TRUE(contains(item.recommendation, "io_uring_group=GID")) << item.recommendation;

    root.write("/proc/sys/kernel/io_uring_disabled", "0\n");
    EXPECT_EQ(item_of(check(root), "io_uring.disabled").status, Status::kOk);
}

TEST(TuningChecks, FailingIoUringSetupWarnsWithTheEngineExplanation) {
    FakeRoot root;
    root.populate_good_host();
    Item item = item_of(check(root, -EPERM), "io_uring.setup");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_TRUE(contains(item.found, std::strerror(EPERM))) << item.found;
    EXPECT_TRUE(contains(item.recommendation, "io_uring_setup failed with")) << item.recommendation;

    item = item_of(check(root, -ENOSYS), "io_uring.setup");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_TRUE(contains(item.recommendation, "no io_uring support")) << item.recommendation;

    item = item_of(check(root, 0), "io_uring.setup");
    EXPECT_EQ(item.status, Status::kOk);
    EXPECT_TRUE(contains(item.found, "works"));
}

TEST(TuningChecks, RealIoUringProbeAgreesWithTheEngine) {
    engine::Ring ring;
    engine::RingOptions options;
    options.sq_entries = 8;
    options.cq_entries = 16;
    options.mode = engine::RingMode::kPlain;
    const Result<void> r = ring.init(options);
    const int probe = probe_io_uring();
    if (r.ok()) {
        EXPECT_EQ(probe, 0) << std::strerror(-probe);
    } else {
        EXPECT_EQ(probe, -r.error().code) << r.error().message;
    }
}

TEST(TuningChecks, KernelOlderThanSixWarns) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/sys/kernel/osrelease", "5.15.0-91-generic\n");
    Item item = item_of(check(root), "kernel");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_TRUE(contains(item.recommendation, "6.0")) << item.recommendation;
    root.write("/proc/sys/kernel/osrelease", "6.1.0-13-amd64\n");
    EXPECT_EQ(item_of(check(root), "kernel").status, Status::kOk);
}

TEST(TuningChecks, MemlockBelowTheSendSlabsOfEveryWorkerWarns) {
    FakeRoot root;
    root.populate_good_host();  // 4 CPUs: 4 workers
    root.set_limits("1048576", "1048576", "8388608", "8388608");
    Item item = item_of(check(root), "rlimit.memlock");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_EQ(item.found, "soft 8 MiB, hard 8 MiB");
    EXPECT_TRUE(contains(item.recommendation, "LimitMEMLOCK=infinity")) << item.recommendation;
    EXPECT_EQ(memlock_needed(4), 4 * memlock_needed(1));
    EXPECT_TRUE(contains(item.recommendation, std::to_string(memlock_needed(4) >> 20) + " MiB"))
        << item.recommendation;
    EXPECT_TRUE(contains(item.recommendation, "hard limit is lower too"));

    // Enough for all workers.
    const std::string enough = std::to_string(memlock_needed(4));
    root.set_limits("1048576", "1048576", enough, "unlimited");
    EXPECT_EQ(item_of(check(root), "rlimit.memlock").status, Status::kOk);

    // 8 MiB is enough when there is one CPU.
    root.set_limits("1048576", "1048576", std::to_string(memlock_needed(1)), "8388608");
    root.write("/sys/devices/system/cpu/online", "0\n");
    EXPECT_EQ(item_of(check(root), "rlimit.memlock").status, Status::kOk);
}

TEST(TuningChecks, NofileBelowTheConnectionBudgetWarns) {
    FakeRoot root;
    root.populate_good_host();
    root.set_limits("1024", "4096", "unlimited", "unlimited");
    root.write("/proc/sys/fs/nr_open", "100000\n");
    Item item = item_of(check(root), "rlimit.nofile");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_EQ(item.found, "soft 1024, hard 4096");
    const std::string advice = std::to_string(nofile_advice(4));
    EXPECT_EQ(nofile_advice(4), 131072u);  // 4 x 16384 connections + spares, a power of two
    EXPECT_TRUE(contains(item.recommendation, "ulimit -n " + advice)) << item.recommendation;
    EXPECT_TRUE(contains(item.recommendation, "hard limit is lower too"));
    EXPECT_TRUE(contains(item.recommendation, "fs.nr_open")) << item.recommendation;

    root.set_limits(std::to_string(nofile_needed(4)), "1048576", "unlimited", "unlimited");
    EXPECT_EQ(item_of(check(root), "rlimit.nofile").status, Status::kOk);
}

TEST(TuningChecks, LimitsFileWithoutTheRowsWarnsAsUnknown) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/self/limits", "Limit   Soft Limit   Hard Limit   Units\n");
    const std::vector<Item> items = check(root);
    EXPECT_EQ(item_of(items, "rlimit.nofile").status, Status::kWarn);
    EXPECT_TRUE(contains(item_of(items, "rlimit.nofile").found, "unknown"));
    EXPECT_TRUE(contains(item_of(items, "rlimit.memlock").recommendation, "ulimit -l"));
}

TEST(TuningChecks, SysctlBelowTheProfileWarnsAndAHigherOneIsKept) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/sys/net/core/somaxconn", "128\n");
    Item item = item_of(check(root), "sysctl.net.core.somaxconn");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_EQ(item.found, "128");
    EXPECT_TRUE(contains(item.recommendation, "sysctl -w net.core.somaxconn=4096"))
        << item.recommendation;

    root.write("/proc/sys/net/core/somaxconn", "65535\n");
    item = item_of(check(root), "sysctl.net.core.somaxconn");
    EXPECT_EQ(item.status, Status::kOk);
    EXPECT_TRUE(contains(item.recommendation, "at least 4096"));
}

TEST(TuningChecks, NarrowPortRangeWarnsAndAWiderOneIsOk) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
    Item item = item_of(check(root), "sysctl.net.ipv4.ip_local_port_range");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_EQ(item.found, "32768 60999");
    EXPECT_TRUE(
        contains(item.recommendation, "sysctl -w net.ipv4.ip_local_port_range=\"10240 65535\""))
        << item.recommendation;

    root.write("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535\n");
    EXPECT_EQ(item_of(check(root), "sysctl.net.ipv4.ip_local_port_range").status, Status::kOk);
}

TEST(TuningChecks, GovernorOtherThanPerformanceWarnsPerCpu) {
    FakeRoot root;
    root.populate_good_host();
    root.set_governor(2, "powersave");
    Item item = item_of(check(root), "cpu.governor");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_EQ(item.found, "intel_pstate: performance on CPUs 0-1,3; powersave on CPUs 2");
    EXPECT_TRUE(contains(item.recommendation, "cpupower frequency-set -g performance"));
}

TEST(TuningChecks, NoCpufreqIsOkAndSaysWhy) {
    FakeRoot root;
    root.populate_good_host();
    for (int cpu = 0; cpu < 4; ++cpu) {
        root.remove("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq");
    }
    const Item item = item_of(check(root), "cpu.governor");
    EXPECT_EQ(item.status, Status::kOk);
    EXPECT_EQ(item.found, "no cpufreq interface");
    EXPECT_TRUE(contains(item.recommendation, "virtual machines"));
}

TEST(TuningChecks, TransparentHugePages) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n");
    root.write("/sys/kernel/mm/transparent_hugepage/defrag",
               "[always] defer defer+madvise madvise never\n");
    std::vector<Item> items = check(root);
    EXPECT_EQ(item_of(items, "thp.enabled").status, Status::kWarn);
    EXPECT_EQ(item_of(items, "thp.enabled").found, "never");
    EXPECT_TRUE(contains(item_of(items, "thp.enabled").recommendation, "echo madvise >"));
    EXPECT_EQ(item_of(items, "thp.defrag").status, Status::kWarn);
    EXPECT_TRUE(contains(item_of(items, "thp.defrag").recommendation, "echo defer+madvise >"));

    root.write("/sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n");
    root.write("/sys/kernel/mm/transparent_hugepage/defrag", "always [defer] madvise never\n");
    items = check(root);
    EXPECT_EQ(item_of(items, "thp.enabled").status, Status::kOk);
    EXPECT_EQ(item_of(items, "thp.defrag").status, Status::kOk);

    root.remove("/sys/kernel/mm/transparent_hugepage");
    items = check(root);
    EXPECT_EQ(item_of(items, "thp.enabled").status, Status::kOk);
    EXPECT_TRUE(contains(item_of(items, "thp.enabled").found, "not present"));
}

TEST(TuningChecks, NicReportsQueuesAndIrqAffinity) {
    FakeRoot root;
    root.populate_good_host();
    const Item item = item_of(check(root), "nic.eth0");
    EXPECT_EQ(item.status, Status::kOk) << item.recommendation;
    EXPECT_EQ(item.found, "device 0000:3b:00.0: 4 rx / 4 tx queues, RPS off, XPS on, 4 IRQs");
    const std::vector<std::string> expected = {
        "rx-0: RPS off",
        "tx-0: XPS on CPUs 0",
        "tx-3: XPS on CPUs 3",
        "IRQ 41 (eth0-TxRx-1): affinity CPUs 1, effective 1, interrupts so far on CPUs 1",
    };
    for (const std::string& line : expected) {
        EXPECT_NE(std::find(item.details.begin(), item.details.end(), line), item.details.end())
            << "missing detail: " << line;
    }
}

TEST(TuningChecks, SingleQueueNicWithoutRpsWarns) {
    FakeRoot root;
    root.populate_good_host();
    for (const char* q : {"rx-1", "rx-2", "rx-3"}) {
        root.remove(std::string("/sys/class/net/eth0/queues/") + q);
    }
    Item item = item_of(check(root), "nic.eth0");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_TRUE(contains(item.recommendation, "echo f > /sys/class/net/eth0/queues/rx-0/rps_cpus"))
        << item.recommendation;
    EXPECT_TRUE(contains(item.recommendation, "127.0.0.1"));

    root.write("/sys/class/net/eth0/queues/rx-0/rps_cpus", "0000000f\n");
    item = item_of(check(root), "nic.eth0");
    EXPECT_EQ(item.status, Status::kOk) << item.recommendation;
    EXPECT_TRUE(contains(item.found, "RPS on"));
}

TEST(TuningChecks, AllQueueIrqsOnOneCpuWarns) {
    FakeRoot root;
    root.populate_good_host();
    for (int irq = 40; irq < 44; ++irq) {
        root.write("/proc/irq/" + std::to_string(irq) + "/effective_affinity_list", "2\n");
    }
    const Item item = item_of(check(root), "nic.eth0");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_TRUE(contains(item.recommendation, "go to CPU 2")) << item.recommendation;
}

TEST(TuningChecks, VirtioNicIrqsAreFoundByName) {
    FakeRoot root;
    root.populate_good_host();
    root.remove("/sys/class/net/eth0");
    root.mkdir("/sys/devices/pci0000:00/0000:00:03.0/virtio2");
    root.symlink("/sys/class/net/ens3/device", "../../../devices/pci0000:00/0000:00:03.0/virtio2");
    root.write("/sys/class/net/ens3/type", "1\n");
    root.write("/sys/class/net/ens3/queues/rx-0/rps_cpus", "00000000,00000000\n");
    root.write("/proc/interrupts",
               "           CPU0       CPU1       CPU2       CPU3\n"
               " 37:          0          0          0          0  PCI-MSIX-0000:00:03.0   "
               "0-edge      virtio2-config\n"
               " 38:          0       1104          0          0  PCI-MSIX-0000:00:03.0   "
               "1-edge      virtio2-input.0\n"
               " 39:          0          0          0          0  PCI-MSIX-0000:00:04.0   "
               "1-edge      virtio3-input.0\n");
    root.write("/proc/irq/38/smp_affinity", "f\n");
    const Item item = item_of(check(root), "nic.ens3");
    EXPECT_EQ(item.status, Status::kWarn);  // one queue, RPS off, 4 CPUs
    EXPECT_TRUE(contains(item.found, "device virtio2")) << item.found;
    EXPECT_TRUE(contains(item.found, "2 IRQs")) << item.found;
    const std::string irq38 =
        "IRQ 38 (virtio2-input.0): affinity CPUs 0-3, interrupts so far on CPUs 1";
    EXPECT_NE(std::find(item.details.begin(), item.details.end(), irq38), item.details.end());
}

TEST(TuningChecks, OnlyLoopbackIsOk) {
    FakeRoot root;
    root.populate_good_host();
    root.remove("/sys/class/net/eth0");
    root.remove("/sys/class/net/veth0");
    const std::vector<Item> items = check(root);
    EXPECT_EQ(item_of(items, "nic").status, Status::kOk);
    EXPECT_EQ(item_of(items, "nic").found, "only loopback");
    EXPECT_EQ(overall_status(items), Status::kOk);
}

TEST(TuningChecks, VulnerableCpuWarnsAndShowsTheCommandLine) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/sys/devices/system/cpu/vulnerabilities/retbleed",
               "Vulnerable: Safe RET, no microcode\n");
    root.write("/proc/cmdline", "root=/dev/vda ro mitigations=off quiet\n");
    const Item item = item_of(check(root), "cpu.mitigations");
    EXPECT_EQ(item.status, Status::kWarn);
    EXPECT_EQ(item.found,
              "1 vulnerable, 1 mitigated, 2 not affected; command line: mitigations=off");
    EXPECT_TRUE(contains(item.recommendation, "retbleed"));
    EXPECT_NE(std::find(item.details.begin(), item.details.end(),
                        "retbleed: Vulnerable: Safe RET, no microcode"),
              item.details.end());
}

TEST(TuningChecks, CpuListsAndMasks) {
    std::vector<unsigned> cpus;
    ASSERT_TRUE(parse_cpu_list("0-3,8,10-11\n", &cpus));
    EXPECT_EQ(cpus, (std::vector<unsigned>{0, 1, 2, 3, 8, 10, 11}));
    EXPECT_EQ(format_cpu_list(cpus), "0-3,8,10-11");
    EXPECT_FALSE(parse_cpu_list("3-1", &cpus));
    EXPECT_FALSE(parse_cpu_list("a", &cpus));
    ASSERT_TRUE(parse_cpu_list("", &cpus));
    EXPECT_TRUE(cpus.empty());

    ASSERT_TRUE(parse_cpu_mask("00000001,00000005", &cpus));
    EXPECT_EQ(cpus, (std::vector<unsigned>{0, 2, 32}));
    ASSERT_TRUE(parse_cpu_mask("0", &cpus));
    EXPECT_TRUE(cpus.empty());
    EXPECT_FALSE(parse_cpu_mask("xyz", &cpus));

    EXPECT_EQ(cpu_mask_for(1), "1");
    EXPECT_EQ(cpu_mask_for(4), "f");
    EXPECT_EQ(cpu_mask_for(6), "3f");
    EXPECT_EQ(cpu_mask_for(36), "f,ffffffff");
    ASSERT_TRUE(parse_cpu_mask(cpu_mask_for(36), &cpus));
    EXPECT_EQ(cpus.size(), 36u);
}

TEST(TuningChecks, OnlineCpuCountComesFromTheRoot) {
    FakeRoot root;
    EXPECT_EQ(online_cpu_count(RootFs(root.path())), 1u);  // absent: one
    root.write("/sys/devices/system/cpu/online", "0-5,8\n");
    EXPECT_EQ(online_cpu_count(RootFs(root.path())), 7u);
}

}  // namespace
}  // namespace nexure::tuning
