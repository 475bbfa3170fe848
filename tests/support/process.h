// Process: runs a child program (fork + exec) with its stdout and stderr captured, for tests that
// drive the nexure-server binary. Every wait takes a deadline. A child still running when the
// Process is destroyed is killed (SIGKILL) and reaped. One thread per Process.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/http_client.h"

namespace nexure::test {

struct ExitStatus {
    bool exited = false;  // ended with exit(); `code` is valid
    int code = -1;
    bool signaled = false;  // killed by a signal; `signal` is valid
    int signal = 0;
    bool timed_out = false;  // still running at the deadline
};
std::ostream& operator<<(std::ostream& os, const ExitStatus& s);

// Sets an environment variable for the children started while it lives (they inherit this
// process's environment), and puts back what was there.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const std::string& value);
    ~ScopedEnv();
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    std::string name_;
    std::optional<std::string> old_;
};

// For a child whose memory a test bounds: under AddressSanitizer, freed memory is held in a
// quarantine (256 MiB by default) that would count as growth; the child gets none.
#if defined(__SANITIZE_ADDRESS__)
#define NEXURE_NO_ASAN_QUARANTINE_FOR_CHILDREN() \
    ::nexure::test::ScopedEnv no_quarantine_("ASAN_OPTIONS", "quarantine_size_mb=0")
#else
#define NEXURE_NO_ASAN_QUARANTINE_FOR_CHILDREN() (void)0
#endif

class Process {
  public:
    Process() = default;
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    // Starts `argv[0]` with `argv`. `in_child` (optional) runs in the child after fork and before
    // exec; it must only make async-signal-safe calls (prctl, setrlimit, ...).
    ::testing::AssertionResult start(const std::vector<std::string>& argv,
                                     std::function<void()> in_child = {});

    pid_t pid() const { return pid_; }
    bool running() const { return pid_ > 0 && !status_; }

    // Reads stdout until a line containing `needle` arrives; returns that line (without the
    // newline), or nullopt if the child closed stdout or the deadline passed first.
    std::optional<std::string> wait_for_line(std::string_view needle, Deadline deadline);
    // Waits for "listening on http://HOST:PORT" and returns PORT (0 if it never came).
    uint16_t wait_for_listening_port(Deadline deadline = deadline_in(kIoTimeout));

    // Sends `sig` to the child. False if it has already been reaped.
    bool kill(int sig);

    // Waits for the child to end (draining its output meanwhile).
    ExitStatus wait(Deadline deadline);

    // Everything captured so far (reads what is available without blocking).
    const std::string& stdout_text();
    const std::string& stderr_text();

  private:
    // Moves available bytes from the pipes into the buffers; waits up to `deadline` for at least
    // one event (output or exit) when `block`.
    void pump(Deadline deadline, bool block);
    void reap(int wstatus);

    pid_t pid_ = -1;
    int pidfd_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::string out_;
    std::string err_;
    size_t out_scanned_ = 0;  // stdout bytes already searched by wait_for_line
    std::optional<ExitStatus> status_;
};

}  // namespace nexure::test
