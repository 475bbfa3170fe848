#include "tuning/cli.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>

#include "tuning/apply.h"
#include "tuning/profile.h"
#include "tuning/report.h"
#include "tuning/root_fs.h"

namespace nexure::tuning {

namespace {

constexpr std::string_view kUsage =
    "usage: nexure-tune [COMMAND] [options]\n"
    "\n"
    "commands:\n"
    "  check      report io_uring, limits, sysctls, CPU governor, huge pages, NIC IRQs/RPS and\n"
    "             CPU mitigations, with a recommendation for each (the default command)\n"
    "  apply      show what the profile would change (a dry run); --yes writes it, after saving\n"
    "             the current values to the state file (--apply is the same)\n"
    "  restore    show the values apply saved; --yes writes them back and removes the state file\n"
    "  profile    print the sysctl profile (tuning/sysctl.conf as built in)\n"
    "  help       this text\n"
    "\n"
    "options:\n"
    "  --json            check: one JSON object instead of the table\n"
    "  --yes             apply, restore: really write (without it nothing is touched)\n"
    "  --state FILE      apply, restore: the saved values\n"
    "                    (default /var/lib/nexure-tune/saved.conf, under --root)\n"
    "  --root DIR        read and write /proc and /sys under DIR instead of / (for tests)\n"
    "  --profile FILE    check, apply, profile: use FILE instead of the built-in profile\n"
    "\n"
    "exit status: 0 all OK (check) or done (apply, restore; a dry run too); 1 an item is WARN\n"
    "(check) or a write failed (apply, restore); 2 usage error.\n";

enum class Command : uint8_t { kCheck, kApply, kRestore, kProfile, kHelp };

struct Args {
    Command command = Command::kCheck;
    bool command_given = false;
    bool json = false;
    bool yes = false;
    std::optional<std::string> state;
    std::string root = "/";
    std::optional<std::string> profile;
};

const char* command_name(Command c) {
    switch (c) {
        case Command::kCheck:
            return "check";
        case Command::kApply:
            return "apply";
        case Command::kRestore:
            return "restore";
        case Command::kProfile:
            return "profile";
        case Command::kHelp:
            return "help";
    }
    return "?";
}

// Parses `args` into `a`; on a usage error returns its message.
std::optional<std::string> parse_args(const std::vector<std::string>& args, Args& a) {
    auto set_command = [&](Command c) -> std::optional<std::string> {
        if (a.command_given && a.command != c) {
            return std::string("more than one command: ") + command_name(a.command) + " and " +
                   command_name(c);
        }
        a.command = c;
        a.command_given = true;
        return std::nullopt;
    };
    for (size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        std::optional<std::string> inline_value;
        if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
            const size_t eq = arg.find('=');
            if (eq != std::string::npos) {
                inline_value = arg.substr(eq + 1);
                arg.resize(eq);
            }
        }
        auto value = [&](std::string* out) -> std::optional<std::string> {
            if (inline_value) {
                *out = *inline_value;
            } else if (i + 1 < args.size()) {
                *out = args[++i];
            } else {
                return arg + " needs a value";
            }
            if (out->empty()) return arg + " needs a non-empty value";
            return std::nullopt;
        };
        const bool takes_value = arg == "--state" || arg == "--root" || arg == "--profile";
        if (inline_value && !takes_value) return arg + " takes no value";
        std::optional<std::string> problem;
        std::string v;
        if (arg == "check") {
            problem = set_command(Command::kCheck);
        } else if (arg == "apply" || arg == "--apply") {
            problem = set_command(Command::kApply);
        } else if (arg == "restore") {
            problem = set_command(Command::kRestore);
        } else if (arg == "profile") {
            problem = set_command(Command::kProfile);
        } else if (arg == "help" || arg == "--help" || arg == "-h") {
            a.command = Command::kHelp;
            return std::nullopt;
        } else if (arg == "--json") {
            a.json = true;
        } else if (arg == "--yes") {
            a.yes = true;
        } else if (arg == "--state") {
            if (!(problem = value(&v))) a.state = v;
        } else if (arg == "--root") {
            if (!(problem = value(&v))) a.root = v;
        } else if (arg == "--profile") {
            if (!(problem = value(&v))) a.profile = v;
        } else {
            problem = "unknown " + std::string(arg.front() == '-' ? "option" : "command") + " '" +
                      arg + "'";
        }
        if (problem) return problem;
    }
    const bool writes = a.command == Command::kApply || a.command == Command::kRestore;
    if (a.json && a.command != Command::kCheck) {
        return std::string("--json is for check, not ") + command_name(a.command);
    }
    if (a.yes && !writes) return std::string("--yes is for apply and restore");
    if (a.state && !writes) return std::string("--state is for apply and restore");
    if (a.profile && a.command == Command::kRestore) {
        return std::string("--profile is not used by restore (it writes back the saved values)");
    }
    return std::nullopt;
}

std::string padded(std::string_view text, size_t width) {
    std::string s(text);
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

size_t path_width(const Plan& plan) {
    size_t w = 0;
    for (const Change& c : plan.changes)
        w = std::max(w, c.path.size());
    return std::min<size_t>(w, 60);
}

// One line per change: what it does, the path, the current and the new value.
std::string change_line(std::string_view verb, const Change& c, size_t width) {
    std::string line = "  " + padded(verb, 9) + padded(c.path, width) + "  ";
    const std::string current = c.current.empty() ? "''" : c.current;
    if (c.needed) {
        line += current + " -> " + (c.wanted.empty() ? "''" : c.wanted);
    } else if (!c.current.empty() || c.note.empty()) {
        line += current;
    } else {
        line.resize(line.find_last_not_of(' ') + 1);  // nothing was read: the note says why
    }
    if (!c.note.empty()) line += "  (" + c.note + ")";
    return line + "\n";
}

void print_advice(const Plan& plan, std::string& out) {
    if (plan.advice.empty()) return;
    out += "\nnot changed here:\n";
    for (const std::string& a : plan.advice) {
        out += "  - " + wrap(a, 4, 4, 100) + "\n";
    }
}

int run_apply(const RootFs& fs, const std::vector<SysctlSetting>& profile,
              const std::filesystem::path& state, bool yes, std::string& out, std::string& err) {
    const Plan plan = plan_apply(fs, profile);
    const size_t width = path_width(plan);
    const size_t needed = static_cast<size_t>(std::count_if(
        plan.changes.begin(), plan.changes.end(), [](const Change& c) { return c.needed; }));
    if (!yes) {
        out += "nexure-tune apply: dry run, nothing is written\n\n";
        for (const Change& c : plan.changes) {
            out += change_line(c.needed ? "change" : (c.note.empty() ? "keep" : "skip"), c, width);
        }
        const std::string summary =
            needed == 0 ? "0 to change: the host already matches the profile."
                        : std::to_string(needed) +
                              " to change. `nexure-tune apply --yes` (as root) writes them after "
                              "saving the current values to " +
                              state.string() + "; `nexure-tune restore --yes` puts those back.";
        out += "\n" + wrap(summary, 0, 0, 100) + "\n";
        print_advice(plan, out);
        return kExitOk;
    }
    out += "nexure-tune apply\n\n";
    if (needed == 0) {
        for (const Change& c : plan.changes) {
            out += change_line(c.note.empty() ? "keep" : "skip", c, width);
        }
        out += "\nnothing to change: the host already matches the profile.\n";
        print_advice(plan, out);
        return kExitOk;
    }
    Result<size_t> saved = save_state(state, plan.changes);
    if (!saved) {
        err += "nexure-tune: cannot save the current values (" + saved.error().message +
               "); nothing was written\n";
        return kExitWarn;
    }
    size_t failed = 0;
    for (const Change& c : plan.changes) {
        if (!c.needed) {
            out += change_line(c.note.empty() ? "keep" : "skip", c, width);
            continue;
        }
        Result<void> w = write_change(fs, c);
        if (w) {
            out += change_line("changed", c, width);
        } else {
            ++failed;
            out += change_line("FAILED", c, width);
            err += "nexure-tune: " + c.path + ": " + w.error().message + "\n";
        }
    }
    out += "\n" +
           wrap(std::to_string(needed - failed) + " of " + std::to_string(needed) +
                    " changed; previous values saved in " + state.string() +
                    " (`nexure-tune restore --yes` puts them back).",
                0, 0, 100) +
           "\n";
    print_advice(plan, out);
    return failed == 0 ? kExitOk : kExitWarn;
}

int run_restore(const RootFs& fs, const std::filesystem::path& state, bool yes, std::string& out,
                std::string& err) {
    Result<std::vector<SavedValue>> saved = read_state(state);
    if (!saved) {
        if (saved.error().code == ENOENT) {
            out +=
                "nexure-tune restore: nothing to restore (" + state.string() + " does not exist)\n";
            return kExitOk;
        }
        err += "nexure-tune: " + saved.error().message + "\n";
        return kExitWarn;
    }
    const Plan plan = plan_restore(fs, saved.value());
    const size_t width = path_width(plan);
    const size_t needed = static_cast<size_t>(std::count_if(
        plan.changes.begin(), plan.changes.end(), [](const Change& c) { return c.needed; }));
    if (!yes) {
        out += "nexure-tune restore: dry run, nothing is written; values saved in " +
               state.string() + "\n\n";
        for (const Change& c : plan.changes) {
            out += change_line(c.needed ? "restore" : "keep", c, width);
        }
        out += "\n" +
               wrap(std::to_string(needed) +
                        " to restore. `nexure-tune restore --yes` (as root) writes them "
                        "back and removes " +
                        state.string() + ".",
                    0, 0, 100) +
               "\n";
        return kExitOk;
    }
    out += "nexure-tune restore: values saved in " + state.string() + "\n\n";
    size_t failed = 0;
    for (const Change& c : plan.changes) {
        if (!c.needed) {
            out += change_line("keep", c, width);
            continue;
        }
        Result<void> w = write_change(fs, c);
        if (w) {
            out += change_line("restored", c, width);
        } else {
            ++failed;
            out += change_line("FAILED", c, width);
            err += "nexure-tune: " + c.path + ": " + w.error().message + "\n";
        }
    }
    if (failed > 0) {
        out += "\n" + std::to_string(failed) + " could not be restored; " + state.string() +
               " is kept so that restore can be run again.\n";
        return kExitWarn;
    }
    std::error_code ec;
    std::filesystem::remove(state, ec);
    if (ec) {
        err += "nexure-tune: everything is restored, but " + state.string() +
               " could not be removed: " + ec.message() + "\n";
        return kExitWarn;
    }
    out += "\n" + std::to_string(needed) + " restored; removed " + state.string() + ".\n";
    return kExitOk;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::string& out, std::string& err,
            const CliEnv& env) {
    Args a;
    if (std::optional<std::string> problem = parse_args(args, a)) {
        err += "nexure-tune: " + *problem + "\n\n";
        err += kUsage;
        return kExitUsage;
    }
    if (a.command == Command::kHelp) {
        out += kUsage;
        return kExitOk;
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(a.root, ec)) {
        err += "nexure-tune: --root " + a.root + " is not a directory\n";
        return kExitUsage;
    }
    const RootFs fs(a.root);

    std::string profile_text(builtin_profile());
    if (a.profile) {
        Result<std::string> r = read_file(*a.profile);
        if (!r) {
            err += "nexure-tune: --profile: " + r.error().message + "\n";
            return kExitUsage;
        }
        profile_text = std::move(r).value();
    }
    if (a.command == Command::kProfile) {
        out += profile_text;
        return kExitOk;
    }
    Result<std::vector<SysctlSetting>> profile = parse_profile(profile_text);
    if (!profile) {
        err += "nexure-tune: " + std::string(a.profile ? *a.profile : "built-in profile") + ": " +
               profile.error().message + "\n";
        return kExitUsage;
    }
    const std::filesystem::path state =
        a.state ? std::filesystem::path(*a.state) : default_state_file(fs);
    switch (a.command) {
        case Command::kCheck: {
            CheckOptions options{fs, std::move(profile).value(), env.io_uring_probe};
            const std::vector<Item> items = run_checks(options);
            out += a.json ? format_json(items, a.root) : format_table(items, a.root);
            return overall_status(items) == Status::kOk ? kExitOk : kExitWarn;
        }
        case Command::kApply:
            return run_apply(fs, profile.value(), state, a.yes, out, err);
        case Command::kRestore:
            return run_restore(fs, state, a.yes, out, err);
        case Command::kProfile:
        case Command::kHelp:
            break;
    }
    return kExitOk;
}

}  // namespace nexure::tuning
