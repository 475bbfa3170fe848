#include "tests/support/wait.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace nexure::test {

size_t descriptor_count(pid_t pid) {
    const std::string dir =
        pid == 0 ? std::string("/proc/self/fd") : "/proc/" + std::to_string(pid) + "/fd";
    std::error_code ec;
    size_t n = 0;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        ++n;
    return n;
}

long rss_kib(pid_t pid) {
    std::ifstream status(pid == 0 ? std::string("/proc/self/status")
                                  : "/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

::testing::AssertionResult wait_for_descriptors_at_most(size_t at_most, Deadline deadline,
                                                        pid_t pid, size_t* last) {
    size_t count = 0;
    const bool ok = poll_until(
        [&] {
            count = descriptor_count(pid);
            return count <= at_most;
        },
        deadline);
    if (last != nullptr) *last = count;
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << count << " descriptors open at the deadline, expected "
                                         << "at most " << at_most;
}

::testing::AssertionResult wait_until_steady(const std::function<Sample()>& sample,
                                             std::chrono::milliseconds window, Deadline deadline,
                                             Sample* settled,
                                             const std::function<bool(const Sample&)>& ready) {
    Sample last = sample();
    Clock::time_point since = Clock::now();
    for (;;) {
        std::this_thread::sleep_for(kPollInterval);  // polling, bounded by the deadline
        const Sample now = sample();
        const Clock::time_point at = Clock::now();
        if (now != last || (ready && !ready(now))) {
            last = now;
            since = at;
        } else if (at - since >= window) {
            if (settled != nullptr) *settled = now;
            return ::testing::AssertionSuccess();
        }
        if (at >= deadline) {
            ::testing::AssertionResult r = ::testing::AssertionFailure();
            r << "still changing (or not ready) at the deadline; last sample:";
            for (long long v : now)
                r << " " << v;
            return r;
        }
    }
}

}  // namespace nexure::test
