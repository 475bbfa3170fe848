#include "alloc/buffer_ring.h"

#include <gtest/gtest.h>
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "tests/support/io_uring_probe.h"

namespace nexure::alloc {
namespace {

constexpr uint16_t kGroup = 7;

// A real io_uring plus a connected socketpair to receive from.
class BufferRingTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const int rc = io_uring_queue_init(16, &ring_, 0);
        if (rc < 0 && test::io_uring_absent_errno(-rc))
            GTEST_SKIP() << "io_uring is unavailable here: " << std::strerror(-rc);
        ASSERT_EQ(rc, 0) << "io_uring_queue_init: " << std::strerror(-rc);
        ring_ready_ = true;
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0)
            << std::strerror(errno);
    }
    void TearDown() override {
        buffers_.reset();  // a buffer ring must go before its io_uring
        if (ring_ready_) io_uring_queue_exit(&ring_);
        for (int fd : fds_) {
            if (fd >= 0) close(fd);
        }
    }

    // Initialises buffers_. Provided-buffer rings (Linux 5.19) are older than the 6.0 the engine
    // needs, so a kernel without them fails here as the engine would, rather than skipping.
    void init_buffers(unsigned count, unsigned size) {
        buffers_ = std::make_unique<BufferRing>();
        Result<void> r = buffers_->init(&ring_, kGroup, count, size);
        ASSERT_TRUE(r.ok()) << r.error().message;
    }

    // Submits one recv on fds_[0] that lets the kernel pick a buffer from the group, and returns
    // its completion (res, flags).
    io_uring_cqe submit_recv() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        io_uring_prep_recv(sqe, fds_[0], nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = kGroup;
        io_uring_sqe_set_data64(sqe, 42);
        EXPECT_EQ(io_uring_submit(&ring_), 1);
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{};
        ts.tv_sec = 5;
        const int rc = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
        io_uring_cqe copy{};
        if (rc < 0 || cqe == nullptr) {
            ADD_FAILURE() << "no completion for the recv: " << std::strerror(-rc);
            copy.res = -ETIME;
            return copy;
        }
        copy = *cqe;
        io_uring_cqe_seen(&ring_, cqe);
        EXPECT_EQ(copy.user_data, 42u);
        return copy;
    }

    void send_text(std::string_view text) {
        ASSERT_EQ(write(fds_[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }

    io_uring ring_{};
    bool ring_ready_ = false;
    int fds_[2] = {-1, -1};
    std::unique_ptr<BufferRing> buffers_;
};

TEST_F(BufferRingTest, InitReportsItsGeometry) {
    init_buffers(8, 1024);
    EXPECT_EQ(buffers_->count(), 8u);
    EXPECT_EQ(buffers_->buffer_size(), 1024u);
    EXPECT_EQ(buffers_->group(), kGroup);
    // Buffers are laid out one after another.
    EXPECT_EQ(buffers_->buffer(1) - buffers_->buffer(0), 1024);
    EXPECT_EQ(buffers_->buffer(7) - buffers_->buffer(0), 7 * 1024);
}

TEST_F(BufferRingTest, CountThatIsNotAPowerOfTwoIsRejectedWithAMessage) {
    BufferRing b;
    Result<void> r = b.init(&ring_, kGroup, 3, 1024);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_NE(r.error().message.find("power of two"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find('3'), std::string::npos) << r.error().message;
}

TEST_F(BufferRingTest, ZeroAndOversizedCountsAreRejected) {
    for (unsigned count : {0u, 65536u, 40000u}) {
        BufferRing b;
        Result<void> r = b.init(&ring_, kGroup, count, 1024);
        ASSERT_FALSE(r.ok()) << "count " << count;
        EXPECT_EQ(r.error().code, EINVAL);
        EXPECT_NE(r.error().message.find(std::to_string(count)), std::string::npos)
            << r.error().message;
    }
}

TEST_F(BufferRingTest, TooSmallBufferSizeIsRejectedWithAMessage) {
    BufferRing b;
    Result<void> r = b.init(&ring_, kGroup, 8, 100);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_NE(r.error().message.find("at least 512"), std::string::npos) << r.error().message;
}

TEST_F(BufferRingTest, RecvWithBufferSelectDrawsABufferHoldingTheData) {
    init_buffers(4, 4096);
    send_text("hello, ring");
    const io_uring_cqe cqe = submit_recv();
    ASSERT_EQ(cqe.res, 11) << std::strerror(-cqe.res);
    ASSERT_NE(cqe.flags & IORING_CQE_F_BUFFER, 0u);
    const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    ASSERT_LT(bid, 4u);
    EXPECT_EQ(std::string_view(buffers_->buffer(bid), 11), "hello, ring");
}

TEST_F(BufferRingTest, ExhaustingAllBuffersGivesEnobufs) {
    init_buffers(2, 512);
    for (int i = 0; i < 2; ++i) {
        send_text("x");
        const io_uring_cqe cqe = submit_recv();
        ASSERT_EQ(cqe.res, 1) << "recv " << i << ": " << std::strerror(-cqe.res);
        ASSERT_NE(cqe.flags & IORING_CQE_F_BUFFER, 0u);
    }
    send_text("y");
    const io_uring_cqe cqe = submit_recv();
    EXPECT_EQ(cqe.res, -ENOBUFS);
    EXPECT_EQ(cqe.flags & IORING_CQE_F_BUFFER, 0u);
}

TEST_F(BufferRingTest, RecycledBufferIsUsableAgainAfterPublish) {
    init_buffers(1, 512);
    send_text("first");
    io_uring_cqe cqe = submit_recv();
    ASSERT_EQ(cqe.res, 5);
    const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    EXPECT_EQ(std::string_view(buffers_->buffer(bid), 5), "first");

    // The only buffer is taken: the next receive has nowhere to go.
    send_text("second");
    cqe = submit_recv();
    ASSERT_EQ(cqe.res, -ENOBUFS);

    // Recycled but not yet published: still unavailable.
    buffers_->recycle(bid);
    cqe = submit_recv();
    ASSERT_EQ(cqe.res, -ENOBUFS);

    buffers_->publish();
    cqe = submit_recv();
    ASSERT_EQ(cqe.res, 6) << std::strerror(-cqe.res);
    const auto again = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    EXPECT_EQ(again, bid);
    EXPECT_EQ(std::string_view(buffers_->buffer(again), 6), "second");
}

TEST_F(BufferRingTest, EveryBufferCanBeDrawnOnceBeforeExhaustion) {
    init_buffers(8, 512);
    bool seen[8] = {};
    for (int i = 0; i < 8; ++i) {
        const std::string text = "msg" + std::to_string(i);
        send_text(text);
        const io_uring_cqe cqe = submit_recv();
        ASSERT_EQ(cqe.res, static_cast<int>(text.size()));
        const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
        ASSERT_LT(bid, 8u);
        EXPECT_FALSE(seen[bid]) << "buffer " << bid << " handed out twice";
        seen[bid] = true;
        EXPECT_EQ(std::string_view(buffers_->buffer(bid), text.size()), text);
    }
}

}  // namespace
}  // namespace nexure::alloc

namespace nexure::alloc {
namespace {

// Reads the THP mode ("always", "madvise" or "never") from sysfs; "" when it cannot be read.
std::string thp_mode() {
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    std::getline(in, line);
    const size_t open = line.find('[');
    const size_t close = line.find(']');
    if (open == std::string::npos || close == std::string::npos) return {};
    return line.substr(open + 1, close - open - 1);
}

// AnonHugePages (kB) of the mapping that contains `addr`, from /proc/self/smaps; -1 if not found.
long anon_huge_kb(const void* addr) {
    std::ifstream in("/proc/self/smaps");
    std::string line;
    const auto a = reinterpret_cast<uintptr_t>(addr);
    bool inside = false;
    while (std::getline(in, line)) {
        unsigned long lo = 0;
        unsigned long hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 &&
            line.find(':') > line.find(' ')) {
            inside = a >= lo && a < hi;
            continue;
        }
        long kb = 0;
        if (inside && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kb) == 1) return kb;
    }
    return -1;
}

TEST_F(BufferRingTest, PoolIsHugePageAlignedAndRoundedUp) {
    init_buffers(8, 4096);  // 32 KiB of buffers
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffers_->buffer(0)) % (2u << 20), 0u);
    EXPECT_EQ(buffers_->mapped_bytes(), size_t{2} << 20);
}

TEST_F(BufferRingTest, PoolIsBackedByATransparentHugePageWhereTheKernelAllowsIt) {
    const std::string mode = thp_mode();
    if (mode != "always" && mode != "madvise") {
        GTEST_SKIP() << "transparent huge pages are '" << mode << "' on this machine";
    }
    init_buffers(512, 4096);
    ASSERT_TRUE(buffers_->huge_pages_requested());
    const long kb = anon_huge_kb(buffers_->buffer(0));
    if (kb == 0) GTEST_SKIP() << "the kernel had no free huge page (fragmented memory)";
    EXPECT_EQ(kb, 2048) << "the 2 MiB pool should sit on one huge page";
}

}  // namespace
}  // namespace nexure::alloc
