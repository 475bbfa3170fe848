#include "tuning/cli.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/tuning/fake_root.h"
#include "tuning/profile.h"
#include "tuning/report.h"

namespace nexure::tuning {
namespace {

using test::contains;
using test::FakeRoot;

struct CliRun {
    int status = -1;
    std::string out;
    std::string err;
};

CliRun run(std::vector<std::string> args, int probe_result = 0) {
    CliRun r;
    CliEnv env;
    env.io_uring_probe = [probe_result] { return probe_result; };
    r.status = run_cli(args, r.out, r.err, env);
    return r;
}

// The items of a `check --json` report by id, each checked for every field.
std::map<std::string, std::string> statuses_of(const std::string& json, std::string* overall) {
    std::map<std::string, std::string> statuses;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    const simdjson::error_code parse_error = parser.parse(json).get(doc);
    EXPECT_EQ(parse_error, simdjson::SUCCESS) << simdjson::error_message(parse_error) << "\n"
                                              << json;
    if (parse_error) return statuses;
    std::string_view s;
    EXPECT_EQ(doc["status"].get(s), simdjson::SUCCESS);
    *overall = std::string(s);
    uint64_t ok = 0;
    uint64_t warn = 0;
    EXPECT_EQ(doc["counts"]["ok"].get(ok), simdjson::SUCCESS);
    EXPECT_EQ(doc["counts"]["warn"].get(warn), simdjson::SUCCESS);
    simdjson::dom::array items;
    EXPECT_EQ(doc["items"].get(items), simdjson::SUCCESS);
    uint64_t warned = 0;
    for (simdjson::dom::element item : items) {
        std::string_view id;
        std::string_view status;
        std::string_view text;
        simdjson::dom::array details;
        EXPECT_EQ(item["id"].get(id), simdjson::SUCCESS);
        EXPECT_EQ(item["status"].get(status), simdjson::SUCCESS);
        EXPECT_TRUE(status == "OK" || status == "WARN") << status;
        for (const char* field : {"name", "found", "recommendation"}) {
            EXPECT_EQ(item[field].get(text), simdjson::SUCCESS) << id << "." << field;
            EXPECT_FALSE(text.empty()) << id << "." << field;
        }
        EXPECT_EQ(item["details"].get(details), simdjson::SUCCESS) << id;
        for (simdjson::dom::element d : details)
            EXPECT_TRUE(d.is_string()) << id;
        if (status == "WARN") ++warned;
        statuses[std::string(id)] = std::string(status);
    }
    EXPECT_EQ(warn, warned);
    EXPECT_EQ(ok + warn, statuses.size());
    return statuses;
}

TEST(TuningCli, CheckJsonParsesAndExitsZeroWhenEverythingIsOk) {
    FakeRoot root;
    root.populate_good_host();
    const CliRun r = run({"check", "--json", "--root", root.str()});
    EXPECT_EQ(r.status, kExitOk) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
    std::string overall;
    const std::map<std::string, std::string> statuses = statuses_of(r.out, &overall);
    EXPECT_EQ(overall, "OK");
    EXPECT_EQ(statuses.size(), 14u);
    EXPECT_EQ(statuses.at("rlimit.memlock"), "OK");

    simdjson::dom::parser parser;
    std::string_view root_field;
    ASSERT_EQ(parser.parse(r.out)["root"].get(root_field), simdjson::SUCCESS);
    EXPECT_EQ(root_field, root.str());
}

TEST(TuningCli, CheckExitsOneAndTheJsonSaysWhichItemWarns) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/sys/net/core/somaxconn", "128\n");
    const CliRun r = run({"check", "--root", root.str(), "--json"}, -ENOSYS);
    EXPECT_EQ(r.status, kExitWarn);
    std::string overall;
    const std::map<std::string, std::string> statuses = statuses_of(r.out, &overall);
    EXPECT_EQ(overall, "WARN");
    EXPECT_EQ(statuses.at("sysctl.net.core.somaxconn"), "WARN");
    EXPECT_EQ(statuses.at("io_uring.setup"), "WARN");
    EXPECT_EQ(statuses.at("sysctl.net.ipv4.tcp_max_syn_backlog"), "OK");
}

TEST(TuningCli, JsonStaysValidWhateverTheFilesHold) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/proc/sys/kernel/osrelease", "6.1.0-\"odd\"\\name\x01\xff\xc3\xa9\n");
    const CliRun r = run({"check", "--json", "--root", root.str()});
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
    std::string_view found;
    ASSERT_EQ(doc["items"].at(0)["found"].get(found), simdjson::SUCCESS);
    EXPECT_EQ(found, "6.1.0-\"odd\"\\name\x01\xef\xbf\xbd\xc3\xa9");

    std::string escaped;
    append_json_escaped(escaped, "a\"b\\c\n\x7f");
    EXPECT_EQ(escaped, "a\\\"b\\\\c\\n\\u007f");
}

TEST(TuningCli, TableHasAStatusLinePerItemAndAnOverallLine) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n");
    const CliRun r = run({"--root", root.str()});  // check is the default command
    EXPECT_EQ(r.status, kExitWarn);
    EXPECT_TRUE(contains(r.out, "STATUS  ITEM")) << r.out;
    EXPECT_TRUE(contains(r.out, "\nOK      kernel version ")) << r.out;
    EXPECT_TRUE(contains(r.out, "\nWARN    transparent huge pages: enabled  never\n")) << r.out;
    EXPECT_TRUE(contains(r.out, "=> The receive-buffer and send-slab pools")) << r.out;
    EXPECT_TRUE(contains(r.out, "status: WARN (1 of 14 items to look at)")) << r.out;
    for (std::string_view rest = r.out; !rest.empty();) {
        const size_t eol = rest.find('\n');
        EXPECT_LE(rest.substr(0, eol).size(), 100u) << rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    }
}

TEST(TuningCli, UsageErrorsExitTwo) {
    FakeRoot root;
    const std::vector<std::vector<std::string>> bad = {
        {"--bogus"},
        {"frobnicate"},
        {"check", "--yes"},
        {"check", "--state", "x"},
        {"apply", "--json"},
        {"restore", "--profile", "x"},
        {"check", "apply"},
        {"--root"},
        {"--root="},
        {"--json=1"},
        {"--root", root.str() + "/absent"},
        {"check", "--profile", root.str() + "/absent.conf"},
    };
    for (const std::vector<std::string>& args : bad) {
        const CliRun r = run(args);
        EXPECT_EQ(r.status, kExitUsage) << args.at(0) << " " << (args.size() > 1 ? args[1] : "");
        EXPECT_FALSE(r.err.empty());
        EXPECT_TRUE(r.out.empty());
    }
    const CliRun help = run({"--help"});
    EXPECT_EQ(help.status, kExitOk);
    EXPECT_TRUE(contains(help.out, "usage: nexure-tune"));
    EXPECT_TRUE(contains(help.out, "exit status"));
}

TEST(TuningCli, AnotherProfileChangesWhatCheckAsksFor) {
    FakeRoot root;
    root.populate_good_host();
    root.write("/my.conf", "# stricter\nnet.core.somaxconn = 16384\n");
    const CliRun r =
        run({"check", "--json", "--root", root.str(), "--profile", root.str() + "/my.conf"});
    EXPECT_EQ(r.status, kExitWarn);
    std::string overall;
    const std::map<std::string, std::string> statuses = statuses_of(r.out, &overall);
    EXPECT_EQ(statuses.at("sysctl.net.core.somaxconn"), "WARN");
    EXPECT_EQ(statuses.count("sysctl.net.ipv4.tcp_max_syn_backlog"), 0u);

    root.write("/bad.conf", "net.core.somaxconn 4096\n");
    const CliRun bad = run({"check", "--root", root.str(), "--profile", root.str() + "/bad.conf"});
    EXPECT_EQ(bad.status, kExitUsage);
    EXPECT_TRUE(contains(bad.err, "line 1")) << bad.err;
}

TEST(TuningCli, ProfileCommandPrintsTheBuiltInProfile) {
    const CliRun r = run({"profile"});
    EXPECT_EQ(r.status, kExitOk);
    EXPECT_EQ(r.out, builtin_profile());
}

TEST(TuningProfile, BuiltInProfileHasTheRecommendedValues) {
    Result<std::vector<SysctlSetting>> p = parse_profile(builtin_profile());
    ASSERT_TRUE(p.ok()) << p.error().message;
    std::map<std::string, SysctlSetting> by_key;
    for (const SysctlSetting& s : p.value())
        by_key[s.key] = s;
    ASSERT_EQ(by_key.size(), 3u);
    EXPECT_EQ(by_key.at("net.core.somaxconn").value, "4096");
    EXPECT_EQ(by_key.at("net.core.somaxconn").path, "/proc/sys/net/core/somaxconn");
    EXPECT_EQ(by_key.at("net.core.somaxconn").compare, Compare::kAtLeast);
    EXPECT_EQ(by_key.at("net.ipv4.tcp_max_syn_backlog").value, "8192");
    EXPECT_EQ(by_key.at("net.ipv4.ip_local_port_range").value, "10240 65535");
    EXPECT_EQ(by_key.at("net.ipv4.ip_local_port_range").compare, Compare::kCoversRange);
}

TEST(TuningProfile, ParsingRejectsWhatSysctlWouldNot) {
    EXPECT_FALSE(parse_profile("net.core.somaxconn 4096\n").ok());
    EXPECT_FALSE(parse_profile("net.core.somaxconn =\n").ok());
    EXPECT_FALSE(parse_profile("net..core = 1\n").ok());
    EXPECT_FALSE(parse_profile("net.ipv4.conf.*.rp_filter = 1\n").ok());
    EXPECT_FALSE(parse_profile("a.b = 1\n; comment\na.b = 2\n").ok());
    Result<std::vector<SysctlSetting>> p =
        parse_profile("; comment\n  -net/ipv4/conf/eth0.100/rp_filter = 2  \nvm.x = a  b\n");
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p.value().size(), 2u);
    EXPECT_EQ(p.value()[0].path, "/proc/sys/net/ipv4/conf/eth0.100/rp_filter");
    EXPECT_EQ(p.value()[0].line, 2);
    EXPECT_EQ(p.value()[1].value, "a b");
    EXPECT_EQ(p.value()[1].compare, Compare::kExact);
    const Result<std::vector<SysctlSetting>> err = parse_profile("\n\nnope\n");
    ASSERT_FALSE(err.ok());
    EXPECT_TRUE(contains(err.error().message, "line 3")) << err.error().message;
}

TEST(TuningProfile, ValuesAreComparedByTheirShape) {
    Result<std::vector<SysctlSetting>> p =
        parse_profile("a.min = 100\na.range = 1000 2000\na.exact = on\n");
    ASSERT_TRUE(p.ok());
    const SysctlSetting& min = p.value()[0];
    const SysctlSetting& range = p.value()[1];
    const SysctlSetting& exact = p.value()[2];
    EXPECT_TRUE(satisfies(min, "100"));
    EXPECT_TRUE(satisfies(min, "5000"));
    EXPECT_FALSE(satisfies(min, "99"));
    EXPECT_FALSE(satisfies(min, "garbage"));
    EXPECT_EQ(value_to_write(min, "99"), "100");

    EXPECT_TRUE(satisfies(range, "500 2500"));
    EXPECT_FALSE(satisfies(range, "1500 2500"));
    EXPECT_FALSE(satisfies(range, "500 1500"));
    EXPECT_EQ(value_to_write(range, "1500 2500"), "1000 2500");
    EXPECT_EQ(value_to_write(range, "500 1500"), "500 2000");
    EXPECT_EQ(value_to_write(range, "junk"), "1000 2000");

    EXPECT_TRUE(satisfies(exact, "on"));
    EXPECT_FALSE(satisfies(exact, "off"));

    EXPECT_EQ(normalize_value("always [madvise] never\n"), "madvise");
    EXPECT_EQ(normalize_value(" 32768\t60999\n"), "32768 60999");
}

TEST(TuningReport, WrapKeepsLinesWithinTheWidth) {
    const std::string text = wrap("aaa bbb ccc ddd eee", 0, 2, 8);
    EXPECT_EQ(text, "aaa bbb\n  ccc\n  ddd\n  eee");
    EXPECT_EQ(wrap("one\n    indented line", 0, 2, 80), "one\n      indented line");
}

}  // namespace
}  // namespace nexure::tuning
