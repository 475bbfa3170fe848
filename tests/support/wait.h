// Waiting in tests without sleeping for a guessed time (STYLE.md): poll a condition until it holds
// or a deadline passes, and the observations such conditions are made of — the descriptors a
// process has open (an in-process server's sockets are among this process's), and a set of
// counters that has stopped changing. Any thread.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"

namespace nexure::test {

// How often the helpers here look again.
inline constexpr std::chrono::milliseconds kPollInterval{1};

// Calls `done` until it returns true or `deadline` passes (it is called once more at the
// deadline); returns its last answer.
template <typename Done>
bool poll_until(Done&& done, Deadline deadline) {
    for (;;) {
        if (done()) return true;
        if (Clock::now() >= deadline) return done();
        std::this_thread::sleep_for(kPollInterval);  // polling, bounded by the deadline
    }
}

// Open descriptors of process `pid` (0: this process), from /proc/<pid>/fd; 0 if unreadable.
// Counting this process's own includes the directory being read, the same in every call.
size_t descriptor_count(pid_t pid = 0);

// The resident set of process `pid` (0: this process) in KiB, VmRSS of /proc/<pid>/status; -1 if
// unreadable.
long rss_kib(pid_t pid = 0);

// Polls until `pid`'s descriptor count (0: this process) is at most `at_most`. The count seen
// last is stored in `last` (when given) either way.
::testing::AssertionResult wait_for_descriptors_at_most(size_t at_most, Deadline deadline,
                                                        pid_t pid = 0, size_t* last = nullptr);

// Samples `sample` until it has returned the same values for a whole `window` while `ready`
// (optional) held for them, or `deadline` passes. On success `settled` (when given) holds those
// values. Use it to show that something has stopped, e.g. a server that no longer reads: pick
// values that must change while it is still working.
using Sample = std::vector<long long>;
::testing::AssertionResult wait_until_steady(const std::function<Sample()>& sample,
                                             std::chrono::milliseconds window, Deadline deadline,
                                             Sample* settled = nullptr,
                                             const std::function<bool(const Sample&)>& ready = {});

}  // namespace nexure::test
