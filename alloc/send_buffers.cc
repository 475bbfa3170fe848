#include "alloc/send_buffers.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace nexure::alloc {

namespace {

struct ProbeResult {
    bool supported = false;
    std::string why;
};

// One fixed-buffer send of 4 bytes over a socket pair, on a ring of its own.
ProbeResult probe_fixed_send() {
    ProbeResult out;
    io_uring ring{};
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc < 0) {
        out.why = std::string("probe ring: ") + std::strerror(-rc);
        return out;
    }
    int fds[2] = {-1, -1};
    alignas(64) char payload[64] = {};
    std::memcpy(payload, "ping", 4);
    iovec iov{payload, sizeof(payload)};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        out.why = std::string("probe socketpair: ") + std::strerror(errno);
    } else if ((rc = io_uring_register_buffers(&ring, &iov, 1)) < 0) {
        out.why = std::string("registering a buffer: ") + std::strerror(-rc);
    } else {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_send(sqe, fds[0], payload, 4, MSG_NOSIGNAL);
        sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
        sqe->buf_index = 0;
        io_uring_cqe* cqe = nullptr;
        rc = io_uring_submit_and_wait(&ring, 1);
        if (rc >= 0) rc = io_uring_peek_cqe(&ring, &cqe);
        if (rc < 0 || cqe == nullptr) {
            out.why = std::string("probe submit: ") + std::strerror(rc < 0 ? -rc : EIO);
        } else if (cqe->res == 4) {
            out.supported = true;
            out.why = "the kernel accepts registered buffers for sends";
        } else {
            out.why = std::string("the kernel rejects registered buffers for ordinary sends (") +
                      std::strerror(cqe->res < 0 ? -cqe->res : EIO) + ")";
        }
        io_uring_unregister_buffers(&ring);
    }
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    io_uring_queue_exit(&ring);
    return out;
}

}  // namespace

bool SendBuffers::kernel_supports_fixed_send(std::string* why) {
    static const ProbeResult result = probe_fixed_send();
    if (why != nullptr) *why = result.why;
    return result.supported;
}

SendBuffers::~SendBuffers() {
    if (registered_) io_uring_unregister_buffers(ring_);
}

Result<void> SendBuffers::init(io_uring* ring, const Options& options) {
    NEXURE_CHECK(ring_ == nullptr);
    if (options.count == 0 || options.count > kNone) {
        return Error{EINVAL, "send buffer count must be between 1 and 65535, got " +
                                 std::to_string(options.count)};
    }
    if (options.size < 1024 || options.size % 64 != 0 || options.size > 16u * 1024 * 1024) {
        return Error{EINVAL,
                     "send buffer size must be a multiple of 64 between 1 KiB and 16 MiB, got " +
                         std::to_string(options.size)};
    }
    ring_ = ring;
    count_ = options.count;
    size_ = options.size;
    const size_t bytes = static_cast<size_t>(count_) * size_;
    Result<Mapping> m =
        Mapping::map(bytes, MapOptions{.node = options.node, .huge_pages = true, .prefault = true});
    if (!m) return Error{m.error().code, "send buffers: " + m.error().message};
    memory_ = std::move(m).value();
    free_.reserve(count_);
    for (unsigned i = count_; i > 0; --i)
        free_.push_back(static_cast<uint16_t>(i - 1));  // slab 0 first

    std::string why;
    if (!options.allow_fixed) {
        note_ = "plain sends: fixed-buffer sends disabled by configuration";
    } else if (!kernel_supports_fixed_send(&why)) {
        note_ = "plain sends: " + why;
    } else {
        iovec iov{memory_.data(), memory_.size()};
        const int rc = io_uring_register_buffers(ring, &iov, 1);
        if (rc < 0) {
            note_ = std::string("plain sends: registering ") + std::to_string(memory_.size()) +
                    " bytes of send buffers failed (" + std::strerror(-rc) +
                    "; raise RLIMIT_MEMLOCK, see tuning/README.md)";
        } else {
            registered_ = true;
            mode_ = Mode::kFixed;
            note_ = "fixed-buffer sends: " + why;
        }
    }
    return {};
}

}  // namespace nexure::alloc
