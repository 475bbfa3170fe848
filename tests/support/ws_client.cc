#include "tests/support/ws_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "alloc/byte_buffer.h"

namespace nexure::test {

uint16_t WsFrame::close_code() const {
    if (payload.size() < 2) return 0;
    return static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                 static_cast<uint8_t>(payload[1]));
}

std::string WsFrame::close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }

std::string WsClient::handshake(std::string_view path, std::string_view extra_headers) {
    std::string r = "GET ";
    r.append(path).append(
        " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
    r.append(extra_headers).append("\r\n");
    return r;
}

::testing::AssertionResult WsClient::open(uint16_t port, std::string_view path,
                                          std::string_view extra_headers, Response* response) {
    if (auto r = http_.connect(port); !r) return r;
    if (auto r = http_.send_all(handshake(path, extra_headers)); !r) return r;
    Response local;
    Response* res = response != nullptr ? response : &local;
    if (auto r = http_.read_response(res); !r) return r;
    if (res->status != 101)
        return ::testing::AssertionFailure() << "handshake answered " << res->status << ": "
                                             << res->body;
    in_ = http_.take_pending_bytes();
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult WsClient::send_frame(net::ws::Opcode opcode, std::string_view payload,
                                                bool fin, bool rsv1, bool masked) {
    alloc::ByteBuffer out;
    const uint32_t mask = 0x5A3C9612u;
    net::ws::append_frame(out, opcode, fin, rsv1, payload, masked ? &mask : nullptr);
    return http_.send_all(out.view());
}

::testing::AssertionResult WsClient::send_close(uint16_t code, std::string_view reason) {
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xFF));
    p.append(reason);
    return send_frame(net::ws::Opcode::kClose, p);
}

::testing::AssertionResult WsClient::read_frame(WsFrame* out, Deadline deadline) {
    for (;;) {
        net::ws::FrameHeader h;
        if (net::ws::parse_frame_header(in_, h) == net::ws::HeaderStatus::kInvalid)
            return ::testing::AssertionFailure() << "the server sent an invalid frame header";
        if (net::ws::parse_frame_header(in_, h) == net::ws::HeaderStatus::kComplete &&
            in_.size() >= h.header_size + h.length) {
            if (h.masked) return ::testing::AssertionFailure() << "the server masked a frame";
            out->opcode = h.opcode;
            out->fin = h.fin;
            out->rsv1 = h.rsv1;
            out->payload = in_.substr(h.header_size, h.length);
            in_.erase(0, h.header_size + h.length);
            return ::testing::AssertionSuccess();
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return ::testing::AssertionFailure() << "no frame before the deadline";
        pollfd p{http_.fd(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[65536];
        const ssize_t n = ::recv(http_.fd(), buf, sizeof buf, 0);
        if (n == 0) return ::testing::AssertionFailure() << "the server closed the connection";
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return ::testing::AssertionFailure() << "recv: " << std::strerror(errno);
        }
        in_.append(buf, static_cast<size_t>(n));
    }
}

bool WsClient::wait_closed(Deadline deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{http_.fd(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[65536];
        const ssize_t n = ::recv(http_.fd(), buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
}

}  // namespace nexure::test
