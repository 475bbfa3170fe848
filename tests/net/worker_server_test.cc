// A worker's accept when the process runs out of descriptors or memory
// (net/worker_server.h): an accept that ends with EMFILE, ENFILE, ENOMEM or ENOBUFS must not
// be re-armed at once, which would spin the worker on a listen queue it cannot take from, but by a
// timer 100 ms later.
//
// Checked without a clock, as tests/fuzz/connection_fuzz.cc drives the same class: the worker's
// ring is real but never submitted, the SQEs the server queues are read back here, completions
// are made up, and the worker's timer wheel is advanced by hand.
#include "net/worker_server.h"

#include <gtest/gtest.h>
#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/worker.h"
#include "net/server.h"

namespace nexure::net {
namespace {

constexpr uint64_t kMs = 1'000'000;

class WorkerServerAccept : public ::testing::Test {
  protected:
    void SetUp() override {
        worker_ = std::make_unique<engine::Worker>(0, -1, -1);
        Result<void> r = worker_->init(engine::RingOptions{.sq_entries = 64, .cq_entries = 128});
        if (!r) {
            const int code = r.error().code;
            if (code == EPERM || code == ENOSYS || code == EACCES) {
                GTEST_SKIP() << "io_uring unavailable: " << r.error().message;
            }
            FAIL() << r.error().message;
        }
        ServerConfig& c = shared_.config;
        c.max_connections_per_worker = 4;
        c.recv_buffer_count = 8;
        c.recv_buffer_size = 512;
        c.send_buffer_count = 2;
        c.send_buffer_size = 1024;
        c.fixed_sends = false;
        // No listening socket: the accepts it queues are only read back, never submitted.
        server_ = std::make_unique<WorkerServer>(*worker_, shared_, -1);
        Result<void> init = server_->init();
        ASSERT_TRUE(init.ok()) << init.error().message;
        const std::vector<io_uring_sqe> first = take_sqes();
        ASSERT_EQ(accepts(first), 1u);
        for (const io_uring_sqe& sqe : first) {
            if (sqe.opcode == IORING_OP_ACCEPT) accept_tag_ = sqe.user_data;
        }
    }

    // The SQEs the server queued since the last call, taken off the ring.
    std::vector<io_uring_sqe> take_sqes() {
        io_uring_sq& sq = worker_->ring().raw()->sq;
        std::vector<io_uring_sqe> out;
        for (unsigned i = sq.sqe_head; i != sq.sqe_tail; ++i)
            out.push_back(sq.sqes[i & sq.ring_mask]);
        sq.sqe_tail = sq.sqe_head;
        return out;
    }
    static size_t accepts(const std::vector<io_uring_sqe>& sqes) {
        size_t n = 0;
        for (const io_uring_sqe& sqe : sqes)
            n += sqe.opcode == IORING_OP_ACCEPT ? 1 : 0;
        return n;
    }
    // The multishot accept ends with `res` (no IORING_CQE_F_MORE), and the loop turn ends.
    void end_accept(int res) {
        io_uring_cqe cqe{};
        cqe.user_data = accept_tag_;
        cqe.res = res;
        server_->on_completion(cqe);
        server_->on_turn_end();
    }

    SharedState shared_;
    std::unique_ptr<engine::Worker> worker_;  // outlives the server, whose timers are on it
    std::unique_ptr<WorkerServer> server_;
    uint64_t accept_tag_ = 0;
};

class WorkerServerAcceptFailure : public WorkerServerAccept,
                                  public ::testing::WithParamInterface<int> {};

TEST_P(WorkerServerAcceptFailure, OutOfResourcesItRetriesAHundredMillisecondsLater) {
    const uint64_t failed_at = worker_->now_ns();  // the worker's clock does not move by itself
    end_accept(-GetParam());
    EXPECT_EQ(accepts(take_sqes()), 0u) << "re-armed at once: the worker would spin";
    worker_->timers().advance(failed_at + 99 * kMs);
    server_->on_turn_end();
    EXPECT_EQ(accepts(take_sqes()), 0u) << "re-armed before 100 ms";
    worker_->timers().advance(failed_at + 101 * kMs);
    server_->on_turn_end();
    EXPECT_EQ(accepts(take_sqes()), 1u) << "not re-armed by the retry timer";
    // It fails again (still out of descriptors): the same back-off, from then.
    end_accept(-GetParam());
    EXPECT_EQ(accepts(take_sqes()), 0u);
}

std::string error_name(const ::testing::TestParamInfo<int>& error) {
    switch (error.param) {
        case EMFILE:
            return "EMFILE";
        case ENFILE:
            return "ENFILE";
        case ENOMEM:
            return "ENOMEM";
        default:
            return "ENOBUFS";
    }
}

INSTANTIATE_TEST_SUITE_P(Errors, WorkerServerAcceptFailure,
                         ::testing::Values(EMFILE, ENFILE, ENOMEM, ENOBUFS), error_name);

TEST_F(WorkerServerAccept, AnAcceptEndedByAnotherErrorIsReArmedAtOnce) {
    end_accept(-ECONNABORTED);  // that connection is gone; the next one may be fine
    EXPECT_EQ(accepts(take_sqes()), 1u);
}

TEST_F(WorkerServerAccept, AStopDuringTheBackOffCancelsTheRetry) {
    const uint64_t failed_at = worker_->now_ns();
    end_accept(-EMFILE);
    server_->on_stop_requested();
    worker_->timers().advance(failed_at + 200 * kMs);
    server_->on_turn_end();
    EXPECT_EQ(accepts(take_sqes()), 0u) << "a stopping worker accepted again";
    EXPECT_TRUE(server_->drained());
}

}  // namespace
}  // namespace nexure::net
