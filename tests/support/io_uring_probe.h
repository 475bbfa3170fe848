// Whether this process may use io_uring at all, for tests that need it. Tests skip only when the
// answer is "not here" (the kernel has no io_uring, a sysctl or a seccomp filter denies it); any
// other set-up failure (ENOMEM, EMFILE, EINVAL, ...) is a bug or a broken machine and must fail
// the test, not hide it. Any thread.
#pragma once

#include <optional>
#include <string>

namespace nexure::test {

// True for the errno values io_uring_setup gives when io_uring is not available to this process:
// ENOSYS (no kernel support), EPERM and EACCES (kernel.io_uring_disabled, seccomp).
bool io_uring_absent_errno(int err);

// Sets up (and closes) a small ring once per process. The reason to skip when io_uring is not
// available here, or nullopt when it is, or when the probe failed for another reason (the test
// then runs, and fails where its own set-up fails).
const std::optional<std::string>& io_uring_unavailable();

}  // namespace nexure::test

// Ends the current test (or SetUp) as skipped when io_uring is not available here. Use it before
// starting anything that needs a ring, in the test body or in SetUp(): a GTEST_SKIP inside a
// helper function would only return from that helper.
#define NEXURE_SKIP_WITHOUT_IO_URING()                                                  \
    do {                                                                                \
        if (const auto& why_ = ::nexure::test::io_uring_unavailable(); why_.has_value()) \
            GTEST_SKIP() << *why_;                                                      \
    } while (0)
