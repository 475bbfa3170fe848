#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ostream>

namespace nexure::test {

namespace {

int ms_until(Deadline deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 60'000));
}

// Reads everything available from a non-blocking fd; closes it (and sets it to -1) at EOF.
void drain(int* fd, std::string* into) {
    if (*fd < 0) return;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(*fd, buf, sizeof(buf));
        if (n > 0) {
            into->append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        ::close(*fd);
        *fd = -1;
        return;
    }
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const ExitStatus& s) {
    if (s.timed_out) return os << "still running at the deadline";
    if (s.exited) return os << "exit code " << s.code;
    if (s.signaled)
        return os << "killed by signal " << s.signal << " (" << strsignal(s.signal) << ")";
    return os << "unknown";
}

Process::~Process() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        int wstatus = 0;
        while (waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
        }
    }
    for (int fd : {pidfd_, out_fd_, err_fd_}) {
        if (fd >= 0) ::close(fd);
    }
}

::testing::AssertionResult Process::start(const std::vector<std::string>& argv,
                                          std::function<void()> in_child) {
    if (pid_ > 0) return ::testing::AssertionFailure() << "Process::start called twice";
    if (argv.empty()) return ::testing::AssertionFailure() << "empty argv";
    int out[2];
    int err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return ::testing::AssertionFailure() << "pipe2: " << std::strerror(errno);
    if (pipe2(err, O_CLOEXEC) != 0) {
        ::close(out[0]);
        ::close(out[1]);
        return ::testing::AssertionFailure() << "pipe2: " << std::strerror(errno);
    }
    // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const pid_t pid = fork();
    if (pid < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGPIPE, SIG_DFL);
        if (in_child) in_child();
        execv(args[0], args.data());
        const char msg[] = "exec failed\n";
        (void)!::write(2, msg, sizeof(msg) - 1);
        _exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    pid_ = pid;
    out_fd_ = out[0];
    err_fd_ = err[0];
    fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
    fcntl(err_fd_, F_SETFL, fcntl(err_fd_, F_GETFL) | O_NONBLOCK);
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // -1 on old kernels: we poll then
    return ::testing::AssertionSuccess();
}

void Process::reap(int wstatus) {
    ExitStatus s;
    if (WIFEXITED(wstatus)) {
        s.exited = true;
        s.code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
        s.signaled = true;
        s.signal = WTERMSIG(wstatus);
    }
    status_ = s;
}

void Process::pump(Deadline deadline, bool block) {
    pollfd fds[3];
    nfds_t n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (pidfd_ >= 0 && running()) fds[n++] = {pidfd_, POLLIN, 0};
    int timeout = block ? ms_until(deadline) : 0;
    // Without a pidfd the exit is noticed by polling waitpid, every few milliseconds.
    if (pidfd_ < 0 && running()) timeout = std::min(timeout, 5);
    if (n > 0) {
        (void)::poll(fds, n, timeout);
    }
    drain(&out_fd_, &out_);
    drain(&err_fd_, &err_);
    if (running()) {
        int wstatus = 0;
        const pid_t r = waitpid(pid_, &wstatus, WNOHANG);
        if (r == pid_) reap(wstatus);
    }
}

std::optional<std::string> Process::wait_for_line(std::string_view needle, Deadline deadline) {
    for (;;) {
        for (;;) {
            const size_t eol = out_.find('\n', out_scanned_);
            if (eol == std::string::npos) break;
            std::string line = out_.substr(out_scanned_, eol - out_scanned_);
            out_scanned_ = eol + 1;
            if (line.find(needle) != std::string::npos) return line;
        }
        if (out_fd_ < 0 || Clock::now() >= deadline) return std::nullopt;
        pump(deadline, true);
    }
}

uint16_t Process::wait_for_listening_port(Deadline deadline) {
    const std::optional<std::string> line = wait_for_line("listening on http://", deadline);
    if (!line) return 0;
    // "... listening on http://127.0.0.1:PORT (...)": the port follows the last ':' of the URL.
    const size_t url = line->find("http://");
    const size_t space = line->find(' ', url);
    const std::string_view address = std::string_view(*line).substr(
        url, space == std::string::npos ? std::string::npos : space - url);
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return 0;
    unsigned port = 0;
    const std::string_view digits = address.substr(colon + 1);
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc{} || port == 0 || port > 65535) return 0;
    return static_cast<uint16_t>(port);
}

bool Process::kill(int sig) {
    if (!running()) return false;
    return ::kill(pid_, sig) == 0;
}

ExitStatus Process::wait(Deadline deadline) {
    while (running() && Clock::now() < deadline)
        pump(deadline, true);
    if (running()) pump(deadline, false);
    if (running()) {
        ExitStatus s;
        s.timed_out = true;
        return s;
    }
    // The child is gone: collect the rest of its output (bounded, in case a grandchild holds it).
    const Deadline tail = std::min(deadline, Clock::now() + std::chrono::milliseconds(1000));
    while ((out_fd_ >= 0 || err_fd_ >= 0) && Clock::now() < tail)
        pump(tail, true);
    return *status_;
}

const std::string& Process::stdout_text() {
    pump(Clock::now(), false);
    return out_;
}

const std::string& Process::stderr_text() {
    pump(Clock::now(), false);
    return err_;
}

ScopedEnv::ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
    if (old_) {
        ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
        ::unsetenv(name_.c_str());
    }
}

}  // namespace nexure::test
