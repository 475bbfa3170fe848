#include "tuning/apply.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/tuning/fake_root.h"
#include "tuning/cli.h"

namespace nexure::tuning {
namespace {

using test::contains;
using test::FakeRoot;
using test::squeezed;

struct CliRun {
    int status = -1;
    std::string out;
    std::string err;
};

CliRun run(std::vector<std::string> args) {
    CliRun r;
    CliEnv env;
    env.io_uring_probe = [] { return 0; };
    r.status = run_cli(args, r.out, r.err, env);
    return r;
}

// A host where apply has something to do: every sysctl of the profile too low, huge pages off,
// defrag on every fault, and one CPU on powersave.
void make_untuned(const FakeRoot& root) {
    root.populate_good_host();
    root.write("/proc/sys/net/core/somaxconn", "128\n");
    root.write("/proc/sys/net/ipv4/tcp_max_syn_backlog", "1024\n");
    root.write("/proc/sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
    root.write("/sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n");
    root.write("/sys/kernel/mm/transparent_hugepage/defrag",
               "[always] defer defer+madvise madvise never\n");
    root.set_governor(1, "powersave");
}

std::string value_at(const FakeRoot& root, std::string_view path) {
    return normalize_value(root.read(path));
}

TEST(TuningApply, DryRunShowsEveryChangeAndWritesNothing) {
    FakeRoot root;
    make_untuned(root);
    const std::map<std::string, std::string> before = root.snapshot();
    const std::string state = root.str() + "/state/saved.conf";
    const CliRun r = run({"apply", "--root", root.str(), "--state", state});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(root.snapshot(), before);
    EXPECT_FALSE(root.exists("/state/saved.conf"));
    EXPECT_TRUE(contains(r.out, "dry run")) << r.out;
    for (const char* line : {
             "change /proc/sys/net/core/somaxconn 128 -> 4096\n",
             "change /proc/sys/net/ipv4/tcp_max_syn_backlog 1024 -> 8192\n",
             "change /proc/sys/net/ipv4/ip_local_port_range 32768 60999 -> 10240 65535\n",
             "change /sys/kernel/mm/transparent_hugepage/enabled never -> madvise\n",
             "change /sys/kernel/mm/transparent_hugepage/defrag always -> defer+madvise\n",
             "change /sys/devices/system/cpu/cpu1/cpufreq/scaling_governor powersave -> "
             "performance\n",
             "keep /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor performance\n",
         }) {
        EXPECT_TRUE(contains(squeezed(r.out), line)) << "missing: " << line << "\n" << r.out;
    }
    EXPECT_TRUE(contains(r.out, "6 to change")) << r.out;
    // Limits cannot be set for other processes: advice instead.
    EXPECT_TRUE(contains(r.out, "ulimit -l unlimited")) << r.out;
    EXPECT_TRUE(contains(r.out, "\n        *  soft  memlock  unlimited\n")) << r.out;
    EXPECT_TRUE(contains(r.out, "/etc/security/limits.conf")) << r.out;
}

TEST(TuningApply, YesWritesTheValuesAfterSavingThePreviousOnes) {
    FakeRoot root;
    make_untuned(root);
    const std::string state = root.str() + "/state/saved.conf";
    const CliRun r = run({"apply", "--yes", "--root", root.str(), "--state", state});
    ASSERT_EQ(r.status, kExitOk) << r.out << r.err;
    EXPECT_EQ(root.read("/proc/sys/net/core/somaxconn"), "4096\n");
    EXPECT_EQ(root.read("/proc/sys/net/ipv4/tcp_max_syn_backlog"), "8192\n");
    EXPECT_EQ(root.read("/proc/sys/net/ipv4/ip_local_port_range"), "10240 65535\n");
    EXPECT_EQ(value_at(root, "/sys/kernel/mm/transparent_hugepage/enabled"), "madvise");
    EXPECT_EQ(value_at(root, "/sys/kernel/mm/transparent_hugepage/defrag"), "defer+madvise");
    EXPECT_EQ(value_at(root, "/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"),
              "performance");
    EXPECT_TRUE(contains(r.out, "6 of 6 changed")) << r.out;

    Result<std::vector<SavedValue>> saved = read_state(state);
    ASSERT_TRUE(saved.ok()) << saved.error().message;
    std::map<std::string, std::string> by_path;
    for (const SavedValue& v : saved.value())
        by_path[v.path] = v.value;
    const std::map<std::string, std::string> expected = {
        {"/proc/sys/net/core/somaxconn", "128"},
        {"/proc/sys/net/ipv4/tcp_max_syn_backlog", "1024"},
        {"/proc/sys/net/ipv4/ip_local_port_range", "32768 60999"},
        {"/sys/kernel/mm/transparent_hugepage/enabled", "never"},
        {"/sys/kernel/mm/transparent_hugepage/defrag", "always"},
        {"/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "powersave"},
    };
    EXPECT_EQ(by_path, expected);

    // Now the host matches: check is OK for everything apply changed.
    const CliRun check = run({"check", "--root", root.str()});
    EXPECT_EQ(check.status, kExitOk) << check.out;
}

TEST(TuningApply, RestorePutsThePreviousValuesBackAndRemovesTheStateFile) {
    FakeRoot root;
    make_untuned(root);
    const std::string state = root.str() + "/state/saved.conf";
    ASSERT_EQ(run({"apply", "--yes", "--root", root.str(), "--state", state}).status, kExitOk);

    // A dry run of restore changes nothing.
    const std::map<std::string, std::string> applied = root.snapshot();
    CliRun r = run({"restore", "--root", root.str(), "--state", state});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(root.snapshot(), applied);
    EXPECT_TRUE(contains(squeezed(r.out), "restore /proc/sys/net/core/somaxconn 4096 -> 128"))
        << r.out;

    r = run({"restore", "--yes", "--root", root.str(), "--state", state});
    ASSERT_EQ(r.status, kExitOk) << r.out << r.err;
    EXPECT_EQ(root.read("/proc/sys/net/core/somaxconn"), "128\n");
    EXPECT_EQ(root.read("/proc/sys/net/ipv4/tcp_max_syn_backlog"), "1024\n");
    EXPECT_EQ(value_at(root, "/proc/sys/net/ipv4/ip_local_port_range"), "32768 60999");
    EXPECT_EQ(value_at(root, "/sys/kernel/mm/transparent_hugepage/enabled"), "never");
    EXPECT_EQ(value_at(root, "/sys/kernel/mm/transparent_hugepage/defrag"), "always");
    EXPECT_EQ(value_at(root, "/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"), "powersave");
    EXPECT_FALSE(root.exists("/state/saved.conf"));

    // Nothing left to restore.
    r = run({"restore", "--yes", "--root", root.str(), "--state", state});
    EXPECT_EQ(r.status, kExitOk);
    EXPECT_TRUE(contains(r.out, "nothing to restore")) << r.out;
}

TEST(TuningApply, NeverLowersAHigherValueAndWidensRangesOnly) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/sys/net/core/somaxconn", "65535\n");
    root.write("/proc/sys/net/ipv4/ip_local_port_range", "1024 60999\n");
    const std::string state = root.str() + "/saved.conf";
    const CliRun r = run({"apply", "--yes", "--root", root.str(), "--state", state});
    ASSERT_EQ(r.status, kExitOk) << r.out << r.err;
    EXPECT_EQ(root.read("/proc/sys/net/core/somaxconn"), "65535\n");
    EXPECT_EQ(root.read("/proc/sys/net/ipv4/ip_local_port_range"), "1024 65535\n");
    EXPECT_TRUE(contains(r.out, "1 of 1 changed")) << r.out;
    EXPECT_TRUE(contains(FakeRoot::read_path(state),
                         "/proc/sys/net/ipv4/ip_local_port_range = 1024 60999\n"));
    EXPECT_FALSE(contains(FakeRoot::read_path(state), "somaxconn"));
}

TEST(TuningApply, WellTunedHostNeedsNothingAndGetsNoStateFile) {
    FakeRoot root;
    root.populate_good_host();
    const std::map<std::string, std::string> before = root.snapshot();
    const CliRun r = run({"apply", "--yes", "--root", root.str()});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_TRUE(contains(r.out, "nothing to change")) << r.out;
    EXPECT_EQ(root.snapshot(), before);
}

TEST(TuningApply, DefaultStateFileLivesUnderTheRoot) {
    FakeRoot root;
    make_untuned(root);
    ASSERT_EQ(run({"--apply", "--yes", "--root", root.str()}).status, kExitOk);
    EXPECT_TRUE(root.exists("/var/lib/nexure-tune/saved.conf"));
    EXPECT_EQ(default_state_file(RootFs(root.path())),
              root.path() / "var/lib/nexure-tune/saved.conf");
    ASSERT_EQ(run({"restore", "--yes", "--root", root.str()}).status, kExitOk);
    EXPECT_EQ(root.read("/proc/sys/net/core/somaxconn"), "128\n");
    EXPECT_FALSE(root.exists("/var/lib/nexure-tune/saved.conf"));
}

TEST(TuningApply, ASecondApplyKeepsTheOriginalValues) {
    FakeRoot root;
    make_untuned(root);
    const std::string state = root.str() + "/saved.conf";
    ASSERT_EQ(run({"apply", "--yes", "--root", root.str(), "--state", state}).status, kExitOk);
    // Something else lowers it again; the second apply must not save 1000 as the original.
    root.write("/proc/sys/net/core/somaxconn", "1000\n");
    ASSERT_EQ(run({"apply", "--yes", "--root", root.str(), "--state", state}).status, kExitOk);
    EXPECT_EQ(root.read("/proc/sys/net/core/somaxconn"), "4096\n");
    ASSERT_EQ(run({"restore", "--yes", "--root", root.str(), "--state", state}).status, kExitOk);
    EXPECT_EQ(root.read("/proc/sys/net/core/somaxconn"), "128\n");
}

TEST(TuningApply, NothingIsWrittenWhenTheStateFileCannotBeSaved) {
    FakeRoot root;
    make_untuned(root);
    root.write("/not-a-dir", "a file\n");
    const std::map<std::string, std::string> before = root.snapshot();
    const CliRun r =
        run({"apply", "--yes", "--root", root.str(), "--state", root.str() + "/not-a-dir/x.conf"});
    EXPECT_EQ(r.status, kExitWarn);
    EXPECT_TRUE(contains(r.err, "nothing was written")) << r.err;
    EXPECT_EQ(root.snapshot(), before);
}

TEST(TuningApply, AbsentSettingsAreSkippedNotCreated) {
    FakeRoot root;
    make_untuned(root);
    root.remove("/proc/sys/net/ipv4/tcp_max_syn_backlog");
    const std::string state = root.str() + "/saved.conf";
    const CliRun r = run({"apply", "--yes", "--root", root.str(), "--state", state});
    ASSERT_EQ(r.status, kExitOk) << r.out << r.err;
    EXPECT_FALSE(root.exists("/proc/sys/net/ipv4/tcp_max_syn_backlog"));
    EXPECT_TRUE(contains(r.out, "not present on this host")) << r.out;
    EXPECT_TRUE(contains(r.out, "5 of 5 changed")) << r.out;
}

TEST(TuningApply, AFailedWriteIsReportedAndTheOthersAreStillWritten) {
    FakeRoot root;
    make_untuned(root);
    // /dev/null takes the write and reads back empty: the value did not stick.
    root.remove("/proc/sys/net/core/somaxconn");
    root.symlink("/proc/sys/net/core/somaxconn", "/dev/null");
    const std::string state = root.str() + "/saved.conf";
    const CliRun r = run({"apply", "--yes", "--root", root.str(), "--state", state});
    EXPECT_EQ(r.status, kExitWarn) << r.out << r.err;
    EXPECT_TRUE(contains(squeezed(r.out), "FAILED /proc/sys/net/core/somaxconn '' -> 4096"))
        << r.out;
    EXPECT_TRUE(contains(r.err, "the kernel kept '' instead of '4096'")) << r.err;
    EXPECT_TRUE(contains(r.out, "5 of 6 changed")) << r.out;
    EXPECT_EQ(root.read("/proc/sys/net/ipv4/tcp_max_syn_backlog"), "8192\n");
    // Its previous (empty) value is saved like the others.
    EXPECT_TRUE(contains(FakeRoot::read_path(state), "/proc/sys/net/core/somaxconn = \n"));
}

TEST(TuningApply, RestoreReportsAFailedWriteAndKeepsTheStateFile) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/saved.conf", "/proc/sys/net/core/somaxconn = 128\n/sys/kernel/mm/absent = 1\n");
    const CliRun r =
        run({"restore", "--yes", "--root", root.str(), "--state", root.str() + "/saved.conf"});
    EXPECT_EQ(r.status, kExitWarn);
    EXPECT_TRUE(contains(squeezed(r.out), "FAILED /sys/kernel/mm/absent ? -> 1")) << r.out;
    EXPECT_TRUE(contains(r.err, "/sys/kernel/mm/absent")) << r.err;
    EXPECT_EQ(root.read("/proc/sys/net/core/somaxconn"), "128\n");
    EXPECT_FALSE(root.exists("/sys/kernel/mm/absent"));
    EXPECT_TRUE(root.exists("/saved.conf"));
}

TEST(TuningApply, RestoreRefusesPathsOutsideProcSysAndSys) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    const std::string state = root.str() + "/saved.conf";
    for (const char* line :
         {"/etc/passwd = x\n", "/sys/../etc/passwd = x\n", "/proc/sys/net/core/somaxconn\n"}) {
        root.write("/saved.conf", line);
        const CliRun r = run({"restore", "--yes", "--root", root.str(), "--state", state});
        EXPECT_EQ(r.status, kExitWarn) << line;
        EXPECT_TRUE(contains(r.err, "saved.conf:1")) << r.err;
    }
    EXPECT_EQ(root.read("/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
}

TEST(TuningApply, GovernorWithoutPerformanceIsLeftAloneWithAdvice) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "schedutil\n");
    root.write("/sys/devices/system/cpu/cpu3/cpufreq/scaling_available_governors",
               "schedutil ondemand\n");
    const CliRun r = run({"apply", "--yes", "--root", root.str()});
    EXPECT_EQ(r.status, kExitOk) << r.err;
    EXPECT_EQ(root.read("/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"), "schedutil\n");
    EXPECT_TRUE(contains(r.out, "CPUs 3: their cpufreq driver offers no performance governor"))
        << r.out;
}

TEST(TuningApply, PlanMarksOnlyWhatDiffers) {
    FakeRoot root;
    make_untuned(root);
    root.write("/proc/sys/net/core/somaxconn", "4096\n");
    Result<std::vector<SysctlSetting>> profile = parse_profile(builtin_profile());
    ASSERT_TRUE(profile.ok());
    const Plan plan = plan_apply(RootFs(root.path()), profile.value());
    std::map<std::string, bool> needed;
    for (const Change& c : plan.changes)
        needed[c.path] = c.needed;
    EXPECT_FALSE(needed.at("/proc/sys/net/core/somaxconn"));
    EXPECT_TRUE(needed.at("/proc/sys/net/ipv4/tcp_max_syn_backlog"));
    EXPECT_FALSE(needed.at("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"));
    EXPECT_TRUE(needed.at("/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"));
    EXPECT_FALSE(plan.advice.empty());
}

}  // namespace
}  // namespace nexure::tuning
