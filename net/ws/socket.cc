#include "net/ws/socket.h"

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <utility>

#include "net/ws/hub.h"

namespace nexure::net::ws::detail {

namespace {
// A close frame sent: how long the peer has to answer it (and to read what is queued before
// it) before TCP is closed anyway.
constexpr uint64_t kCloseTimeoutMs = 3'000;
}  // namespace

void Socket::start(int fd, std::string received, Accepted& accepted) {
    generation_ = (generation_ + 1) & 0xFFFFFF;
    if (generation_ == 0) generation_ = 1;
    id_ = (uint64_t{hub_.worker().index() & 0xFF} << 56) | (uint64_t{generation_} << 32) | slot_;
    in_use_ = true;
    ended_ = finishing_ = want_drain_ = ping_sent_ = opened_ = false;
    reading_paused_ = false;
    depth_ = 0;
    sent_close_code_ = 0;
    close_deadline_ms_ = 0;
    behaviour_ = accepted.behaviour;
    deflate_ = accepted.deflate;
    data_ = std::move(accepted.data);
    subprotocol_ = std::move(accepted.protocol);
    remote_ = accepted.remote;
    last_received_ms_ = hub_.now_ms();

    ++depth_;
    protocol_.emplace();
    Deflater* shared = nullptr;
    if (deflate_ && deflate_->server_no_context_takeover) {
        shared = hub_.shared_deflater(behaviour_->compression.level,
                                      deflate_->server_max_window_bits);
    }
    const bool ready = protocol_->init(Limits{.max_payload = behaviour_->max_payload},
                                       deflate_ ? &*deflate_ : nullptr, shared);
    tcp_ = client::TcpSocket::adopt(fd);
    if (!ready || !tcp_) {
        std::fprintf(stderr, "nexure: worker %u: websocket: %s (the connection is closed)\n",
                     hub_.worker().index(),
                     !ready ? "zlib could not allocate a compression context" : "no worker ring");
        ended_ = true;
        tcp_.close();
        --depth_;
        maybe_release();
        return;
    }
    const uint32_t g = generation_;
    tcp_.on_data([this, g](std::string_view bytes) {
        if (g == generation_) on_data(bytes);
    });
    tcp_.on_close([this, g](int err) {
        if (g == generation_) on_tcp_closed(err);
    });
    tcp_.on_sent([this, g](size_t left) {
        if (g == generation_) on_sent(left);
    });
    if (behaviour_->open) guarded("open", [&] { behaviour_->open(handle_); });
    opened_ = true;
    if (!received.empty() && !ended_) feed(received.data(), received.size());
    --depth_;
    maybe_release();
}

// ---- receiving ----------------------------------------------------------------------------

void Socket::on_data(std::string_view bytes) noexcept {
    last_received_ms_ = hub_.now_ms();
    // The receive buffer is the worker's own and goes back to the ring after this call: the
    // protocol unmasks payloads in it, in place.
    feed(const_cast<char*>(bytes.data()), bytes.size());
}

void Socket::feed(char* data, size_t n) noexcept {
    if (ended_ || finishing_) return;
    alloc::ByteBuffer* out = tcp_.output();
    if (out == nullptr) return;
    ++depth_;
    const Protocol::Feed result = protocol_->feed(data, n, *this, *out);
    if (result == Protocol::Feed::kClosed && !ended_) {
        const uint16_t code = sent_close_code_ != 0 ? sent_close_code_ : peer_code_;
        finishing_ = true;  // before the callback: the socket is no longer open to it
        ended(code, sent_close_code_ != 0 ? std::string_view{} : std::string_view(peer_reason_));
        finish();
    }
    --depth_;
    maybe_release();
}

void Socket::on_message(std::string_view payload, bool binary) {
    if (ended_ || !protocol_->open() || !behaviour_->message) return;
    guarded("message", [&] { behaviour_->message(handle_, payload, binary); });
    hub_.after_delivery(*this);
}

void Socket::on_ping(std::string_view payload) {
    if (ended_ || !behaviour_->ping) return;
    guarded("ping", [&] { behaviour_->ping(handle_, payload); });
}

void Socket::on_pong(std::string_view payload) {
    ping_sent_ = false;
    if (ended_ || !behaviour_->pong) return;
    guarded("pong", [&] { behaviour_->pong(handle_, payload); });
}

void Socket::on_close(uint16_t code, std::string_view reason) {
    peer_code_ = code;
    peer_reason_.assign(reason);
}

void Socket::on_tcp_closed(int /*err*/) noexcept {
    ++depth_;
    // Without a close frame: 1006 — unless the server had sent one (its code stands).
    if (!ended_) ended(sent_close_code_ != 0 ? sent_close_code_ : close_code::kAbnormal, {});
    --depth_;
    maybe_release();
}

// ---- sending ------------------------------------------------------------------------------

size_t Socket::buffered() const noexcept { return tcp_.buffered(); }

std::optional<WebSocket::SendStatus> Socket::refused(size_t before) noexcept {
    if (!open()) return WebSocket::SendStatus::kClosed;
    if (before < behaviour_->max_backpressure) return std::nullopt;
    if (behaviour_->overflow == WsOverflow::kDrop) return WebSocket::SendStatus::kDropped;
    overflowed();
    return WebSocket::SendStatus::kClosed;
}

WebSocket::SendStatus Socket::send(std::string_view message, Opcode opcode, bool compress) noexcept {
    const size_t before = buffered();
    if (std::optional<WebSocket::SendStatus> no = refused(before)) return *no;
    if (before == 0 && message.size() >= kDirectSend && !is_control(opcode) &&
        !(compress && deflate_ && deflate_->server_compresses())) {
        return send_direct(message, opcode);
    }
    alloc::ByteBuffer* out = tcp_.output();
    if (out == nullptr || !protocol_->send(*out, message, opcode, compress))
        return WebSocket::SendStatus::kClosed;
    return after_send();
}

WebSocket::SendStatus Socket::send_direct(std::string_view message, Opcode opcode) noexcept {
    // Nothing queued: header and payload go to the kernel now, from where they are (a large
    // message is not copied into the output first); what it does not take is queued as usual.
    char header[kMaxHeaderSize];
    const size_t h = write_frame_header(header, opcode, true, false, message.size(), nullptr);
    const iovec parts[2] = {{header, h}, {const_cast<char*>(message.data()), message.size()}};
    const size_t taken = tcp_.write_now(parts);
    if (taken == h + message.size()) return WebSocket::SendStatus::kSent;
    alloc::ByteBuffer* out = tcp_.output();
    if (out == nullptr) return WebSocket::SendStatus::kClosed;
    if (taken < h) out->append(header + taken, h - taken);
    const size_t from = taken > h ? taken - h : 0;
    out->append(message.data() + from, message.size() - from);
    return after_send();
}

WebSocket::SendStatus Socket::send_encoded(std::string_view frame) noexcept {
    const size_t before = buffered();
    if (std::optional<WebSocket::SendStatus> no = refused(before)) return *no;
    alloc::ByteBuffer* out = tcp_.output();
    if (out == nullptr) return WebSocket::SendStatus::kClosed;
    out->append(frame);
    return after_send();
}

WebSocket::SendStatus Socket::after_send() noexcept {
    if (buffered() < behaviour_->max_backpressure) return WebSocket::SendStatus::kSent;
    want_drain_ = true;
    return WebSocket::SendStatus::kBackpressure;
}

void Socket::overflowed() noexcept {
    std::fprintf(stderr,
                 "nexure: worker %u: websocket: a client left %zu bytes unread (max_backpressure "
                 "%zu): closed with 1008\n",
                 hub_.worker().index(), buffered(), behaviour_->max_backpressure);
    end(close_code::kPolicyViolation, "backpressure limit");
}

void Socket::on_sent(size_t left) noexcept {
    ++depth_;
    if (finishing_ && left == 0) {
        tcp_.close();
    } else if (want_drain_ && left < behaviour_->max_backpressure && !ended_) {
        want_drain_ = false;
        if (behaviour_->drain) guarded("drain", [&] { behaviour_->drain(handle_); });
    }
    --depth_;
    maybe_release();
}

// ---- closing ------------------------------------------------------------------------------

void Socket::end(uint16_t code, std::string_view reason) noexcept {
    if (!open()) return;
    alloc::ByteBuffer* out = tcp_.output();
    if (out == nullptr) return;
    sent_close_code_ = code;
    protocol_->close(*out, code, reason);
    close_deadline_ms_ = hub_.now_ms() + kCloseTimeoutMs;
}

void Socket::close_now() noexcept {
    if (!in_use_) return;
    ++depth_;
    if (!ended_) ended(close_code::kAbnormal, {});
    tcp_.close();
    --depth_;
    maybe_release();
}

void Socket::finish() noexcept {
    finishing_ = true;
    close_deadline_ms_ = hub_.now_ms() + kCloseTimeoutMs;
    // The server closes TCP first (RFC 6455 §7.1.1), once the close frame is out.
    if (tcp_.buffered() == 0) tcp_.close();
}

void Socket::ended(uint16_t code, std::string_view reason) noexcept {
    if (ended_) return;
    ended_ = true;
    hub_.topics().leave_all(*this);
    if (opened_ && behaviour_->close) {
        try {
            behaviour_->close(handle_, code, reason);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "nexure: worker %u: websocket: the close callback threw: %s\n",
                         hub_.worker().index(), e.what());
        } catch (...) {
            std::fprintf(stderr, "nexure: worker %u: websocket: the close callback threw\n",
                         hub_.worker().index());
        }
    }
}

void Socket::sweep(uint64_t now_ms) noexcept {
    if (!in_use_) return;
    ++depth_;
    if (close_deadline_ms_ != 0 && now_ms >= close_deadline_ms_) {
        // The peer did not answer the close frame (or read it) in time.
        if (!ended_) ended(sent_close_code_ != 0 ? sent_close_code_ : close_code::kAbnormal, {});
        tcp_.close();
    } else if (open() && behaviour_->idle_timeout_s != 0) {
        const uint64_t idle = now_ms - last_received_ms_;
        const uint64_t limit = uint64_t{behaviour_->idle_timeout_s} * 1000;
        if (idle >= limit) {
            end(close_code::kGoingAway, "idle timeout");
        } else if (behaviour_->send_pings && !ping_sent_ && idle >= limit / 2) {
            if (alloc::ByteBuffer* out = tcp_.output()) {
                protocol_->send(*out, {}, Opcode::kPing, false);
                ping_sent_ = true;
            }
        }
    }
    --depth_;
    maybe_release();
}

void Socket::maybe_release() noexcept {
    if (depth_ != 0 || !in_use_ || !ended_ || tcp_.open()) return;
    tcp_ = client::TcpSocket{};
    protocol_.reset();
    data_.reset();
    topics_.clear();
    peer_reason_.clear();
    in_use_ = false;
    hub_.release(*this);
}

template <typename Fn>
void Socket::guarded(const char* what, Fn&& fn) noexcept {
    try {
        fn();
        return;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexure: worker %u: websocket: the %s callback threw: %s (closed with 1011)\n",
                     hub_.worker().index(), what, e.what());
    } catch (...) {
        std::fprintf(stderr, "nexure: worker %u: websocket: the %s callback threw (closed with 1011)\n",
                     hub_.worker().index(), what);
    }
    end(close_code::kInternalError, "");
}

}  // namespace nexure::net::ws::detail
