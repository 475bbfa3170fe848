// TinyServer: a small blocking HTTP/1.1 server on 127.0.0.1 for nexload's tests, where the test
// decides every answer: which bytes, how late, or closing without one, or never answering.
//
// It listens on a free port (port 0). Each connection gets two threads: a reader that splits the
// byte stream into requests (the head up to CRLFCRLF, then a Content-Length body), numbers them
// across all connections and asks the behaviour what to do; and a writer that carries the replies
// out in request order. Reading does not wait for writing, so a delayed reply holds back neither
// the reading nor the arrival times of the requests behind it on the same connection.
//
// The behaviour runs on the reader threads, possibly on several at once: it must be thread-safe.
// The accessors may be called from any thread. The destructor shuts every socket down and joins
// every thread; nothing it waits for blocks for more than a moment.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"

namespace nexure::test {

inline constexpr std::string_view kHelloResponse =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";

// What to do with one request.
struct Reply {
    enum class Action { kRespond, kClose, kHang };
    Action action = Action::kRespond;
    std::string bytes{kHelloResponse};   // kRespond: written as they are
    std::chrono::milliseconds delay{0};  // kRespond: written no earlier than arrival + delay

    static Reply respond(std::string bytes, std::chrono::milliseconds delay = {});
    // The default response, written `delay` after the request arrived.
    static Reply delayed(std::chrono::milliseconds delay);
    // Closes the connection (after the replies before this one) without answering.
    static Reply close();
    // Writes nothing more on this connection, ever; it still reads (and counts) requests.
    static Reply hang();
};

// `number`: the request's place among all requests the server has received, from 0. `request`:
// its raw bytes, valid during the call.
using Behaviour = std::function<Reply(uint64_t number, std::string_view request)>;

class TinyServer {
  public:
    // Listens at once; ok() says whether that worked and error() why not. Without a behaviour
    // every request gets kHelloResponse at once.
    explicit TinyServer(Behaviour behaviour = {});
    ~TinyServer();
    TinyServer(const TinyServer&) = delete;
    TinyServer& operator=(const TinyServer&) = delete;

    bool ok() const { return port_ != 0; }
    const std::string& error() const { return error_; }
    uint16_t port() const { return port_; }
    // "http://127.0.0.1:PORT" followed by `path`.
    std::string url(std::string_view path = "/") const;

    uint64_t requests() const { return requests_.load(); }     // received so far
    uint64_t connections() const { return accepted_.load(); }  // accepted so far
    std::string first_request() const;                         // "" until one came
    std::vector<Clock::time_point> arrivals() const;           // of each request, by number

    // Waits until no connection is being read any more (the peer or a Reply::close() ended each)
    // and none is waiting to be accepted. Once a client has closed all its connections, every
    // request it sent has then been counted. False if that has not happened by `deadline`.
    bool wait_until_idle(Deadline deadline);

  private:
    struct Connection;

    void accept_loop();
    void read_loop(Connection* c);
    static void write_loop(Connection* c);
    // Joins and frees the connections whose threads have both ended (accept thread only).
    void reap();
    // Numbers a request that arrived at `at` and records it; returns its number.
    uint64_t record(std::string_view request, Clock::time_point at);

    Behaviour behaviour_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;  // eventfd: the destructor wakes the accept thread with it
    uint16_t port_ = 0;
    std::string error_;
    std::thread acceptor_;
    // Owned by the accept thread until the destructor has joined it.
    std::list<std::unique_ptr<Connection>> connections_;

    std::mutex accept_mu_;  // makes accept() and the count of open connections one step
    std::atomic<uint64_t> open_{0};
    std::atomic<uint64_t> accepted_{0};
    std::atomic<uint64_t> requests_{0};

    mutable std::mutex record_mu_;
    std::string first_request_;
    std::vector<Clock::time_point> arrivals_;
};

}  // namespace nexure::test
