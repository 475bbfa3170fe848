#include "alloc/send_buffers.h"

#include <gtest/gtest.h>
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "alloc/numa.h"
#include "tests/alloc/numa_checks.h"
#include "tests/support/io_uring_probe.h"

namespace nexure::alloc {
namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;

// A real io_uring and a connected socket pair. buffers_ is destroyed first: send buffers must go
// before the ring they are registered with.
class SendBuffersTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const int rc = io_uring_queue_init(64, &ring_, 0);
        if (rc < 0 && test::io_uring_absent_errno(-rc))
            GTEST_SKIP() << "io_uring is unavailable here: " << std::strerror(-rc);
        ASSERT_EQ(rc, 0) << "io_uring_queue_init: " << std::strerror(-rc);
        ring_ready_ = true;
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0)
            << std::strerror(errno);
        buffers_ = std::make_unique<SendBuffers>();
    }
    void TearDown() override {
        buffers_.reset();
        if (ring_ready_) io_uring_queue_exit(&ring_);
        for (int fd : fds_) {
            if (fd >= 0) close(fd);
        }
    }

    void init(const SendBuffers::Options& options) {
        Result<void> r = buffers_->init(&ring_, options);
        ASSERT_TRUE(r.ok()) << r.error().message;
    }

    // Sends `len` bytes at `data` on fds_[0] through prep_send() and returns the completion's res.
    int send_through_ring(const char* data, size_t len, uint16_t* ioprio = nullptr) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        EXPECT_NE(sqe, nullptr);
        if (sqe == nullptr) return -EBUSY;
        buffers_->prep_send(sqe, fds_[0], data, len, MSG_NOSIGNAL);
        if (ioprio != nullptr) *ioprio = sqe->ioprio;
        io_uring_sqe_set_data64(sqe, 7);
        EXPECT_EQ(io_uring_submit(&ring_), 1);
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{};
        ts.tv_sec = 5;
        const int rc = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
        EXPECT_EQ(rc, 0) << std::strerror(-rc);
        if (rc != 0) return rc;
        EXPECT_EQ(cqe->user_data, 7u);
        const int res = cqe->res;
        io_uring_cqe_seen(&ring_, cqe);
        return res;
    }

    // Reads exactly `len` bytes from fds_[1], polling with a deadline.
    std::string receive(size_t len) {
        std::string out;
        while (out.size() < len) {
            pollfd pfd{fds_[1], POLLIN, 0};
            if (poll(&pfd, 1, 5000) != 1) break;
            char buf[4096];
            const ssize_t n = read(fds_[1], buf, std::min(sizeof(buf), len - out.size()));
            if (n <= 0) break;
            out.append(buf, static_cast<size_t>(n));
        }
        return out;
    }

    io_uring ring_{};
    bool ring_ready_ = false;
    int fds_[2] = {-1, -1};
    std::unique_ptr<SendBuffers> buffers_;
};

TEST_F(SendBuffersTest, HandsOutEverySlabOnceThenReportsExhaustion) {
    init(SendBuffers::Options{.count = 16, .size = 4096});
    EXPECT_EQ(buffers_->count(), 16u);
    EXPECT_EQ(buffers_->slab_size(), 4096u);
    EXPECT_EQ(buffers_->in_use(), 0u);
    const Mapping& memory = buffers_->memory();
    ASSERT_TRUE(static_cast<bool>(memory));

    std::set<uint32_t> ids;
    std::vector<char*> slabs;
    for (unsigned i = 0; i < 16; ++i) {
        const uint32_t id = buffers_->acquire();
        ASSERT_NE(id, SendBuffers::kNone) << "acquire " << i;
        EXPECT_LT(id, 16u);
        EXPECT_TRUE(ids.insert(id).second) << "slab " << id << " handed out twice";
        char* s = buffers_->slab(id);
        EXPECT_TRUE(buffers_->contains(s));
        EXPECT_TRUE(buffers_->contains(s + 4095));
        EXPECT_GE(s, memory.data());
        EXPECT_LE(s + 4096, memory.data() + memory.size());
        std::memset(s, static_cast<int>(id), 4096);  // writable to the end
        slabs.push_back(s);
    }
    EXPECT_EQ(buffers_->in_use(), 16u);
    EXPECT_EQ(buffers_->exhausted(), 0u);
    std::sort(slabs.begin(), slabs.end());
    for (size_t i = 1; i < slabs.size(); ++i)
        EXPECT_EQ(slabs[i] - slabs[i - 1], 4096) << i;  // slab_size apart, no gaps, no overlap
    EXPECT_FALSE(buffers_->contains(slabs.back() + 4096));

    EXPECT_EQ(buffers_->acquire(), SendBuffers::kNone);
    EXPECT_EQ(buffers_->exhausted(), 1u);
    EXPECT_EQ(buffers_->acquire(), SendBuffers::kNone);
    EXPECT_EQ(buffers_->exhausted(), 2u);
    EXPECT_EQ(buffers_->in_use(), 16u);
}

TEST_F(SendBuffersTest, AReleasedSlabIsAcquiredAgain) {
    init(SendBuffers::Options{.count = 4, .size = 1024});
    std::vector<uint32_t> held;
    for (int i = 0; i < 4; ++i)
        held.push_back(buffers_->acquire());
    ASSERT_EQ(buffers_->acquire(), SendBuffers::kNone);
    buffers_->release(held[2]);
    EXPECT_EQ(buffers_->in_use(), 3u);
    EXPECT_EQ(buffers_->acquire(), held[2]);
    EXPECT_EQ(buffers_->in_use(), 4u);
    EXPECT_EQ(buffers_->exhausted(), 1u);  // the successful acquire did not count
    for (uint32_t id : held)
        buffers_->release(id);
    EXPECT_EQ(buffers_->in_use(), 0u);
}

TEST_F(SendBuffersTest, SlabsLiveInOne2MiBAlignedHugePageMapping) {
    init(SendBuffers::Options{.count = 8, .size = 16 * 1024});
    const Mapping& memory = buffers_->memory();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(memory.data()) % kHugePage, 0u);
    EXPECT_EQ(memory.size() % kHugePage, 0u);
    EXPECT_GE(memory.size(), 8u * 16 * 1024);
}

TEST_F(SendBuffersTest, ModeIsFixedExactlyWhenTheKernelProbeSaysSo) {
    std::string why;
    const bool supported = SendBuffers::kernel_supports_fixed_send(&why);
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(SendBuffers::kernel_supports_fixed_send(), supported);  // probed once, stable
    init(SendBuffers::Options{.count = 8, .size = 4096, .allow_fixed = true});
    const std::string& note = buffers_->mode_note();
    RecordProperty("mode_note", note);
    EXPECT_FALSE(note.empty());
    if (!supported) {
        EXPECT_EQ(buffers_->mode(), SendBuffers::Mode::kPlain) << note;
        EXPECT_NE(note.find(why), std::string::npos) << note;
    } else if (buffers_->mode() == SendBuffers::Mode::kPlain) {
        // Supported but the registration was refused (RLIMIT_MEMLOCK): the note must say so.
        EXPECT_NE(note.find("RLIMIT_MEMLOCK"), std::string::npos) << note;
    } else {
        EXPECT_EQ(buffers_->mode(), SendBuffers::Mode::kFixed);
        EXPECT_NE(note.find("fixed"), std::string::npos) << note;
    }
}

TEST_F(SendBuffersTest, DisallowingFixedSendsGivesPlainModeWithAConfigurationNote) {
    init(SendBuffers::Options{.count = 8, .size = 4096, .allow_fixed = false});
    EXPECT_EQ(buffers_->mode(), SendBuffers::Mode::kPlain);
    EXPECT_NE(buffers_->mode_note().find("configuration"), std::string::npos)
        << buffers_->mode_note();
}

TEST_F(SendBuffersTest, InvalidOptionsFailWithEinvalAndAMessage) {
    struct Case {
        unsigned count;
        unsigned size;
        const char* mentions;
    };
    const Case cases[] = {
        {0, 4096, "count"}, {65537, 4096, "count"}, {8, 100, "100"},
        {8, 1000, "1000"},  {8, 1024 + 32, "1056"}, {8, 32u * 1024 * 1024, "size"},
    };
    for (const Case& c : cases) {
        SendBuffers b;
        Result<void> r = b.init(&ring_, SendBuffers::Options{.count = c.count, .size = c.size});
        ASSERT_FALSE(r.ok()) << c.count << " x " << c.size;
        EXPECT_EQ(r.error().code, EINVAL) << c.count << " x " << c.size;
        EXPECT_NE(r.error().message.find(c.mentions), std::string::npos) << r.error().message;
        EXPECT_FALSE(static_cast<bool>(b.memory()));  // nothing mapped
    }
    // A failed init leaves the object usable for a valid one.
    Result<void> bad = buffers_->init(&ring_, SendBuffers::Options{.count = 0});
    ASSERT_FALSE(bad.ok());
    init(SendBuffers::Options{.count = 2, .size = 1024});
    EXPECT_EQ(buffers_->count(), 2u);
}

TEST_F(SendBuffersTest, ASendFromASlabDeliversItsBytesInTheActiveMode) {
    init(SendBuffers::Options{.count = 4, .size = 4096});
    const uint32_t id = buffers_->acquire();
    ASSERT_NE(id, SendBuffers::kNone);
    char* slab = buffers_->slab(id);
    std::string payload;
    for (int i = 0; i < 3000; ++i)
        payload.push_back(static_cast<char>('A' + i % 26));
    std::memcpy(slab, payload.data(), payload.size());

    uint16_t ioprio = 0;
    const int res = send_through_ring(slab, payload.size(), &ioprio);
    EXPECT_EQ(res, static_cast<int>(payload.size())) << (res < 0 ? std::strerror(-res) : "");
    EXPECT_EQ(receive(payload.size()), payload);
    // The fixed-buffer flag is set exactly in fixed mode.
    const bool fixed = (ioprio & IORING_RECVSEND_FIXED_BUF) != 0;
    EXPECT_EQ(fixed, buffers_->mode() == SendBuffers::Mode::kFixed) << buffers_->mode_note();
    buffers_->release(id);
}

TEST_F(SendBuffersTest, ASendFromHeapMemoryIsAlwaysPlain) {
    init(SendBuffers::Options{.count = 1, .size = 1024});
    const std::string heap = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    uint16_t ioprio = 0xffff;
    const int res = send_through_ring(heap.data(), heap.size(), &ioprio);
    EXPECT_EQ(res, static_cast<int>(heap.size())) << (res < 0 ? std::strerror(-res) : "");
    EXPECT_EQ(receive(heap.size()), heap);
    EXPECT_EQ(ioprio & IORING_RECVSEND_FIXED_BUF, 0);
}

// What the kernel recorded, not what the mapping says it asked for: the slabs' memory policy
// prefers the node (any NUMA machine), and on a machine with another node their pages are there.
TEST_F(SendBuffersTest, SlabsCarryThePolicyOfTheRequestedNode) {
    const int node = numa_checks::current_node();
    init(SendBuffers::Options{.count = 4, .size = 4096, .node = node});
    if (!numa_supported()) GTEST_SKIP() << "no NUMA support: mappings are not bound";
    const Mapping& m = buffers_->memory();
    for (const char* page : {m.data(), m.data() + m.size() - numa_checks::page_bytes()}) {
        const numa_checks::Policy p = numa_checks::policy_at(page);
        EXPECT_EQ(p.mode, MPOL_PREFERRED);
        EXPECT_EQ(p.node, node);
    }
}

TEST_F(SendBuffersTest, SlabsAreOnTheRequestedNode) {
    NEXURE_PLACEMENT_TARGET_OR_SKIP(node);
    init(SendBuffers::Options{.count = 4, .size = 4096, .node = node});
    const Mapping& m = buffers_->memory();
    NEXURE_SKIP_UNLESS_PLACEMENT_OBSERVABLE(m.data());
    numa_checks::expect_pages_on_node(m.data(), m.size(), node);
}

}  // namespace
}  // namespace nexure::alloc
