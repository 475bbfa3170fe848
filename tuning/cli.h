// Cli: the nexure-tune command line as a function, so that tests run every command in-process
// against a fake root. main.cc only passes argv through and prints what comes back.
//
//   nexure-tune [check] [--json] [--root DIR] [--profile FILE]
//   nexure-tune apply   [--yes] [--state FILE] [--root DIR] [--profile FILE]   (or --apply)
//   nexure-tune restore [--yes] [--state FILE] [--root DIR]
//   nexure-tune profile [--profile FILE]
//
// Exit status: 0 everything OK (check), or done / dry run (apply, restore); 1 some item is WARN
// (check), or a write or the state file failed (apply, restore); 2 usage error.
#pragma once

#include <string>
#include <vector>

#include "tuning/checks.h"

namespace nexure::tuning {

inline constexpr int kExitOk = 0;
inline constexpr int kExitWarn = 1;  // also: a write failed
inline constexpr int kExitUsage = 2;

struct CliEnv {
    IoUringProbe io_uring_probe;  // empty: probe_io_uring
};

// Runs nexure-tune with `args` (argv without the program name). What it prints goes to `out`
// (stdout) and `err` (stderr). Returns the exit status.
int run_cli(const std::vector<std::string>& args, std::string& out, std::string& err,
            const CliEnv& env = {});

}  // namespace nexure::tuning
