// nexload-canned: a reply-only HTTP/1.1 server for measuring load generators, not servers.
//
// To compare two load generators (scripts/bench-nexload.sh) the server must never be the limit,
// or both would measure the server. This one does the least a server can: one thread, one
// io_uring, multishot accept and multishot receive into provided buffers, and for every request
// end ("\r\n\r\n") it has received, one canned TechEmpower-plaintext-like response, all of a read's
// responses in one send. It does not parse requests (bodies are not supported: GET only) and its
// Date header is fixed; it is a measuring instrument like BENCHMARKING.md's "minimal epoll loop",
// not an HTTP server.
//
//   nexload-canned [--port N] [--host 127.0.0.1]     prints "listening on http://HOST:PORT"
//
// Stops on SIGINT or SIGTERM.
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "alloc/buffer_ring.h"
#include "engine/op_tag.h"
#include "engine/ring.h"

namespace {

using nexure::engine::OpTag;

constexpr uint8_t kOpAccept = static_cast<uint8_t>(nexure::engine::Op::kFirstUserOp);
constexpr uint8_t kOpRecv = kOpAccept + 1;
constexpr uint8_t kOpSend = kOpAccept + 2;
constexpr unsigned kMaxConnections = 65536;
constexpr unsigned kCannedCopies = 64;  // responses one send can carry from the canned buffer

constexpr char kResponse[] =
    "HTTP/1.1 200 OK\r\nServer: nexload-canned\r\nDate: Sat, 21 Nov 2026 00:00:00 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr size_t kResponseLen = sizeof kResponse - 1;

std::atomic<bool> g_stop{false};

struct Conn {
    int fd = -1;
    uint32_t gen = 0;
    uint32_t matched = 0;   // bytes of "\r\n\r\n" matched at the end of the last read
    uint64_t owed = 0;      // responses counted but not yet sent
    size_t in_flight = 0;   // bytes of the canned buffer being sent (0: no send in flight)
    size_t sent = 0;        //   and written so far
};

// Counts request ends in [p, p + n), carrying a partial "\r\n\r\n" match across reads.
uint64_t count_ends(const char* p, size_t n, uint32_t* matched) {
    static constexpr char kEnd[] = "\r\n\r\n";
    uint64_t ends = 0;
    uint32_t m = *matched;
    for (size_t i = 0; i < n; ++i) {
        if (m == 0) {  // skip quickly to the next CR
            const void* cr = std::memchr(p + i, '\r', n - i);
            if (cr == nullptr) break;
            i = static_cast<size_t>(static_cast<const char*>(cr) - p);
        }
        if (p[i] == kEnd[m]) {
            if (++m == 4) {
                ++ends;
                m = 0;
            }
        } else {
            m = p[i] == '\r' ? 1 : 0;
        }
    }
    *matched = m;
    return ends;
}

class CannedServer {
  public:
    int run(const char* host, uint16_t port) {
        if (auto r = ring_.init(nexure::engine::RingOptions{}); !r) {
            std::fprintf(stderr, "nexload-canned: %s\n", r.error().message.c_str());
            return 1;
        }
        if (auto r = buffers_.init(ring_.raw(), 0, 1024, 16384); !r) {
            std::fprintf(stderr, "nexload-canned: %s\n", r.error().message.c_str());
            return 1;
        }
        for (unsigned i = 0; i < kCannedCopies; ++i) canned_.append(kResponse, kResponseLen);
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        if (::inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
            std::fprintf(stderr, "nexload-canned: --host wants an IPv4 address, not '%s'\n", host);
            return 2;
        }
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listen_fd_, 4096) != 0) {
            std::fprintf(stderr, "nexload-canned: cannot listen on %s:%u: %s\n", host, port,
                         std::strerror(errno));
            return 1;
        }
        socklen_t len = sizeof addr;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        std::printf("listening on http://%s:%u\n", host, ntohs(addr.sin_port));
        std::fflush(stdout);
        conns_.resize(kMaxConnections);
        arm_accept();
        while (!g_stop.load(std::memory_order_relaxed)) {
            const int rc = ring_.submit_and_wait(200'000'000);
            if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
                std::fprintf(stderr, "nexload-canned: io_uring_enter: %s\n", std::strerror(-rc));
                return 1;
            }
            unsigned head = 0;
            unsigned seen = 0;
            io_uring_cqe* cqe = nullptr;
            io_uring_for_each_cqe(ring_.raw(), head, cqe) {
                ++seen;
                complete(cqe->user_data, cqe->res, cqe->flags);
            }
            io_uring_cq_advance(ring_.raw(), seen);
            buffers_.publish();
        }
        for (Conn& c : conns_) {
            if (c.fd >= 0) ::close(c.fd);
        }
        ::close(listen_fd_);
        return 0;
    }

  private:
    void arm_accept() {
        io_uring_sqe* sqe = ring_.get_sqe();
        io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(sqe, nexure::engine::make_tag(kOpAccept, 0, 0));
    }
    void arm_recv(Conn& c, uint32_t slot) {
        io_uring_sqe* sqe = ring_.get_sqe();
        io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = buffers_.group();
        io_uring_sqe_set_data64(sqe, nexure::engine::make_tag(kOpRecv, c.gen, slot));
    }
    void send_owed(Conn& c, uint32_t slot) {
        if (c.in_flight != 0 || c.owed == 0) return;
        const uint64_t n = c.owed < kCannedCopies ? c.owed : kCannedCopies;
        c.owed -= n;
        c.in_flight = n * kResponseLen;
        c.sent = 0;
        submit_send(c, slot);
    }
    void submit_send(Conn& c, uint32_t slot) {
        io_uring_sqe* sqe = ring_.get_sqe();
        io_uring_prep_send(sqe, c.fd, canned_.data() + c.sent, c.in_flight - c.sent,
                           MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, nexure::engine::make_tag(kOpSend, c.gen, slot));
    }
    void drop(Conn& c) {
        ::shutdown(c.fd, SHUT_RDWR);
        ::close(c.fd);
        c = Conn{-1, c.gen + 1};
    }

    void complete(uint64_t user_data, int res, unsigned flags) {
        const OpTag tag = OpTag::unpack(user_data);
        const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
        const auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
        if (tag.op == kOpAccept) {
            if (res >= 0) {
                if (static_cast<unsigned>(res) >= kMaxConnections) {
                    ::close(res);
                } else {
                    Conn& c = conns_[static_cast<size_t>(res)];
                    c = Conn{res, c.gen + 1};
                    const int one = 1;
                    ::setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    arm_recv(c, static_cast<uint32_t>(res));
                }
            }
            if ((flags & IORING_CQE_F_MORE) == 0 && !g_stop.load()) arm_accept();
            return;
        }
        Conn& c = conns_[tag.slot];
        if (c.fd < 0 || tag.generation != (c.gen & OpTag::kGenerationMask)) {
            if (has_buffer) buffers_.recycle(bid);
            return;
        }
        if (tag.op == kOpRecv) {
            if (res > 0) {
                c.owed += count_ends(buffers_.buffer(bid), static_cast<size_t>(res), &c.matched);
                buffers_.recycle(bid);
                if ((flags & IORING_CQE_F_MORE) == 0) arm_recv(c, tag.slot);
                send_owed(c, tag.slot);
                return;
            }
            if (has_buffer) buffers_.recycle(bid);
            if (res == -ENOBUFS) {
                arm_recv(c, tag.slot);
            } else {
                drop(c);
            }
            return;
        }
        if (res < 0) {  // kOpSend
            drop(c);
            return;
        }
        c.sent += static_cast<size_t>(res);
        if (c.sent < c.in_flight) {
            submit_send(c, tag.slot);
            return;
        }
        c.in_flight = 0;
        send_owed(c, tag.slot);
    }

    nexure::engine::Ring ring_;
    nexure::alloc::BufferRing buffers_;
    std::vector<Conn> conns_;
    std::string canned_;
    int listen_fd_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
    const char* host = "127.0.0.1";
    unsigned long port = 8080;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--port" || a == "--host") && i + 1 < argc) {
            if (a == "--port") {
                char* end = nullptr;
                port = std::strtoul(argv[++i], &end, 10);
                if (*end != '\0' || port > 65535) {
                    std::fprintf(stderr, "nexload-canned: --port wants 0..65535\n");
                    return 2;
                }
            } else {
                host = argv[++i];
            }
        } else {
            std::fprintf(stderr, "usage: nexload-canned [--host IPV4] [--port N]\n");
            return 2;
        }
    }
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop.store(true); };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    return CannedServer().run(host, static_cast<uint16_t>(port));
}
