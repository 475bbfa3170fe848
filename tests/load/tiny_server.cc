#include "tests/load/tiny_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <utility>

namespace nexure::test {

namespace {

using namespace std::chrono_literals;

// A head longer than this without its CRLFCRLF is not a request we sent: the connection closes.
constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kIncomplete = 0;
constexpr size_t kMalformed = static_cast<size_t>(-1);

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The size of the request at the front of `bytes` (its head and its Content-Length body),
// kIncomplete when more bytes are needed, kMalformed when it cannot be one of ours.
size_t request_length(std::string_view bytes) {
    const size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) return bytes.size() > kMaxHead ? kMalformed : kIncomplete;
    const size_t head = end + 4;
    uint64_t body = 0;
    size_t line = bytes.find("\r\n") + 2;  // field lines follow the request line
    while (line < end) {
        const size_t eol = bytes.find("\r\n", line);
        const std::string_view field = bytes.substr(line, eol - line);
        const size_t colon = field.find(':');
        if (colon != std::string_view::npos &&
            equals_ignoring_case(field.substr(0, colon), "content-length")) {
            std::string_view value = field.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
            const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), body);
            if (ec != std::errc{} || p != value.data() + value.size()) return kMalformed;
        }
        line = eol + 2;
    }
    if (bytes.size() - head < body) return kIncomplete;
    return head + static_cast<size_t>(body);
}

bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

}  // namespace

Reply Reply::respond(std::string bytes, std::chrono::milliseconds delay) {
    Reply r;
    r.bytes = std::move(bytes);
    r.delay = delay;
    return r;
}

Reply Reply::delayed(std::chrono::milliseconds delay) {
    Reply r;
    r.delay = delay;
    return r;
}

Reply Reply::close() {
    Reply r;
    r.action = Action::kClose;
    return r;
}

Reply Reply::hang() {
    Reply r;
    r.action = Action::kHang;
    return r;
}

struct TinyServer::Connection {
    struct Pending {
        Reply reply;
        Clock::time_point due;
    };

    int fd = -1;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Pending> queue;  // replies not yet carried out, in request order
    bool abandon = false;       // the peer left or the server stops: write nothing more
    std::atomic<bool> reader_done{false};
    std::atomic<bool> writer_done{false};
    std::thread reader;
    std::thread writer;

    void give_up() {
        {
            std::lock_guard lock(mu);
            abandon = true;
        }
        cv.notify_all();
    }
};

TinyServer::TinyServer(Behaviour behaviour) : behaviour_(std::move(behaviour)) {
    auto fail = [this](const char* what) {
        error_ = std::string(what) + ": " + std::strerror(errno);
        if (listen_fd_ >= 0) ::close(listen_fd_);
        if (wake_fd_ >= 0) ::close(wake_fd_);
        listen_fd_ = wake_fd_ = -1;
    };
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) {
        fail("socket");
        return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        fail("bind");
        return;
    }
    if (::listen(listen_fd_, SOMAXCONN) != 0) {
        fail("listen");
        return;
    }
    socklen_t len = sizeof(addr);
    if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        fail("getsockname");
        return;
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        fail("eventfd");
        return;
    }
    acceptor_ = std::thread(&TinyServer::accept_loop, this);
    port_ = ntohs(addr.sin_port);
}

TinyServer::~TinyServer() {
    if (acceptor_.joinable()) {
        const uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof(one));
        acceptor_.join();
    }
    // The accept thread is gone: the connections are ours now.
    for (const auto& c : connections_) {
        c->give_up();
        ::shutdown(c->fd, SHUT_RDWR);  // wakes a blocked recv() or send()
    }
    for (const auto& c : connections_) {
        c->reader.join();
        c->writer.join();
        ::close(c->fd);
    }
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::string TinyServer::url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::string TinyServer::first_request() const {
    std::lock_guard lock(record_mu_);
    return first_request_;
}

std::vector<Clock::time_point> TinyServer::arrivals() const {
    std::lock_guard lock(record_mu_);
    return arrivals_;
}

bool TinyServer::wait_until_idle(Deadline deadline) {
    for (;;) {
        {
            // Under accept_mu_ a connection is either still in the backlog (the listening socket
            // is readable) or accepted and counted in open_.
            std::lock_guard lock(accept_mu_);
            pollfd p{listen_fd_, POLLIN, 0};
            if (open_.load() == 0 && ::poll(&p, 1, 0) == 0) return true;
        }
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
}

uint64_t TinyServer::record(std::string_view request, Clock::time_point at) {
    std::lock_guard lock(record_mu_);
    const uint64_t number = arrivals_.size();
    if (number == 0) first_request_ = std::string(request);
    arrivals_.push_back(at);
    requests_.store(number + 1);
    return number;
}

void TinyServer::accept_loop() {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        const int n = ::poll(fds, 2, 50);
        if ((fds[1].revents & POLLIN) != 0) return;
        reap();
        if (n <= 0 || (fds[0].revents & POLLIN) == 0) continue;
        int fd = -1;
        {
            std::lock_guard lock(accept_mu_);
            fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);  // a blocking socket
            if (fd >= 0) {
                open_.fetch_add(1);
                accepted_.fetch_add(1);
            }
        }
        if (fd < 0) continue;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        auto c = std::make_unique<Connection>();
        c->fd = fd;
        c->reader = std::thread(&TinyServer::read_loop, this, c.get());
        c->writer = std::thread(&TinyServer::write_loop, c.get());
        connections_.push_back(std::move(c));
    }
}

void TinyServer::reap() {
    for (auto it = connections_.begin(); it != connections_.end();) {
        Connection& c = **it;
        if (!c.reader_done.load() || !c.writer_done.load()) {
            ++it;
            continue;
        }
        c.reader.join();
        c.writer.join();
        ::close(c.fd);
        it = connections_.erase(it);
    }
}

void TinyServer::read_loop(Connection* c) {
    std::string buffer;
    std::vector<char> chunk(64 * 1024);
    bool reading = true;
    while (reading) {
        const ssize_t n = ::recv(c->fd, chunk.data(), chunk.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {  // the peer closed or reset, or the server stops
            c->give_up();
            break;
        }
        const Clock::time_point at = Clock::now();
        buffer.append(chunk.data(), static_cast<size_t>(n));
        size_t used = 0;
        while (reading) {
            const size_t length = request_length(std::string_view(buffer).substr(used));
            if (length == kIncomplete) break;
            if (length == kMalformed) {
                c->give_up();
                ::shutdown(c->fd, SHUT_RDWR);
                reading = false;
                break;
            }
            const std::string_view request = std::string_view(buffer).substr(used, length);
            const uint64_t number = record(request, at);
            Reply reply = behaviour_ ? behaviour_(number, request) : Reply{};
            used += length;
            // Nothing is read after a close: the writer closes once it gets there.
            if (reply.action == Reply::Action::kClose) reading = false;
            const Clock::time_point due = at + reply.delay;
            {
                std::lock_guard lock(c->mu);
                c->queue.push_back({std::move(reply), due});
            }
            c->cv.notify_all();
        }
        buffer.erase(0, used);
    }
    open_.fetch_sub(1);
    c->reader_done.store(true);
}

void TinyServer::write_loop(Connection* c) {
    std::unique_lock lock(c->mu);
    for (;;) {
        c->cv.wait(lock, [c] { return c->abandon || !c->queue.empty(); });
        if (c->abandon) break;
        const Reply::Action action = c->queue.front().reply.action;
        if (action == Reply::Action::kHang) {
            c->cv.wait(lock, [c] { return c->abandon; });
            break;
        }
        if (action == Reply::Action::kClose) {
            ::shutdown(c->fd, SHUT_RDWR);
            break;
        }
        if (c->cv.wait_until(lock, c->queue.front().due, [c] { return c->abandon; })) break;
        // Every reply that is due goes out in one send, as a server would batch them.
        std::string out;
        const Clock::time_point now = Clock::now();
        while (!c->queue.empty() && c->queue.front().reply.action == Reply::Action::kRespond &&
               c->queue.front().due <= now) {
            out += c->queue.front().reply.bytes;
            c->queue.pop_front();
        }
        lock.unlock();
        const bool sent = send_all(c->fd, out);
        lock.lock();
        if (!sent) break;
    }
    c->writer_done.store(true);
}

}  // namespace nexure::test
