#include "engine/ring.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "tests/support/io_uring_probe.h"

namespace nexure::engine {
namespace {

RingOptions small(RingMode mode) {
    RingOptions o;
    o.sq_entries = 8;
    o.cq_entries = 16;
    o.mode = mode;
    return o;
}

bool mentions(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
}

// Skips the test when io_uring cannot be used at all here; fails on any other error.
#define INIT_OR_SKIP(ring, options)                                                         \
    do {                                                                                    \
        Result<void> r_ = (ring).init(options);                                             \
        if (!r_.ok()) {                                                                     \
            if (test::io_uring_absent_errno(r_.error().code))                               \
                GTEST_SKIP() << "io_uring unavailable: " << r_.error().message;             \
            if (r_.error().code == EINVAL && (options).mode != RingMode::kAuto)             \
                GTEST_SKIP() << "kernel lacks ring mode " << ring_mode_name((options).mode) \
                             << ": " << r_.error().message;                                 \
            FAIL() << r_.error().message;                                                   \
        }                                                                                   \
    } while (0)

// Queues a NOP and waits for its completion through Ring::submit_and_wait.
void run_nop(Ring& ring) {
    io_uring_sqe* sqe = ring.get_sqe();
    ASSERT_NE(sqe, nullptr);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 0xC0FFEE);
    const int rc = ring.submit_and_wait(2'000'000'000);
    ASSERT_GE(rc, 0) << std::strerror(-rc);
    io_uring_cqe* cqe = nullptr;
    ASSERT_EQ(io_uring_peek_cqe(ring.raw(), &cqe), 0);
    ASSERT_NE(cqe, nullptr);
    EXPECT_EQ(cqe->user_data, 0xC0FFEEu);
    EXPECT_EQ(cqe->res, 0);
    io_uring_cqe_seen(ring.raw(), cqe);
}

TEST(Ring, AutoModeInitsAndReportsTheModeInUse) {
    Ring ring;
    const RingOptions options = small(RingMode::kAuto);
    INIT_OR_SKIP(ring, options);
    EXPECT_TRUE(ring.initialized());
    EXPECT_NE(ring.mode(), RingMode::kAuto) << "auto resolves to a concrete mode";
    run_nop(ring);
}

TEST(Ring, DeferTaskrunModeRunsANop) {
    Ring ring;
    const RingOptions options = small(RingMode::kDeferTaskrun);
    INIT_OR_SKIP(ring, options);
    EXPECT_EQ(ring.mode(), RingMode::kDeferTaskrun);
    run_nop(ring);
}

TEST(Ring, CoopTaskrunFallbackModeRunsANop) {
    Ring ring;
    const RingOptions options = small(RingMode::kCoopTaskrun);
    INIT_OR_SKIP(ring, options);
    EXPECT_EQ(ring.mode(), RingMode::kCoopTaskrun);
    run_nop(ring);
}

TEST(Ring, PlainModeRunsANop) {
    Ring ring;
    const RingOptions options = small(RingMode::kPlain);
    INIT_OR_SKIP(ring, options);
    EXPECT_EQ(ring.mode(), RingMode::kPlain);
    run_nop(ring);
}

TEST(Ring, SubmitAndWaitTimesOutWhenNothingCompletes) {
    Ring ring;
    const RingOptions options = small(RingMode::kAuto);
    INIT_OR_SKIP(ring, options);
    EXPECT_EQ(ring.submit_and_wait(1'000'000), -ETIME);
}

TEST(Ring, GetSqeSubmitsWhenTheQueueIsFull) {
    Ring ring;
    const RingOptions options = small(RingMode::kAuto);
    INIT_OR_SKIP(ring, options);
    // Twice the SQ size: the second half only fits because get_sqe() flushes the first.
    for (int i = 0; i < 16; ++i) {
        io_uring_sqe* sqe = ring.get_sqe();
        ASSERT_NE(sqe, nullptr);
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(i));
    }
    ASSERT_GE(ring.submit_and_wait(2'000'000'000), 0);
    unsigned seen = 0;
    for (int attempt = 0; attempt < 100 && seen < 16; ++attempt) {
        io_uring_cqe* cqe = nullptr;
        while (io_uring_peek_cqe(ring.raw(), &cqe) == 0 && cqe != nullptr) {
            ++seen;
            io_uring_cqe_seen(ring.raw(), cqe);
        }
        if (seen < 16) (void)ring.submit_and_wait(10'000'000);
    }
    EXPECT_EQ(seen, 16u);
}

TEST(Ring, ModeNamesRoundTripThroughTheParser) {
    const std::pair<const char*, RingMode> names[] = {
        {"auto", RingMode::kAuto},
        {"defer", RingMode::kDeferTaskrun},
        {"coop", RingMode::kCoopTaskrun},
        {"plain", RingMode::kPlain},
    };
    for (const auto& [text, mode] : names) {
        RingMode parsed = RingMode::kPlain;
        EXPECT_TRUE(parse_ring_mode(text, &parsed)) << text;
        EXPECT_EQ(parsed, mode) << text;
    }
    RingMode unchanged = RingMode::kCoopTaskrun;
    EXPECT_FALSE(parse_ring_mode("fast", &unchanged));
    EXPECT_FALSE(parse_ring_mode("", &unchanged));
    EXPECT_FALSE(parse_ring_mode("AUTO", &unchanged));
    EXPECT_EQ(unchanged, RingMode::kCoopTaskrun);
    EXPECT_STREQ(ring_mode_name(RingMode::kCoopTaskrun), "coop-taskrun");
    EXPECT_STREQ(ring_mode_name(RingMode::kDeferTaskrun), "defer-taskrun");
}

int io_uring_disabled_sysctl() {
    std::ifstream in("/proc/sys/kernel/io_uring_disabled");
    int v = -1;
    if (in) in >> v;
    return v;
}

TEST(Ring, SetupErrorEpermNamesSeccompOrTheSysctl) {
    const std::string msg = describe_io_uring_setup_error(EPERM);
    EXPECT_TRUE(mentions(msg, "io_uring")) << msg;
    EXPECT_TRUE(mentions(msg, std::strerror(EPERM))) << msg;
    const int disabled = io_uring_disabled_sysctl();
    if (disabled == 1 || disabled == 2) {
        EXPECT_TRUE(mentions(msg, "io_uring_disabled")) << msg;
    } else {
        // Not disabled by the sysctl: the remaining cause of EPERM is a seccomp filter.
        EXPECT_TRUE(mentions(msg, "seccomp")) << msg;
        EXPECT_TRUE(mentions(msg, "io_uring_setup")) << msg;
    }
}

TEST(Ring, SetupErrorEaccesIsExplainedLikeEperm) {
    const std::string msg = describe_io_uring_setup_error(EACCES);
    const int disabled = io_uring_disabled_sysctl();
    EXPECT_TRUE(mentions(msg, disabled == 1 || disabled == 2 ? "io_uring_disabled" : "seccomp"))
        << msg;
}

TEST(Ring, SetupErrorEnosysSaysTheKernelLacksIoUring) {
    const std::string msg = describe_io_uring_setup_error(ENOSYS);
    EXPECT_TRUE(mentions(msg, "io_uring is not available")) << msg;
    EXPECT_TRUE(mentions(msg, "CONFIG_IO_URING")) << msg;
    EXPECT_FALSE(mentions(msg, "seccomp")) << msg;
}

TEST(Ring, SetupErrorEnomemPointsAtTheMemlockLimit) {
    const std::string msg = describe_io_uring_setup_error(ENOMEM);
    EXPECT_TRUE(mentions(msg, "RLIMIT_MEMLOCK")) << msg;
}

TEST(Ring, SetupErrorEmfilePointsAtTheDescriptorLimit) {
    EXPECT_TRUE(mentions(describe_io_uring_setup_error(EMFILE), "RLIMIT_NOFILE"));
    EXPECT_TRUE(mentions(describe_io_uring_setup_error(ENFILE), "RLIMIT_NOFILE"));
}

TEST(Ring, SetupErrorEinvalSaysTheKernelIsTooOld) {
    const std::string msg = describe_io_uring_setup_error(EINVAL);
    EXPECT_TRUE(mentions(msg, "too old")) << msg;
}

}  // namespace
}  // namespace nexure::engine
