#include "bench/load/ws_reader.h"

#include <algorithm>
#include <cstring>

namespace nexure::load {

using net::ws::FrameHeader;
using net::ws::HeaderStatus;
using net::ws::Opcode;

bool WsReader::fail(std::string why) {
    failed_ = true;
    error_ = "bad frame: " + std::move(why);
    return false;
}

bool WsReader::accept_header(const FrameHeader& h) {
    if (h.masked) return fail("a masked frame from the server (RFC 6455 §5.1)");
    if (h.rsv1 || h.rsv2 || h.rsv3) return fail("RSV bits set without a negotiated extension");
    switch (h.opcode) {
        case Opcode::kText:
        case Opcode::kBinary:
            if (in_message_) return fail("a new message started inside a fragmented one");
            return true;
        case Opcode::kContinuation:
            if (!in_message_) return fail("a continuation frame outside a message");
            return true;
        case Opcode::kClose:
        case Opcode::kPing:
        case Opcode::kPong:
            if (!h.fin) return fail("a fragmented control frame");
            if (h.length > net::ws::kMaxControlPayload) {
                return fail("a control frame of " + std::to_string(h.length) +
                            " bytes (at most 125)");
            }
            return true;
    }
    return fail("unknown opcode " + std::to_string(static_cast<unsigned>(h.opcode)));
}

void WsReader::end_frame(WsReaderSink& sink) {
    in_frame_ = false;
    if (net::ws::is_control(frame_.opcode)) {
        sink.on_control(frame_.opcode, std::string_view(control_, control_len_));
        control_len_ = 0;
        return;
    }
    if (frame_.fin) {
        in_message_ = false;
        sink.on_message(message_op_, message_len_, std::string_view(prefix_, prefix_len_));
    }
}

bool WsReader::feed(const char* data, size_t n, WsReaderSink& sink) {
    if (failed_) return false;
    while (n != 0) {
        if (!in_frame_) {
            // The header: in place when it lies whole in `data`, else gathered in header_.
            FrameHeader h;
            HeaderStatus st;
            size_t used;
            if (header_len_ == 0) {
                st = net::ws::parse_frame_header(std::string_view(data, n), h);
                if (st == HeaderStatus::kIncomplete) {
                    std::memcpy(header_, data, n);  // n < kMaxHeaderSize here
                    header_len_ = n;
                    return true;
                }
                used = h.header_size;
            } else {
                const size_t take = std::min(n, sizeof header_ - header_len_);
                std::memcpy(header_ + header_len_, data, take);
                st = net::ws::parse_frame_header(std::string_view(header_, header_len_ + take), h);
                if (st == HeaderStatus::kIncomplete) {
                    header_len_ += take;
                    return true;
                }
                used = h.header_size - header_len_;  // bytes of `data` that were header
                header_len_ = 0;
            }
            if (st == HeaderStatus::kInvalid) return fail("an invalid payload length");
            if (!accept_header(h)) return false;
            data += used;
            n -= used;
            frame_ = h;
            in_frame_ = true;
            remaining_ = h.length;
            if (h.opcode == Opcode::kText || h.opcode == Opcode::kBinary) {
                in_message_ = true;
                message_op_ = h.opcode;
                message_len_ = 0;
                prefix_len_ = 0;
            }
        }
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n));
        if (take != 0) {
            if (net::ws::is_control(frame_.opcode)) {
                std::memcpy(control_ + control_len_, data, take);
                control_len_ += take;
            } else {
                if (prefix_len_ < kPrefix) {
                    const size_t p = std::min(take, kPrefix - prefix_len_);
                    std::memcpy(prefix_ + prefix_len_, data, p);
                    prefix_len_ += p;
                }
                sink.on_data(std::string_view(data, take), message_len_);
                message_len_ += take;
            }
            data += take;
            n -= take;
            remaining_ -= take;
        }
        if (remaining_ == 0) end_frame(sink);
    }
    return true;
}

}  // namespace nexure::load
