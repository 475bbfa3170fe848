// nexure-bench-file-send: the two ways to send a large file on io_uring, measured alone (no HTTP):
//   read   IORING_OP_READ of 256 KiB into a buffer, then IORING_OP_SEND of it (what net/files/
//          does: one copy into user memory, the socket send copies it again)
//   splice IORING_OP_SPLICE file → pipe (1 MiB) → socket, linked (no user-space copy: the pipe
//          carries references to the page-cache pages)
// Each sends FILE `rounds` times over a loopback TCP connection to a reader thread that discards
// it; reports GB/s and the sender's CPU time per GiB (the sending process's, io-wq workers that
// run splices included; the reader is a child process of its own). The two modes alternate, each
// run `rounds` times. Usage: nexure-bench-file-send FILE [rounds]
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double cpu_seconds(int who) {
    rusage u{};
    getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void die(const char* what, int err) {
    std::fprintf(stderr, "nexure-bench-file-send: %s: %s\n", what, std::strerror(err));
    std::exit(1);
}

// Submits what is queued and returns the next completion's result.
int wait_one(io_uring* ring) {
    io_uring_submit(ring);
    io_uring_cqe* cqe = nullptr;
    const int r = io_uring_wait_cqe(ring, &cqe);
    if (r < 0) die("io_uring_wait_cqe", -r);
    const int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

void send_all(io_uring* ring, int sock, const char* p, size_t n) {
    while (n > 0) {
        io_uring_prep_send(io_uring_get_sqe(ring), sock, p, n, MSG_NOSIGNAL);
        const int r = wait_one(ring);
        if (r <= 0) die("send", -r);
        p += r;
        n -= static_cast<size_t>(r);
    }
}

void by_read(io_uring* ring, int file, int sock, uint64_t size) {
    static std::vector<char> buf(256 * 1024);
    for (uint64_t off = 0; off < size;) {
        io_uring_prep_read(io_uring_get_sqe(ring), file, buf.data(), static_cast<unsigned>(buf.size()), off);
        const int r = wait_one(ring);
        if (r <= 0) die("read", -r);
        send_all(ring, sock, buf.data(), static_cast<size_t>(r));
        off += static_cast<uint64_t>(r);
    }
}

void by_splice(io_uring* ring, int file, int sock, uint64_t size, const int pipefd[2]) {
    const unsigned chunk = 1024 * 1024;
    for (uint64_t off = 0; off < size;) {
        const auto n = static_cast<unsigned>(std::min<uint64_t>(chunk, size - off));
        io_uring_sqe* a = io_uring_get_sqe(ring);
        io_uring_prep_splice(a, file, static_cast<int64_t>(off), pipefd[1], -1, n, 0);
        a->flags |= IOSQE_IO_LINK;
        a->user_data = 1;
        io_uring_sqe* b = io_uring_get_sqe(ring);
        io_uring_prep_splice(b, pipefd[0], -1, sock, -1, n, 0);
        b->user_data = 2;
        io_uring_submit(ring);
        int in = 0, out = 0;
        for (int i = 0; i < 2; ++i) {
            io_uring_cqe* cqe = nullptr;
            io_uring_wait_cqe(ring, &cqe);
            (cqe->user_data == 1 ? in : out) = cqe->res;
            io_uring_cqe_seen(ring, cqe);
        }
        if (in <= 0) die("splice file->pipe", -in);
        if (out < 0 && out != -ECANCELED) die("splice pipe->socket", -out);
        if (out < 0) out = 0;
        while (out < in) {  // the socket took less: drain the pipe
            io_uring_prep_splice(io_uring_get_sqe(ring), pipefd[0], -1, sock, -1,
                                 static_cast<unsigned>(in - out), 0);
            const int r = wait_one(ring);
            if (r <= 0) die("splice pipe->socket", -r);
            out += r;
        }
        off += static_cast<uint64_t>(in);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: nexure-bench-file-send FILE [rounds]\n");
        return 2;
    }
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
    const int file = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (file < 0) die(argv[1], errno);
    struct stat st {};
    fstat(file, &st);
    const auto size = static_cast<uint64_t>(st.st_size);

    const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 1) != 0)
        die("listen", errno);
    getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);

    const pid_t reader = fork();
    if (reader == 0) {  // the reader: takes everything until EOF
        const int c = accept(lfd, nullptr, nullptr);
        std::vector<char> buf(512 * 1024);
        while (read(c, buf.data(), buf.size()) > 0) {
        }
        _exit(0);
    }
    const int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect", errno);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) die("pipe", errno);
    fcntl(pipefd[1], F_SETPIPE_SZ, 1024 * 1024);
    io_uring ring;
    if (const int r = io_uring_queue_init(64, &ring, 0); r < 0) die("io_uring_queue_init", -r);

    std::printf("{\"file_bytes\": %llu, \"rounds\": %d, \"results\": [",
                static_cast<unsigned long long>(size), rounds);
    const char* sep = "";
    for (const char* mode : {"read", "splice", "read", "splice"}) {
        const double cpu0 = cpu_seconds(RUSAGE_SELF);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < rounds; ++i) {
            if (std::strcmp(mode, "read") == 0)
                by_read(&ring, file, sock, size);
            else
                by_splice(&ring, file, sock, size, pipefd);
        }
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
        const double gib = static_cast<double>(size) * rounds / (1024.0 * 1024 * 1024);
        std::printf("%s\n  {\"mode\": \"%s\", \"gb_per_s\": %.3f, \"sender_cpu_s_per_gib\": %.3f}",
                    sep, mode, static_cast<double>(size) * rounds / wall / 1e9, cpu / gib);
        std::fflush(stdout);
        sep = ",";
    }
    close(sock);
    waitpid(reader, nullptr, 0);
    std::printf("\n]}\n");
    io_uring_queue_exit(&ring);
    return 0;
}
