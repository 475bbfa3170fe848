#include "net/ws/protocol.h"

#include <algorithm>
#include <cstring>

namespace nexure::net::ws {
namespace {

// Message buffers keep their capacity between messages up to this size (no allocation per
// message in steady state); a larger one is given back after its message, so that a connection
// that once received a big message does not hold its memory while idle.
constexpr size_t kKeptCapacity = 64 * 1024;

// A frame header's size from its second byte (the length form and the mask bit).
size_t header_bytes(uint8_t b1) noexcept {
    const uint8_t len7 = b1 & 0x7F;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) != 0 ? 4 : 0);
}

void append_close(alloc::ByteBuffer& out, uint16_t code, std::string_view reason) noexcept {
    char payload[kMaxControlPayload];
    payload[0] = static_cast<char>(code >> 8);
    payload[1] = static_cast<char>(code & 0xFF);
    size_t n = std::min<size_t>(reason.size(), kMaxControlPayload - 2);
    // Never cut a code point in two: back off to the start of the one the cut falls in.
    if (n < reason.size())
        while (n > 0 && (static_cast<uint8_t>(reason[n]) & 0xC0) == 0x80)
            --n;
    if (n != 0) std::memcpy(payload + 2, reason.data(), n);
    append_frame(out, Opcode::kClose, true, false, std::string_view(payload, 2 + n));
}

}  // namespace

bool Protocol::init(const Limits& limits, const DeflateParams* deflate, Deflater* shared) noexcept {
    state_ = State::kOpen;
    in_payload_ = false;
    msg_compressed_ = false;
    msg_opcode_ = Opcode::kContinuation;
    header_len_ = 0;
    control_len_ = 0;
    frame_ = FrameHeader{};
    frame_read_ = 0;
    limits_ = limits;
    utf8_.reset();
    message_.clear();
    compressed_.clear();
    trim_buffers();
    deflate_on_ = false;
    inflate_on_ = false;
    deflater_ = nullptr;
    if (deflate == nullptr) {
        inflater_.reset();
        own_deflater_.reset();
        return true;
    }
    min_size_ = deflate->min_size;
    if (!inflater_) inflater_ = std::make_unique<Inflater>();
    if (!inflater_->init(deflate->client_max_window_bits, deflate->client_no_context_takeover))
        return false;
    inflate_on_ = true;
    if (deflate->server_compresses()) {
        if (deflate->server_no_context_takeover && shared != nullptr && shared->ready() &&
            shared->window_bits() <= deflate->server_max_window_bits) {
            deflater_ = shared;
            own_deflater_.reset();
        } else {
            if (!own_deflater_) own_deflater_ = std::make_unique<Deflater>();
            if (!own_deflater_->init(deflate->level, deflate->server_max_window_bits,
                                     deflate->server_no_context_takeover))
                return false;
            deflater_ = own_deflater_.get();
        }
        deflate_on_ = true;
    } else {
        own_deflater_.reset();
    }
    return true;
}

Protocol::Feed Protocol::feed(char* data, size_t n, ProtocolSink& sink,
                              alloc::ByteBuffer& out) noexcept {
    if (state_ == State::kClosed) return Feed::kClosed;
    size_t p = 0;
    while (p < n) {
        if (!in_payload_) {
            HeaderStatus status;
            if (header_len_ == 0) {
                status = parse_frame_header(std::string_view(data + p, n - p), frame_);
                if (status == HeaderStatus::kIncomplete) {
                    // Fewer than kMaxHeaderSize bytes: keep them for the next call.
                    std::memcpy(header_, data + p, n - p);
                    header_len_ = static_cast<uint8_t>(n - p);
                    return Feed::kOpen;
                }
                if (status == HeaderStatus::kComplete) p += frame_.header_size;
            } else {
                // A header split across calls: take exactly its bytes, no payload byte.
                for (;;) {
                    const size_t need =
                        header_len_ < 2 ? 2 : header_bytes(static_cast<uint8_t>(header_[1]));
                    if (header_len_ >= 2 && header_len_ == need) break;
                    if (p == n) return Feed::kOpen;
                    const size_t take = std::min(need - header_len_, n - p);
                    std::memcpy(header_ + header_len_, data + p, take);
                    header_len_ = static_cast<uint8_t>(header_len_ + take);
                    p += take;
                }
                status = parse_frame_header(std::string_view(header_, header_len_), frame_);
                header_len_ = 0;
            }
            if (status != HeaderStatus::kComplete) {
                fail(close_code::kProtocolError, "frame length not in its shortest form", sink,
                     out);
                return Feed::kClosed;
            }
            if (!on_header(sink, out)) return Feed::kClosed;
        }

        const uint64_t left = frame_.length - frame_read_;
        const size_t take = left < n - p ? static_cast<size_t>(left) : n - p;
        char* piece = data + p;
        p += take;

        if (is_control(frame_.opcode)) {
            if (frame_read_ == 0 && take == left) {
                apply_mask(piece, take, frame_.mask, 0);
                in_payload_ = false;
                if (!on_control(std::string_view(piece, take), sink, out)) return Feed::kClosed;
                continue;
            }
            std::memcpy(control_ + control_len_, piece, take);
            apply_mask(control_ + control_len_, take, frame_.mask, frame_read_);
            control_len_ = static_cast<uint8_t>(control_len_ + take);
            frame_read_ += take;
            if (frame_read_ == frame_.length) {
                in_payload_ = false;
                if (!on_control(std::string_view(control_, control_len_), sink, out))
                    return Feed::kClosed;
            }
            continue;
        }

        if (frame_read_ == 0 && take == left && frame_.fin &&
            frame_.opcode != Opcode::kContinuation) {
            apply_mask(piece, take, frame_.mask, 0);
            in_payload_ = false;
            if (frame_.rsv1) {
                // A whole compressed message in one frame: inflated from the caller's buffer.
                if (!on_message_end(std::string_view(piece, take), sink, out)) return Feed::kClosed;
                continue;
            }
            // A whole unfragmented, uncompressed message in the caller's buffer: no copy.
            msg_opcode_ = Opcode::kContinuation;
            const bool text = frame_.opcode == Opcode::kText;
            if (text) {
                utf8_.reset();
                if (!utf8_.feed(std::string_view(piece, take)) || !utf8_.complete()) {
                    fail(close_code::kInvalidPayload, utf8_reason(), sink, out);
                    return Feed::kClosed;
                }
            }
            sink.on_message(std::string_view(piece, take), !text);
            continue;
        }

        // A piece of a fragmented, compressed or partly received message: copied once into
        // the message's buffer and unmasked there.
        std::string& buffer = msg_compressed_ ? compressed_ : message_;
        const size_t at = buffer.size();
        buffer.append(piece, take);
        apply_mask(buffer.data() + at, take, frame_.mask, frame_read_);
        frame_read_ += take;
        if (!msg_compressed_ && msg_opcode_ == Opcode::kText &&
            !utf8_.feed(std::string_view(buffer.data() + at, take))) {
            fail(close_code::kInvalidPayload, "text message is not valid UTF-8", sink, out);
            return Feed::kClosed;
        }
        if (frame_read_ == frame_.length) {
            in_payload_ = false;
            if (frame_.fin && !on_message_end(compressed_, sink, out)) return Feed::kClosed;
        }
    }
    return Feed::kOpen;
}

bool Protocol::on_header(ProtocolSink& sink, alloc::ByteBuffer& out) noexcept {
    const FrameHeader& h = frame_;
    if (!h.masked)
        return fail(close_code::kProtocolError, "client frames must be masked", sink, out);
    if (h.rsv2 || h.rsv3)
        return fail(close_code::kProtocolError, "RSV2 and RSV3 must be clear", sink, out);
    frame_read_ = 0;
    control_len_ = 0;
    switch (h.opcode) {
        case Opcode::kClose:
        case Opcode::kPing:
        case Opcode::kPong:
            if (!h.fin)
                return fail(close_code::kProtocolError, "control frames must not be fragmented",
                            sink, out);
            if (h.length > kMaxControlPayload)
                return fail(close_code::kProtocolError, "control frames carry at most 125 bytes",
                            sink, out);
            if (h.rsv1)
                return fail(close_code::kProtocolError, "RSV1 set on a control frame", sink, out);
            break;
        case Opcode::kText:
        case Opcode::kBinary:
            if (msg_opcode_ != Opcode::kContinuation)
                return fail(close_code::kProtocolError,
                            "a new message began before the fragmented one ended", sink, out);
            if (h.rsv1 && !inflate_on_)
                return fail(close_code::kProtocolError,
                            "RSV1 set without permessage-deflate negotiated", sink, out);
            if (h.length > (h.rsv1 ? compressed_limit() : limits_.max_payload))
                return fail(close_code::kMessageTooBig, "message longer than the limit", sink, out);
            msg_opcode_ = h.opcode;
            msg_compressed_ = h.rsv1;
            message_.clear();
            compressed_.clear();
            utf8_.reset();
            break;
        case Opcode::kContinuation: {
            if (msg_opcode_ == Opcode::kContinuation)
                return fail(close_code::kProtocolError, "continuation frame without a message",
                            sink, out);
            if (h.rsv1)
                return fail(close_code::kProtocolError,
                            "RSV1 set on a continuation frame (only the first may have it)", sink,
                            out);
            const size_t held = msg_compressed_ ? compressed_.size() : message_.size();
            const size_t limit = msg_compressed_ ? compressed_limit() : limits_.max_payload;
            if (held > limit || h.length > limit - held)
                return fail(close_code::kMessageTooBig, "message longer than the limit", sink, out);
            break;
        }
        default:
            return fail(close_code::kProtocolError, "unknown opcode", sink, out);
    }
    in_payload_ = true;
    return true;
}

bool Protocol::on_control(std::string_view payload, ProtocolSink& sink,
                          alloc::ByteBuffer& out) noexcept {
    switch (frame_.opcode) {
        case Opcode::kPing:
            // After our close, nothing more is sent (RFC 6455 §5.5.1), a pong neither.
            if (state_ == State::kOpen) append_frame(out, Opcode::kPong, true, false, payload);
            sink.on_ping(payload);
            return true;
        case Opcode::kPong:
            sink.on_pong(payload);
            return true;
        default:
            break;
    }
    // Close.
    uint16_t code = close_code::kNoStatus;
    std::string_view reason;
    if (payload.size() == 1)
        return fail(close_code::kProtocolError, "a close payload of one byte", sink, out);
    if (payload.size() >= 2) {
        code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                     static_cast<uint8_t>(payload[1]));
        if (!valid_close_code(code))
            return fail(close_code::kProtocolError, "invalid close code", sink, out);
        reason = payload.substr(2);
        Utf8Stream check;
        if (!check.feed(reason) || !check.complete())
            return fail(close_code::kInvalidPayload, "close reason is not valid UTF-8", sink, out);
    }
    if (state_ == State::kOpen) {
        // Echo the code (RFC 6455 §5.5.1); an empty close is answered with an empty one.
        if (code == close_code::kNoStatus)
            append_frame(out, Opcode::kClose, true, false, {});
        else
            append_close(out, code, {});
    }
    state_ = State::kClosed;
    sink.on_close(code, reason);
    message_.clear();
    compressed_.clear();
    trim_buffers();
    return false;
}

bool Protocol::on_message_end(std::string_view compressed, ProtocolSink& sink,
                              alloc::ByteBuffer& out) noexcept {
    const bool text = msg_opcode_ == Opcode::kText;
    msg_opcode_ = Opcode::kContinuation;
    if (msg_compressed_) {
        message_.clear();
        const Inflater::Status status =
            inflater_->inflate(compressed, limits_.max_payload, message_);
        compressed_.clear();
        if (status == Inflater::Status::kTooBig)
            return fail(close_code::kMessageTooBig, "message longer than the limit after inflating",
                        sink, out);
        if (status != Inflater::Status::kOk)
            return fail(close_code::kInvalidPayload, "compressed message does not inflate", sink,
                        out);
        if (text) {
            utf8_.reset();
            if (!utf8_.feed(message_) || !utf8_.complete())
                return fail(close_code::kInvalidPayload, utf8_reason(), sink, out);
        }
    } else if (text && !utf8_.complete()) {
        return fail(close_code::kInvalidPayload, utf8_reason(), sink, out);
    }
    sink.on_message(message_, !text);
    message_.clear();
    trim_buffers();
    return true;
}

bool Protocol::fail(uint16_t code, std::string_view reason, ProtocolSink& sink,
                    alloc::ByteBuffer& out) noexcept {
    if (state_ == State::kOpen) append_close(out, code, reason);
    state_ = State::kClosed;
    in_payload_ = false;
    msg_opcode_ = Opcode::kContinuation;
    message_.clear();
    compressed_.clear();
    trim_buffers();
    sink.on_close(code, reason);
    return false;
}

// The same reason whichever way the text arrived (whole, in pieces, compressed): the close
// frame does not depend on how the stream was cut.
const char* Protocol::utf8_reason() const noexcept {
    return utf8_.failed() ? "text message is not valid UTF-8"
                          : "text message ends inside a UTF-8 sequence";
}

void Protocol::trim_buffers() noexcept {
    if (message_.capacity() > kKeptCapacity) std::string().swap(message_);
    if (compressed_.capacity() > kKeptCapacity) std::string().swap(compressed_);
}

size_t Protocol::compressed_limit() const noexcept {
    // Deflate expands data that does not compress by a few bytes per 64 KiB stored block; a
    // compressed message may be that much longer than the limit on its inflated size.
    const size_t max = limits_.max_payload;
    return max + (max >> 8) + 64;
}

bool Protocol::send(alloc::ByteBuffer& out, std::string_view payload, Opcode opcode,
                    bool compress) noexcept {
    if (state_ != State::kOpen) return false;
    switch (opcode) {
        case Opcode::kPing:
        case Opcode::kPong:
            if (payload.size() > kMaxControlPayload) return false;
            append_frame(out, opcode, true, false, payload);
            return true;
        case Opcode::kText:
        case Opcode::kBinary:
            break;
        default:
            return false;
    }
    if (compress && deflate_on_ && payload.size() >= min_size_) {
        // Compress after room for the longest server header, then move the payload down to
        // the header it turned out to need.
        constexpr size_t kRoom = 10;
        const size_t at = out.size();
        out.prepare(kRoom);
        out.commit(kRoom);
        if (deflater_->compress(payload, out)) {
            const size_t length = out.size() - at - kRoom;
            const size_t header = frame_header_size(length, false);
            char* base = out.data() + at;
            if (header != kRoom) std::memmove(base + header, base + kRoom, length);
            write_frame_header(base, opcode, true, true, length, nullptr);
            out.truncate(at + header + length);
            return true;
        }
        out.truncate(at);  // zlib failed: the message goes uncompressed (always allowed)
    }
    append_frame(out, opcode, true, false, payload);
    return true;
}

void Protocol::close(alloc::ByteBuffer& out, uint16_t code, std::string_view reason) noexcept {
    if (state_ != State::kOpen) return;
    if (code == close_code::kNoStatus)
        append_frame(out, Opcode::kClose, true, false, {});
    else
        append_close(out, code, reason);
    state_ = State::kClosing;
}

}  // namespace nexure::net::ws
