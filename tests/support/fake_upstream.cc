#include "tests/support/fake_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace nexure::test {

namespace {

int listen_on_loopback(uint16_t* port, int backlog) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0) {
        ::close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
    return fd;
}

}  // namespace

FakeUpstream::FakeUpstream(Script script) : script_(std::move(script)) {
    listen_fd_ = listen_on_loopback(&port_, 128);
    if (listen_fd_ < 0) std::abort();  // the loopback interface is part of every test machine
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeUpstream::~FakeUpstream() {
    stop_.store(true);
    acceptor_.join();
    {
        std::lock_guard lock(mutex_);
        for (int fd : fds_)
            ::shutdown(fd, SHUT_RDWR);  // wakes scripts blocked in a read
    }
    for (auto& t : connections_)
        t.join();
    ::close(listen_fd_);
}

void FakeUpstream::accept_loop() {
    while (!stop_.load()) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        const int n = accepted_.fetch_add(1);
        std::lock_guard lock(mutex_);
        fds_.push_back(fd);
        connections_.emplace_back([this, fd, n] {
            script_(fd, n);
            std::lock_guard inner(mutex_);
            std::erase(fds_, fd);
            ::close(fd);
        });
    }
}

std::string FakeUpstream::read_request(int fd) {
    std::string got;
    char buf[4096];
    size_t head_end = std::string::npos;
    size_t need = 0;
    for (;;) {
        if (head_end == std::string::npos) {
            head_end = got.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                head_end += 4;
                need = head_end;
                const size_t cl = got.find("Content-Length: ");
                if (cl != std::string::npos && cl < head_end)
                    need += std::strtoul(got.c_str() + cl + 16, nullptr, 10);
            }
        }
        if (head_end != std::string::npos && got.size() >= need) {
            requests_.fetch_add(1);
            return got;  // a pipelined next request is not expected by the scripts that use this
        }
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return {};
        got.append(buf, static_cast<size_t>(n));
    }
}

bool FakeUpstream::write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

void FakeUpstream::reset(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);  // the close that follows sends RST
}

uint16_t closed_port() {
    uint16_t port = 0;
    const int fd = listen_on_loopback(&port, 1);
    ::close(fd);
    return port;
}

}  // namespace nexure::test
