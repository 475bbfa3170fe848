#include "tests/support/io_uring_probe.h"

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace nexure::test {

bool io_uring_absent_errno(int err) {
    return err == ENOSYS || err == EPERM || err == EACCES;
}

const std::optional<std::string>& io_uring_unavailable() {
    static const std::optional<std::string> reason = []() -> std::optional<std::string> {
        // On a thread of its own: tearing a ring down queues work to the thread that created
        // it, which interrupts that thread's next blocking call (a test's recv() returned
        // EINTR), so the test's thread must not own the probe ring.
        int err = 0;
        std::thread([&err] {
            io_uring_params params{};
            const long fd = syscall(__NR_io_uring_setup, 4, &params);
            if (fd >= 0) {
                ::close(static_cast<int>(fd));
            } else {
                err = errno;
            }
        }).join();
        if (err == 0 || !io_uring_absent_errno(err)) return std::nullopt;
        return std::string("io_uring is not available to this process (io_uring_setup: ") +
               std::strerror(err) + ")";
    }();
    return reason;
}

}  // namespace nexure::test
