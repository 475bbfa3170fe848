// HttpClient: a blocking loopback TCP client for the integration tests.
//
// Every call that waits takes a deadline and gives up when it passes, so a test can never hang on
// a server that stops answering. The client parses just enough HTTP/1.1 to split a byte stream into
// responses: the status line, header fields and a Content-Length, chunked (de-chunked, trailers
// kept) or close-delimited body. The caller says which responses answer HEAD requests, since those
// carry no body whatever their headers say; 1xx, 204 and 304 responses never carry one. One
// thread per client.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexure::test {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// A deadline `ms` milliseconds from now.
Deadline deadline_in(std::chrono::milliseconds ms);
// The default bound for one network exchange in a test.
inline constexpr std::chrono::milliseconds kIoTimeout{5000};

struct Response {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;  // in wire order
    std::string body;  // de-chunked for a chunked response
    std::vector<std::pair<std::string, std::string>> trailers;  // of a chunked response
    std::string raw;  // the whole response as received

    // Value of the first header called `name` (case-insensitive); "" when absent.
    std::string header(std::string_view name) const;
    bool has_header(std::string_view name) const;
    size_t header_count(std::string_view name) const;
};

// Incremental response parser over a byte stream (used by HttpClient; usable on its own).
class ResponseStream {
  public:
    enum class Step { kNeedMore, kResponse, kError };

    void append(std::string_view bytes) { buffer_.append(bytes); }
    // Tries to take one complete response off the front of the buffered bytes. `head` says the
    // response answers a HEAD request. `eof` says no more bytes will come (ends a close-delimited
    // body). On kError, `error` says what is wrong with the bytes.
    Step next(bool head, bool eof, Response* out, std::string* error);
    const std::string& pending() const { return buffer_; }
    std::string take_pending() { return std::exchange(buffer_, {}); }

  private:
    // Decodes a chunked body that starts at `at`; on kResponse `r->body` is set and `*total`
    // is where the response ends.
    Step dechunk(size_t at, bool eof, Response* r, size_t* total, std::string* error);

    std::string buffer_;
};

class HttpClient {
  public:
    HttpClient() = default;
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;
    HttpClient(HttpClient&& other) noexcept;
    HttpClient& operator=(HttpClient&& other) noexcept;

    // Connects to 127.0.0.1:`port` with TCP_NODELAY and socket send/receive timeouts.
    ::testing::AssertionResult connect(uint16_t port, Deadline deadline = deadline_in(kIoTimeout));
    bool connected() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    void close();
    // Half-closes the write side (the server sees EOF after what was sent).
    void shutdown_write();

    ::testing::AssertionResult send_all(std::string_view bytes);
    // Sends `bytes` in pieces of `piece` bytes, one send() each; `pause` (default none) between
    // pieces only for tests that must force separate TCP segments.
    ::testing::AssertionResult send_in_pieces(std::string_view bytes, size_t piece,
                                              std::chrono::microseconds pause = {});
    // Polls until the kernel has had every byte sent so far acknowledged by the peer's socket
    // (SIOCOUTQ == 0): the bytes are in the server's receive queue.
    ::testing::AssertionResult wait_until_delivered(Deadline deadline = deadline_in(kIoTimeout));
    // Bytes in the socket's receive queue, not yet read (FIONREAD), and bytes sent but not yet
    // acknowledged by the peer's socket (SIOCOUTQ); -1 if the socket cannot say.
    int unread_bytes() const;
    int unsent_bytes() const;

    // Reads until `count` complete responses are parsed, the peer closes, or `deadline` passes.
    // `head[i]` (when given) says response i answers a HEAD request. Fails unless exactly
    // `count` responses arrived; the parsed ones are in `out` either way.
    ::testing::AssertionResult read_responses(size_t count, std::vector<Response>* out,
                                              Deadline deadline = deadline_in(kIoTimeout),
                                              const std::vector<bool>& head = {});
    ::testing::AssertionResult read_response(Response* out,
                                             Deadline deadline = deadline_in(kIoTimeout),
                                             bool head = false);

    // Reads everything until the peer closes (EOF or reset) or the deadline passes; bytes already
    // buffered by earlier reads come first. `closed` says whether the peer closed.
    std::string read_until_eof(Deadline deadline, bool* closed);

    // True if the peer closes (EOF or reset) before `deadline`; data that arrives meanwhile is
    // kept for later reads.
    bool detect_peer_closed(Deadline deadline);

    // Bytes received but not yet returned as part of a response.
    const std::string& pending() const { return stream_.pending(); }
    // Takes those bytes (after a 101, they are the new protocol's).
    std::string take_pending_bytes() { return stream_.take_pending(); }

  private:
    enum class ReadStatus { kData, kEof, kTimeout, kError };
    ReadStatus read_some(Deadline deadline);

    int fd_ = -1;
    bool eof_ = false;
    ResponseStream stream_;
};

// Polls until connecting to 127.0.0.1:`port` is refused or reset (the server closed its
// listener), or the deadline passes. Connections that still succeed meanwhile are closed at once.
::testing::AssertionResult wait_until_refused(uint16_t port, Deadline deadline);

// One HTTP/1.1 GET with a Host header.
std::string get_request(std::string_view target, std::string_view extra_headers = {});

}  // namespace nexure::test
