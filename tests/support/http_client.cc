#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

namespace nexure::test {

namespace {

bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]);
        const auto y = static_cast<unsigned char>(b[i]);
        if (std::tolower(x) != std::tolower(y)) return false;
    }
    return true;
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}

int remaining_ms(Deadline deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    return static_cast<int>(std::min<int64_t>(left.count(), 60'000));
}

}  // namespace

Deadline deadline_in(std::chrono::milliseconds ms) {
    return Clock::now() + ms;
}

// ---- Response ----------------------------------------------------------------------------------

std::string Response::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (ascii_iequals(n, name)) return v;
    }
    return {};
}

bool Response::has_header(std::string_view name) const {
    return header_count(name) > 0;
}

size_t Response::header_count(std::string_view name) const {
    return static_cast<size_t>(std::count_if(headers.begin(), headers.end(), [&](const auto& h) {
        return ascii_iequals(h.first, name);
    }));
}

// ---- ResponseStream ----------------------------------------------------------------------------

ResponseStream::Step ResponseStream::next(bool head, bool eof, Response* out, std::string* error) {
    const size_t head_end = buffer_.find("\r\n\r\n");
    if (head_end == std::string::npos) {
        if (eof && !buffer_.empty()) {
            *error = "the connection closed in the middle of a response head: " + buffer_;
            return Step::kError;
        }
        return Step::kNeedMore;
    }
    const std::string_view text(buffer_.data(), head_end);
    Response r;
    // Status line: HTTP/1.x SP 3DIGIT SP reason
    const size_t line_end = text.find("\r\n");
    const std::string_view status_line = text.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
        *error = "bad status line: '" + std::string(status_line) + "'";
        return Step::kError;
    }
    const std::string_view code = status_line.substr(9, 3);
    if (std::from_chars(code.data(), code.data() + 3, r.status).ec != std::errc{} ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
        *error = "bad status code in '" + std::string(status_line) + "'";
        return Step::kError;
    }
    r.reason = status_line.size() > 13 ? std::string(status_line.substr(13)) : std::string();

    std::string_view rest =
        line_end == std::string_view::npos ? std::string_view{} : text.substr(line_end + 2);
    while (!rest.empty()) {
        const size_t eol = rest.find("\r\n");
        const std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            *error = "bad header line: '" + std::string(line) + "'";
            return Step::kError;
        }
        r.headers.emplace_back(std::string(line.substr(0, colon)),
                               std::string(trim(line.substr(colon + 1))));
    }

    const size_t body_start = head_end + 4;
    const bool no_body = head || r.status < 200 || r.status == 204 || r.status == 304;
    size_t total = body_start;
    if (!no_body) {
        if (r.has_header("content-length")) {
            const std::string cl = r.header("content-length");
            size_t length = 0;
            const auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), length);
            if (ec != std::errc{} || p != cl.data() + cl.size() ||
                r.header_count("content-length") != 1) {
                *error = "bad Content-Length: '" + cl + "'";
                return Step::kError;
            }
            if (buffer_.size() < body_start + length) {
                if (eof) {
                    *error = "the connection closed after " +
                             std::to_string(buffer_.size() - body_start) + " of " +
                             std::to_string(length) + " body bytes";
                    return Step::kError;
                }
                return Step::kNeedMore;
            }
            total = body_start + length;
        } else if (r.has_header("transfer-encoding")) {
            if (r.header("transfer-encoding") != "chunked" ||
                r.header_count("transfer-encoding") != 1) {
                *error = "unexpected Transfer-Encoding: '" + r.header("transfer-encoding") + "'";
                return Step::kError;
            }
            const Step step = dechunk(body_start, eof, &r, &total, error);
            if (step != Step::kResponse) return step;
            r.raw = buffer_.substr(0, total);
            buffer_.erase(0, total);
            *out = std::move(r);
            return Step::kResponse;
        } else {
            if (!eof) return Step::kNeedMore;  // close-delimited
            total = buffer_.size();
        }
        r.body = buffer_.substr(body_start, total - body_start);
    }
    r.raw = buffer_.substr(0, total);
    buffer_.erase(0, total);
    *out = std::move(r);
    return Step::kResponse;
}

ResponseStream::Step ResponseStream::dechunk(size_t at, bool eof, Response* r, size_t* total,
                                             std::string* error) {
    std::string body;
    for (;;) {
        const size_t eol = buffer_.find("\r\n", at);
        if (eol == std::string::npos) break;
        std::string_view line(buffer_.data() + at, eol - at);
        line = line.substr(0, line.find(';'));  // chunk extensions are ignored
        size_t size = 0;
        const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
        if (ec != std::errc{} || p != line.data() + line.size() || line.empty()) {
            *error = "bad chunk-size line: '" + std::string(line) + "'";
            return Step::kError;
        }
        if (size == 0) {
            // Trailer fields, then the blank line.
            size_t t = eol + 2;
            for (;;) {
                const size_t end = buffer_.find("\r\n", t);
                if (end == std::string::npos) goto need_more;
                if (end == t) {
                    r->body = std::move(body);
                    *total = end + 2;
                    return Step::kResponse;
                }
                const std::string_view field(buffer_.data() + t, end - t);
                const size_t colon = field.find(':');
                if (colon == std::string_view::npos || colon == 0) {
                    *error = "bad trailer line: '" + std::string(field) + "'";
                    return Step::kError;
                }
                r->trailers.emplace_back(std::string(field.substr(0, colon)),
                                         std::string(trim(field.substr(colon + 1))));
                t = end + 2;
            }
        }
        if (buffer_.size() < eol + 2 + size + 2) break;
        if (buffer_.compare(eol + 2 + size, 2, "\r\n") != 0) {
            *error = "a chunk's data is not followed by CRLF";
            return Step::kError;
        }
        body.append(buffer_, eol + 2, size);
        at = eol + 2 + size + 2;
    }
need_more:
    if (eof) {
        *error = "the connection closed inside a chunked body";
        return Step::kError;
    }
    return Step::kNeedMore;
}

// ---- HttpClient --------------------------------------------------------------------------------

HttpClient::~HttpClient() {
    close();
}

HttpClient::HttpClient(HttpClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), eof_(other.eof_), stream_(std::move(other.stream_)) {}

HttpClient& HttpClient::operator=(HttpClient&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        eof_ = other.eof_;
        stream_ = std::move(other.stream_);
    }
    return *this;
}

void HttpClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    eof_ = false;
    stream_ = ResponseStream{};
}

void HttpClient::shutdown_write() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

::testing::AssertionResult HttpClient::connect(uint16_t port, Deadline deadline) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return ::testing::AssertionFailure() << "socket: " << std::strerror(errno);
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        if (errno != EINPROGRESS) {
            const int err = errno;
            close();
            return ::testing::AssertionFailure()
                   << "connect to port " << port << ": " << std::strerror(err);
        }
        pollfd p{fd_, POLLOUT, 0};
        const int n = ::poll(&p, 1, remaining_ms(deadline));
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
        if (n <= 0 || err != 0) {
            close();
            return ::testing::AssertionFailure() << "connect to port " << port << ": "
                                                 << (n <= 0 ? "timed out" : std::strerror(err));
        }
    }
    // Back to blocking, with timeouts as a backstop for every later call.
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    timeval tv{};
    tv.tv_sec = 5;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult HttpClient::send_all(std::string_view bytes) {
    if (fd_ < 0) return ::testing::AssertionFailure() << "send on a closed client";
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return ::testing::AssertionFailure()
                   << "send failed after " << done << " of " << bytes.size()
                   << " bytes: " << std::strerror(errno);
        }
        done += static_cast<size_t>(n);
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult HttpClient::send_in_pieces(std::string_view bytes, size_t piece,
                                                      std::chrono::microseconds pause) {
    if (piece == 0) piece = 1;
    for (size_t off = 0; off < bytes.size(); off += piece) {
        ::testing::AssertionResult r = send_all(bytes.substr(off, piece));
        if (!r) return r;
        if (pause.count() > 0 && off + piece < bytes.size()) std::this_thread::sleep_for(pause);
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult HttpClient::wait_until_delivered(Deadline deadline) {
    for (;;) {
        int unacked = 0;
        if (ioctl(fd_, SIOCOUTQ, &unacked) != 0) {
            return ::testing::AssertionFailure() << "ioctl(SIOCOUTQ): " << std::strerror(errno);
        }
        if (unacked == 0) return ::testing::AssertionSuccess();
        if (Clock::now() >= deadline) {
            return ::testing::AssertionFailure()
                   << unacked << " bytes still unacknowledged at the deadline";
        }
        std::this_thread::sleep_for(
            std::chrono::microseconds(200));  // polling, bounded by the deadline
    }
}

int HttpClient::unread_bytes() const {
    int n = 0;
    return fd_ >= 0 && ioctl(fd_, FIONREAD, &n) == 0 ? n : -1;
}

int HttpClient::unsent_bytes() const {
    int n = 0;
    return fd_ >= 0 && ioctl(fd_, SIOCOUTQ, &n) == 0 ? n : -1;
}

HttpClient::ReadStatus HttpClient::read_some(Deadline deadline) {
    if (fd_ < 0) return ReadStatus::kError;
    if (eof_) return ReadStatus::kEof;
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        const int n = ::poll(&p, 1, remaining_ms(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return ReadStatus::kTimeout;
        char buf[65536];
        const ssize_t got = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
        if (got > 0) {
            stream_.append(std::string_view(buf, static_cast<size_t>(got)));
            return ReadStatus::kData;
        }
        if (got == 0 || errno == ECONNRESET) {
            eof_ = true;
            return ReadStatus::kEof;
        }
        if (errno == EAGAIN || errno == EINTR) continue;
        return ReadStatus::kError;
    }
}

::testing::AssertionResult HttpClient::read_responses(size_t count, std::vector<Response>* out,
                                                      Deadline deadline,
                                                      const std::vector<bool>& head) {
    out->clear();
    while (out->size() < count) {
        Response r;
        std::string error;
        const bool is_head = out->size() < head.size() && head[out->size()];
        switch (stream_.next(is_head, eof_, &r, &error)) {
            case ResponseStream::Step::kResponse:
                out->push_back(std::move(r));
                continue;
            case ResponseStream::Step::kError:
                return ::testing::AssertionFailure() << "response " << out->size() << ": " << error;
            case ResponseStream::Step::kNeedMore:
                break;
        }
        if (eof_) {
            return ::testing::AssertionFailure()
                   << "the server closed after " << out->size() << " of " << count << " responses";
        }
        const ReadStatus s = read_some(deadline);
        if (s == ReadStatus::kTimeout) {
            return ::testing::AssertionFailure()
                   << "timed out after " << out->size() << " of " << count
                   << " responses; unparsed bytes: '" << stream_.pending() << "'";
        }
        if (s == ReadStatus::kError) {
            return ::testing::AssertionFailure() << "recv failed: " << std::strerror(errno);
        }
    }
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult HttpClient::read_response(Response* out, Deadline deadline, bool head) {
    std::vector<Response> rs;
    ::testing::AssertionResult r = read_responses(1, &rs, deadline, {head});
    if (!rs.empty()) *out = std::move(rs.front());
    return r;
}

std::string HttpClient::read_until_eof(Deadline deadline, bool* closed) {
    ReadStatus s = eof_ ? ReadStatus::kEof : ReadStatus::kData;
    while (s == ReadStatus::kData)
        s = read_some(deadline);
    if (closed != nullptr) *closed = s == ReadStatus::kEof;
    return stream_.take_pending();
}

bool HttpClient::detect_peer_closed(Deadline deadline) {
    ReadStatus s = eof_ ? ReadStatus::kEof : ReadStatus::kData;
    while (s == ReadStatus::kData)
        s = read_some(deadline);
    return s == ReadStatus::kEof;
}

::testing::AssertionResult wait_until_refused(uint16_t port, Deadline deadline) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (;;) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return ::testing::AssertionFailure() << "socket: " << std::strerror(errno);
        const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
        const int err = errno;
        ::close(fd);
        // Refused: no listener. Reset: the listener closed while this connect sat in its queue.
        if (rc != 0 && (err == ECONNREFUSED || err == ECONNRESET)) {
            return ::testing::AssertionSuccess();
        }
        if (rc != 0) return ::testing::AssertionFailure() << "connect: " << std::strerror(err);
        if (Clock::now() >= deadline) {
            return ::testing::AssertionFailure() << "port " << port << " still accepts connections";
        }
        std::this_thread::sleep_for(
            std::chrono::milliseconds(1));  // polling, bounded by the deadline
    }
}

std::string get_request(std::string_view target, std::string_view extra_headers) {
    std::string r = "GET ";
    r += target;
    r += " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    r += extra_headers;
    r += "\r\n";
    return r;
}

}  // namespace nexure::test
