// nexure-tune: checks a host for NexureJS (io_uring, limits, sysctls, CPU governor, huge pages,
// NIC IRQs and RPS, CPU mitigations), applies the sysctl profile and restores what it changed.
// `nexure-tune help` and tuning/README.md describe the commands; tuning/cli.cc implements them.
#include <cstdio>
#include <string>
#include <vector>

#include "tuning/cli.h"

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    std::string out;
    std::string err;
    const int status = nexure::tuning::run_cli(args, out, err);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    std::fwrite(err.data(), 1, err.size(), stderr);
    return status;
}
