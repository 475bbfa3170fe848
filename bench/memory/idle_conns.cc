// nexure-idle-conns: the client side of the idle keep-alive memory measurement
// (scripts/bench-idle.sh). Opens N TCP connections to one server, sends one keep-alive
// `GET <path> HTTP/1.1` on each, reads each complete response (Content-Length framing), then keeps
// every connection that got a 2xx answer open and idle, so that the server's memory per idle
// connection can be read from outside.
//
//   nexure-idle-conns --port P --connections N [--host 127.0.0.1] [--path /plaintext]
//                     [--hold-seconds S] [--ready-file F] [--batch B]
//                     [--connect-timeout-ms MS] [--response-timeout-ms MS]
//
// At most B connections (default 256) are being set up at a time: connecting, sending or waiting
// for their response; each has a connect timeout and then a response timeout. When all N are
// done it prints a summary on stderr, then "ready K" (K = connections held) to --ready-file
// (written to F.tmp and renamed, so a reader never sees a partial line) or, without --ready-file,
// on stdout, flushed. It then holds the connections for --hold-seconds (default 30; 0: none), until
// stdin reaches end of file (when stdin is a pipe, socket or terminal) or until SIGTERM, SIGINT or
// SIGHUP, and closes them. A connection the server closes during the hold is reported.
//
// It raises its own RLIMIT_NOFILE soft limit to the hard limit, and fails with a message saying so
// when the hard limit is too low for N connections. Exit status: 0 when every connection got a
// 2xx response and stayed open until the end of the hold, 1 otherwise, 2 for a usage error.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kProgram = "nexure-idle-conns";
constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;
// Descriptors besides the connections: stdio, epoll, signalfd, the ready file, some slack.
constexpr uint64_t kSpareFds = 16;
// epoll user data that is not a connection index.
constexpr uint64_t kSignalKey = ~uint64_t{0};
constexpr uint64_t kStdinKey = ~uint64_t{0} - 1;

using Clock = std::chrono::steady_clock;

uint64_t now_ms() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count());
}

struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    uint64_t connections = 0;
    std::string path = "/plaintext";
    uint64_t hold_seconds = 30;
    std::string ready_file;
    uint64_t batch = 256;
    uint64_t connect_timeout_ms = 5000;
    uint64_t response_timeout_ms = 10000;
};

void usage() {
    std::fprintf(stderr,
                 "usage: %s --port P --connections N [--host 127.0.0.1] [--path /plaintext]\n"
                 "       [--hold-seconds S] [--ready-file F] [--batch B]\n"
                 "       [--connect-timeout-ms MS] [--response-timeout-ms MS]\n",
                 kProgram);
}

// Parses a decimal integer in [min, max]; false when `text` is anything else.
bool parse_uint(const char* text, uint64_t min, uint64_t max, uint64_t* out) {
    if (text == nullptr || *text < '0' || *text > '9') return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

// Returns the options, or nothing after printing what is wrong.
std::optional<Options> parse_options(int argc, char** argv) {
    Options o;
    bool have_port = false;
    bool have_connections = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage();
            std::exit(0);
        }
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        if (value == nullptr) {
            std::fprintf(stderr, "%s: unknown option or missing value: %s\n", kProgram, argv[i]);
            return std::nullopt;
        }
        ++i;
        uint64_t n = 0;
        bool ok = true;
        if (arg == "--host") {
            o.host = value;
        } else if (arg == "--port") {
            ok = parse_uint(value, 1, 65535, &n);
            o.port = static_cast<uint16_t>(n);
            have_port = true;
        } else if (arg == "--connections") {
            ok = parse_uint(value, 1, 10'000'000, &o.connections);
            have_connections = true;
        } else if (arg == "--path") {
            o.path = value;
            ok = !o.path.empty() && o.path[0] == '/' &&
                 o.path.find_first_of(" \r\n") == std::string::npos;
        } else if (arg == "--hold-seconds") {
            ok = parse_uint(value, 0, 86'400, &o.hold_seconds);
        } else if (arg == "--ready-file") {
            o.ready_file = value;
            ok = !o.ready_file.empty();
        } else if (arg == "--batch") {
            ok = parse_uint(value, 1, 65'536, &o.batch);
        } else if (arg == "--connect-timeout-ms") {
            ok = parse_uint(value, 1, 3'600'000, &o.connect_timeout_ms);
        } else if (arg == "--response-timeout-ms") {
            ok = parse_uint(value, 1, 3'600'000, &o.response_timeout_ms);
        } else {
            std::fprintf(stderr, "%s: unknown option: %s\n", kProgram, argv[i - 1]);
            return std::nullopt;
        }
        if (!ok) {
            std::fprintf(stderr, "%s: invalid value for %s: '%s'\n", kProgram, argv[i - 1], value);
            return std::nullopt;
        }
    }
    if (!have_port || !have_connections) {
        std::fprintf(stderr, "%s: --port and --connections are required\n", kProgram);
        return std::nullopt;
    }
    return o;
}

// Raises the soft RLIMIT_NOFILE to the hard limit; false, after saying why, when that is not
// enough for `needed` descriptors.
bool raise_fd_limit(uint64_t needed, uint64_t connections) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        std::fprintf(stderr, "%s: getrlimit(RLIMIT_NOFILE): %s\n", kProgram, std::strerror(errno));
        return false;
    }
    rlim_t target = lim.rlim_max;
    if (target == RLIM_INFINITY) {
        // The kernel refuses a soft limit above fs.nr_open.
        target = 1024 * 1024;
        if (FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
            unsigned long long nr_open = 0;
            if (std::fscanf(f, "%llu", &nr_open) == 1 && nr_open > 0) target = nr_open;
            std::fclose(f);
        }
    }
    if (target < needed) {
        std::fprintf(
            stderr,
            "%s: %llu connections need about %llu file descriptors, but the hard limit "
            "(RLIMIT_NOFILE) is %llu; raise it (ulimit -Hn, or run under prlimit "
            "--nofile=%llu:%llu) or ask for fewer connections\n",
            kProgram, static_cast<unsigned long long>(connections),
            static_cast<unsigned long long>(needed), static_cast<unsigned long long>(target),
            static_cast<unsigned long long>(needed), static_cast<unsigned long long>(needed));
        return false;
    }
    if (lim.rlim_cur < target) {
        lim.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            std::fprintf(stderr, "%s: setrlimit(RLIMIT_NOFILE, soft %llu): %s\n", kProgram,
                         static_cast<unsigned long long>(target), std::strerror(errno));
            return false;
        }
    }
    return true;
}

// The server address; IPv4 or IPv6 literals only (this tool is for the loopback interface).
bool make_address(const Options& o, sockaddr_storage* addr, socklen_t* len) {
    std::memset(addr, 0, sizeof(*addr));
    auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
    if (inet_pton(AF_INET, o.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(o.port);
        *len = sizeof(sockaddr_in);
        return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
    if (inet_pton(AF_INET6, o.host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(o.port);
        *len = sizeof(sockaddr_in6);
        return true;
    }
    std::fprintf(stderr, "%s: --host must be a numeric IPv4 or IPv6 address, got '%s'\n", kProgram,
                 o.host.c_str());
    return false;
}

enum class State : uint8_t { kNew, kConnecting, kSending, kReading, kIdle, kDone };

struct Conn {
    int fd = -1;
    State state = State::kNew;
    uint32_t sent = 0;       // request bytes sent
    uint64_t deadline = 0;   // ms, steady clock, while being set up
    std::string in;          // response bytes received so far
    size_t header_end = 0;   // offset of the body, once the header is complete
    uint64_t body_size = 0;  // Content-Length
};

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// What the header of a response says about it.
struct Head {
    int status = 0;
    bool has_length = false;
    uint64_t length = 0;
    bool chunked = false;
    bool close = false;
};

// Parses a response header (status line and fields, without the final empty line). Returns an
// error text, or an empty string.
std::string parse_head(std::string_view head, Head* h) {
    size_t eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    // "HTTP/1.x SSS reason"
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
        return "malformed status line";
    }
    const std::string_view code = status_line.substr(9, 3);
    if (code.find_first_not_of("0123456789") != std::string_view::npos) {
        return "malformed status code";
    }
    h->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    while (eol != std::string_view::npos) {
        const size_t start = eol + 2;
        eol = head.find("\r\n", start);
        const std::string_view line = head.substr(
            start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) return "header line without ':'";
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            if (value.empty() || value.size() > 12 ||
                value.find_first_not_of("0123456789") != std::string_view::npos) {
                return "invalid Content-Length";
            }
            const uint64_t n = std::strtoull(std::string(value).c_str(), nullptr, 10);
            if (h->has_length && n != h->length) return "conflicting Content-Length fields";
            h->has_length = true;
            h->length = n;
        } else if (iequals(name, "transfer-encoding")) {
            h->chunked = true;
        } else if (iequals(name, "connection")) {
            // A list of tokens; only "close" matters here.
            std::string_view rest = value;
            while (!rest.empty()) {
                const size_t comma = rest.find(',');
                if (iequals(trim(rest.substr(0, comma)), "close")) h->close = true;
                rest =
                    comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        }
    }
    return {};
}

class Client {
  public:
    explicit Client(const Options& o) : o_(o), conns_(o.connections) {
        request_ = "GET " + o.path + " HTTP/1.1\r\nHost: ";
        request_ += o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
        request_ += ":" + std::to_string(o.port) + "\r\n\r\n";
    }
    ~Client() {
        for (Conn& c : conns_)
            close_conn(c);
        if (epfd_ >= 0) close(epfd_);
        if (sigfd_ >= 0) close(sigfd_);
    }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    int run() {
        if (!make_address(o_, &addr_, &addr_len_)) return 2;
        if (!raise_fd_limit(o_.connections + kSpareFds, o_.connections)) return 1;
        if (!setup_events()) return 1;

        const uint64_t t0 = now_ms();
        if (!open_all()) return 1;
        const uint64_t t1 = now_ms();
        report_setup(t1 - t0);
        if (held_ == 0) {
            std::fprintf(stderr, "%s: no connection succeeded; nothing to hold\n", kProgram);
            return 1;
        }
        if (!announce_ready()) return 1;
        hold();
        report_hold(now_ms() - t1);
        return failed_ == 0 && closed_idle_ == 0 ? 0 : 1;
    }

  private:
    bool setup_events() {
        epfd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) return sys_error("epoll_create1");
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return sys_error("sigprocmask");
        sigfd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sigfd_ < 0) return sys_error("signalfd");
        if (!watch(sigfd_, EPOLLIN, kSignalKey)) return false;
        // Stdin ends the hold when it reaches end of file, if it can be polled at all: a pipe, a
        // socket or a terminal can; /dev/null and regular files cannot (EPERM) and are ignored.
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kStdinKey;
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, STDIN_FILENO, &ev) != 0 && errno != EPERM) {
            return sys_error("epoll_ctl(ADD, stdin)");
        }
        signal(SIGPIPE, SIG_IGN);
        return true;
    }

    bool watch(int fd, uint32_t events, uint64_t key) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = key;
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return sys_error("epoll_ctl(ADD)");
        return true;
    }

    bool rewatch(Conn& c, uint32_t events, uint64_t key) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = key;
        if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) return sys_error("epoll_ctl(MOD)");
        return true;
    }

    bool sys_error(const char* what) {
        std::fprintf(stderr, "%s: %s: %s\n", kProgram, what, std::strerror(errno));
        return false;
    }

    // Opens every connection, at most o_.batch in set-up at once. False only on an error of the
    // tool itself (not of a connection).
    bool open_all() {
        uint64_t next = 0;
        std::vector<uint64_t> active;  // connections being set up
        active.reserve(o_.batch);
        std::vector<epoll_event> events(std::max<uint64_t>(o_.batch, 64));
        while (next < conns_.size() || !active.empty()) {
            while (next < conns_.size() && active.size() < o_.batch) {
                if (!start(next)) return false;
                if (conns_[next].state != State::kDone) active.push_back(next);
                ++next;
            }
            // Wake up for the earliest deadline of the connections being set up.
            const uint64_t now = now_ms();
            uint64_t wait = 1000;
            for (uint64_t i : active) {
                const uint64_t d = conns_[i].deadline;
                wait = std::min(wait, d > now ? d - now : 0);
            }
            const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()),
                                     static_cast<int>(wait));
            if (n < 0 && errno != EINTR) return sys_error("epoll_wait");
            for (int k = 0; k < n; ++k) {
                const uint64_t key = events[k].data.u64;
                if (key == kSignalKey) {
                    std::fprintf(stderr, "%s: interrupted while connecting\n", kProgram);
                    return false;
                }
                if (key == kStdinKey) {
                    drain_stdin();
                    continue;
                }
                on_setup_event(key, events[k].events);
            }
            const uint64_t later = now_ms();
            for (uint64_t i : active) {
                Conn& c = conns_[i];
                if ((c.state == State::kConnecting || c.state == State::kSending ||
                     c.state == State::kReading) &&
                    later >= c.deadline) {
                    fail(c, c.state == State::kConnecting ? "connect timeout" : "response timeout");
                }
            }
            std::erase_if(active, [this](uint64_t i) {
                return conns_[i].state == State::kIdle || conns_[i].state == State::kDone;
            });
        }
        return true;
    }

    // Starts connection i: a non-blocking socket and connect().
    bool start(uint64_t i) {
        Conn& c = conns_[i];
        c.fd = socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            if (errno == EMFILE || errno == ENFILE) return sys_error("socket");
            fail(c, std::string("socket: ") + std::strerror(errno));
            return true;
        }
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c.deadline = now_ms() + o_.connect_timeout_ms;
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) == 0) {
            c.state = State::kSending;
            c.deadline = now_ms() + o_.response_timeout_ms;
            return watch(c.fd, EPOLLOUT, i);
        }
        if (errno != EINPROGRESS) {
            fail(c, std::string("connect: ") + std::strerror(errno));
            return true;
        }
        c.state = State::kConnecting;
        return watch(c.fd, EPOLLOUT, i);
    }

    void on_setup_event(uint64_t i, uint32_t events) {
        Conn& c = conns_[i];
        if (c.state == State::kIdle) {
            on_idle_event(c);  // set up earlier, and already closed by the server
            return;
        }
        if (c.state == State::kConnecting) {
            int err = 0;
            socklen_t len = sizeof(err);
            if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) {
                fail(c, std::string("connect: ") + std::strerror(err));
                return;
            }
            c.state = State::kSending;
            c.deadline = now_ms() + o_.response_timeout_ms;
        }
        if (c.state == State::kSending) {
            send_request(i);
            return;
        }
        if (c.state == State::kReading &&
            (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
            read_response(i);
        }
    }

    void send_request(uint64_t i) {
        Conn& c = conns_[i];
        while (c.sent < request_.size()) {
            const ssize_t n =
                send(c.fd, request_.data() + c.sent, request_.size() - c.sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // wait for EPOLLOUT
                if (errno == EINTR) continue;
                fail(c, std::string("send: ") + std::strerror(errno));
                return;
            }
            c.sent += static_cast<uint32_t>(n);
        }
        c.state = State::kReading;
        if (!rewatch(c, EPOLLIN | EPOLLRDHUP, i)) fail(c, "epoll_ctl");
    }

    void read_response(uint64_t i) {
        Conn& c = conns_[i];
        char buf[16384];
        for (;;) {
            const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (errno == EINTR) continue;
                fail(c, std::string("recv: ") + std::strerror(errno));
                return;
            }
            if (n == 0) {
                fail(c, "closed by the server before the response was complete");
                return;
            }
            c.in.append(buf, static_cast<size_t>(n));
            if (c.header_end == 0) {
                const size_t end = c.in.find("\r\n\r\n");
                if (end == std::string::npos) {
                    if (c.in.size() > kMaxHeaderBytes) fail(c, "response header too large");
                    if (c.state == State::kDone) return;
                    continue;
                }
                Head h;
                const std::string err = parse_head(std::string_view(c.in).substr(0, end), &h);
                if (!err.empty()) {
                    fail(c, err);
                    return;
                }
                if (h.chunked) {
                    fail(c, "chunked response (only Content-Length framing is supported)");
                    return;
                }
                if (h.close) {
                    fail(c, "server answered Connection: close");
                    return;
                }
                const bool no_body = h.status / 100 == 1 || h.status == 204 || h.status == 304;
                if (!h.has_length && !no_body) {
                    fail(c, "response without Content-Length");
                    return;
                }
                if (h.length > kMaxBodyBytes) {
                    fail(c, "response body too large");
                    return;
                }
                ++statuses_[h.status];
                if (h.status / 100 != 2) {
                    fail(c, "status " + std::to_string(h.status));
                    return;
                }
                c.header_end = end + 4;
                c.body_size = no_body ? 0 : h.length;
            }
            const uint64_t have = c.in.size() - c.header_end;
            if (have > c.body_size) {
                fail(c, "bytes after the response");
                return;
            }
            if (have == c.body_size) {
                // Complete: the connection is now idle. Keep watching it, to notice a close.
                c.state = State::kIdle;
                std::string().swap(c.in);
                ++held_;
                return;
            }
        }
    }

    void fail(Conn& c, const std::string& reason) {
        close_conn(c);
        c.state = State::kDone;
        std::string().swap(c.in);
        ++failed_;
        ++reasons_[reason];
    }

    void close_conn(Conn& c) {
        if (c.fd >= 0) {
            close(c.fd);  // also removes it from the epoll set
            c.fd = -1;
        }
    }

    void drain_stdin() {
        char buf[512];
        const ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            stdin_closed_ = true;
            epoll_ctl(epfd_, EPOLL_CTL_DEL, STDIN_FILENO, nullptr);
        }
    }

    void report_setup(uint64_t elapsed_ms) {
        std::fprintf(stderr,
                     "%s: %llu connections to %s port %u: %llu succeeded, %llu failed, "
                     "in %.3f s\n",
                     kProgram, static_cast<unsigned long long>(conns_.size()), o_.host.c_str(),
                     static_cast<unsigned>(o_.port), static_cast<unsigned long long>(held_),
                     static_cast<unsigned long long>(failed_), elapsed_ms / 1000.0);
        for (const auto& [status, count] : statuses_) {
            std::fprintf(stderr, "%s:   status %d: %llu\n", kProgram, status,
                         static_cast<unsigned long long>(count));
        }
        for (const auto& [reason, count] : reasons_) {
            std::fprintf(stderr, "%s:   failed: %s: %llu\n", kProgram, reason.c_str(),
                         static_cast<unsigned long long>(count));
        }
    }

    bool announce_ready() {
        const std::string line = "ready " + std::to_string(held_) + "\n";
        if (o_.ready_file.empty()) {
            std::fputs(line.c_str(), stdout);
            if (std::fflush(stdout) != 0) return sys_error("writing to stdout");
            return true;
        }
        const std::string tmp = o_.ready_file + ".tmp";
        FILE* f = std::fopen(tmp.c_str(), "w");
        if (f == nullptr) return sys_error(tmp.c_str());
        const bool written = std::fputs(line.c_str(), f) >= 0;
        if (std::fclose(f) != 0 || !written) return sys_error(tmp.c_str());
        if (std::rename(tmp.c_str(), o_.ready_file.c_str()) != 0) {
            return sys_error(o_.ready_file.c_str());
        }
        return true;
    }

    // Keeps the idle connections until the hold time passes, stdin ends or a signal comes.
    void hold() {
        if (o_.hold_seconds == 0) return;
        const uint64_t end = now_ms() + o_.hold_seconds * 1000;
        std::vector<epoll_event> events(256);
        while (!stdin_closed_) {
            const uint64_t now = now_ms();
            if (now >= end) break;
            const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()),
                                     static_cast<int>(std::min<uint64_t>(end - now, 1000)));
            if (n < 0) {
                if (errno == EINTR) continue;
                sys_error("epoll_wait");
                return;
            }
            for (int k = 0; k < n; ++k) {
                const uint64_t key = events[k].data.u64;
                if (key == kSignalKey) {
                    signalfd_siginfo si{};
                    if (read(sigfd_, &si, sizeof(si)) == sizeof(si)) signal_ = si.ssi_signo;
                    return;
                }
                if (key == kStdinKey) {
                    drain_stdin();
                    continue;
                }
                on_idle_event(conns_[key]);
            }
        }
    }

    // An idle connection became readable: the server closed it, or sent something unasked.
    void on_idle_event(Conn& c) {
        if (c.state != State::kIdle) return;
        char buf[4096];
        const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (n > 0) ++unexpected_data_;
        close_conn(c);
        c.state = State::kDone;
        --held_;
        ++closed_idle_;
    }

    void report_hold(uint64_t elapsed_ms) {
        const char* why = signal_ != 0      ? strsignal(static_cast<int>(signal_))
                          : stdin_closed_   ? "stdin closed"
                          : o_.hold_seconds ? "hold time over"
                                            : "no hold asked";
        std::fprintf(stderr, "%s: held for %.3f s (%s); %llu still open, closing them\n", kProgram,
                     elapsed_ms / 1000.0, why, static_cast<unsigned long long>(held_));
        if (closed_idle_ > 0) {
            std::fprintf(stderr,
                         "%s: the server closed %llu idle connections after their response "
                         "(%llu of them after sending unrequested data)\n",
                         kProgram, static_cast<unsigned long long>(closed_idle_),
                         static_cast<unsigned long long>(unexpected_data_));
        }
    }

    const Options& o_;
    std::vector<Conn> conns_;
    std::string request_;
    sockaddr_storage addr_{};
    socklen_t addr_len_ = 0;
    int epfd_ = -1;
    int sigfd_ = -1;
    bool stdin_closed_ = false;
    uint32_t signal_ = 0;
    uint64_t held_ = 0;
    uint64_t failed_ = 0;
    uint64_t closed_idle_ = 0;
    uint64_t unexpected_data_ = 0;
    std::map<int, uint64_t> statuses_;
    std::map<std::string, uint64_t> reasons_;
};

}  // namespace

int main(int argc, char** argv) {
    const std::optional<Options> options = parse_options(argc, argv);
    if (!options) {
        usage();
        return 2;
    }
    Client client(*options);
    return client.run();
}
