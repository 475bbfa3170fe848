// FakeUpstream: a scripted TCP server for tests of outbound clients — it listens on 127.0.0.1 (a
// free port) and runs `script` for each connection it accepts, on a thread of its own, so a test
// can answer slowly, wrongly, partially, or not at all. Helpers read one request and write bytes.
// Every blocking call here is bounded (socket timeouts), so a test cannot hang on it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace nexure::test {

class FakeUpstream {
  public:
    // `script(fd, n)`: connection number n (0, 1, ...); the descriptor is closed after it returns.
    using Script = std::function<void(int fd, int n)>;
    explicit FakeUpstream(Script script);
    ~FakeUpstream();
    FakeUpstream(const FakeUpstream&) = delete;
    FakeUpstream& operator=(const FakeUpstream&) = delete;

    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int accepted() const { return accepted_.load(); }
    // Requests read by read_request() over all connections.
    int requests() const { return requests_.load(); }
    bool stopping() const { return stop_.load(); }

    // Reads one request (head, and a Content-Length body) from `fd`; "" if the peer closed or
    // 5 s passed first.
    std::string read_request(int fd);
    static bool write_all(int fd, std::string_view bytes);
    // Closes `fd` with a reset (SO_LINGER 0) instead of a FIN.
    static void reset(int fd);

  private:
    void accept_loop();

    Script script_;
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> requests_{0};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<std::thread> connections_;
    std::vector<int> fds_;  // open connections, shut down at destruction
};

// A port on 127.0.0.1 where nothing listens (bound once, then closed).
uint16_t closed_port();

}  // namespace nexure::test
