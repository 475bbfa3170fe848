#include "engine/ring.h"

#include <cstdio>
#include <cstring>
#include <fstream>

namespace nexure::engine {

const char* ring_mode_name(RingMode mode) noexcept {
    switch (mode) {
        case RingMode::kAuto:
            return "auto";
        case RingMode::kDeferTaskrun:
            return "defer-taskrun";
        case RingMode::kCoopTaskrun:
            return "coop-taskrun";
        case RingMode::kPlain:
            return "plain";
    }
    return "?";
}

bool parse_ring_mode(const std::string& text, RingMode* out) noexcept {
    if (text == "auto")
        *out = RingMode::kAuto;
    else if (text == "defer")
        *out = RingMode::kDeferTaskrun;
    else if (text == "coop")
        *out = RingMode::kCoopTaskrun;
    else if (text == "plain")
        *out = RingMode::kPlain;
    else
        return false;
    return true;
}

namespace {

unsigned flags_for(RingMode mode) {
    const unsigned common = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    switch (mode) {
        case RingMode::kDeferTaskrun:
            return common | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        case RingMode::kCoopTaskrun:
            return common | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
        case RingMode::kPlain:
        case RingMode::kAuto:
            return common;
    }
    return common;
}

int try_init(io_uring* ring, const RingOptions& options, RingMode mode) {
    io_uring_params params{};
    params.flags = flags_for(mode);
    params.cq_entries = options.cq_entries;
    return io_uring_queue_init_params(options.sq_entries, ring, &params);
}

int read_io_uring_disabled() {
    std::ifstream in("/proc/sys/kernel/io_uring_disabled");
    int value = -1;
    if (in) in >> value;
    return value;
}

}  // namespace

std::string describe_io_uring_setup_error(int err) {
    std::string msg = "io_uring is not available: io_uring_setup failed with ";
    msg += std::strerror(err);
    msg += ". ";
    const int disabled = read_io_uring_disabled();
    if (err == ENOSYS) {
        msg +=
            "This kernel has no io_uring support (CONFIG_IO_URING is off, or the kernel is "
            "older than 5.19). NexureJS needs Linux 6.0 or newer with io_uring enabled.";
    } else if (err == EPERM || err == EACCES) {
        if (disabled == 2) {
            msg +=
                "The sysctl kernel.io_uring_disabled is 2, which disables io_uring for every "
                "process. Fix: `sysctl -w kernel.io_uring_disabled=0` (as root).";
        } else if (disabled == 1) {
            msg +=
                "The sysctl kernel.io_uring_disabled is 1: only root and members of the group "
                "in kernel.io_uring_group may use io_uring. Fix: run as a member of that group, "
                "or `sysctl -w kernel.io_uring_disabled=0`.";
        } else {
            msg +=
                "A seccomp filter blocks the io_uring syscalls (Docker's and containerd's "
                "default profiles do). Fix: run with a seccomp profile that allows "
                "io_uring_setup, io_uring_enter and io_uring_register (for Docker: "
                "--security-opt seccomp=<profile> with those syscalls allowed).";
        }
    } else if (err == ENOMEM) {
        msg +=
            "The kernel could not allocate the ring: RLIMIT_MEMLOCK may be too low for a "
            "non-root user. Fix: raise it (`ulimit -l unlimited`, or LimitMEMLOCK= in systemd) "
            "or use fewer threads.";
    } else if (err == EMFILE || err == ENFILE) {
        msg += "The process is out of file descriptors. Fix: raise RLIMIT_NOFILE (`ulimit -n`).";
    } else if (err == EINVAL) {
        msg +=
            "The kernel rejected every ring configuration tried; it is too old for NexureJS "
            "(Linux 6.0 or newer is needed).";
    }
    return msg;
}

Ring::~Ring() {
    close();
}

void Ring::close() noexcept {
    if (initialized_) io_uring_queue_exit(&ring_);
    initialized_ = false;
}

Result<void> Ring::init(const RingOptions& options) {
    NEXURE_CHECK(!initialized_);
    int rc = 0;
    RingMode used = options.mode;
    if (options.mode == RingMode::kAuto) {
        // Newest first; EINVAL means "this kernel does not know a flag", anything else is final.
        const RingMode order[] = {RingMode::kDeferTaskrun, RingMode::kCoopTaskrun,
                                  RingMode::kPlain};
        for (RingMode m : order) {
            used = m;
            rc = try_init(&ring_, options, m);
            if (rc != -EINVAL) break;
        }
    } else {
        rc = try_init(&ring_, options, options.mode);
    }
    if (rc < 0) {
        if (rc == -EINVAL && options.mode != RingMode::kAuto) {
            return Error{EINVAL, std::string("this kernel does not support io_uring ring mode '") +
                                     ring_mode_name(options.mode) + "'; use --ring-mode auto"};
        }
        return Error{-rc, describe_io_uring_setup_error(-rc)};
    }
    initialized_ = true;
    mode_ = used;
    // Saves a file-table lookup on every io_uring_enter; optional, so failure is fine.
    (void)io_uring_register_ring_fd(&ring_);
    return {};
}

io_uring_sqe* Ring::get_sqe_slow() noexcept {
    io_uring_submit(&ring_);
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    NEXURE_CHECK(sqe != nullptr);
    return sqe;
}

int Ring::submit_and_wait(int64_t timeout_ns) noexcept {
    if (timeout_ns < 0) return io_uring_submit_and_wait(&ring_, 1);
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    io_uring_cqe* cqe = nullptr;
    return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

}  // namespace nexure::engine
