// Socket: one WebSocket connection on a worker — its TCP socket on the worker's ring (an adopted
// client::TcpSocket), its Protocol, the application's behaviour and data, its topics, and the
// close sequence (close frame, wait for the peer's, close TCP; the close callback exactly once).
// Lives in a Hub slot (hub.h); worker thread only.
#pragma once

#include <any>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/client/socket.h"
#include "net/ws/protocol.h"
#include "net/ws/websocket.h"

namespace nexure::net::ws::detail {

class Hub;
struct Topic;
struct Accepted;

class Socket final : private ProtocolSink {
  public:
    Socket(Hub& hub, uint32_t slot) noexcept : hub_(hub), slot_(slot), handle_(*this) {}

    // Starts the connection in this (free) slot. `received`: bytes after the handshake.
    void start(int fd, std::string received, Accepted& accepted);

    uint64_t id() const noexcept { return id_; }
    uint32_t slot() const noexcept { return slot_; }
    uint32_t generation() const noexcept { return generation_; }
    bool in_use() const noexcept { return in_use_; }
    bool open() const noexcept {
        return in_use_ && !ended_ && !finishing_ && protocol_ && protocol_->open();
    }
    WebSocket& handle() noexcept { return handle_; }

    // ---- WebSocket's methods
    WebSocket::SendStatus send(std::string_view message, Opcode opcode, bool compress) noexcept;
    // A frame already encoded once for many sockets (publish): copied as is.
    WebSocket::SendStatus send_encoded(std::string_view frame) noexcept;
    void end(uint16_t code, std::string_view reason) noexcept;
    void close_now() noexcept;
    size_t buffered() const noexcept;
    std::any& data() noexcept { return data_; }
    const http::Endpoint& remote() const noexcept { return remote_; }
    std::string_view protocol() const noexcept { return subprotocol_; }
    const WsBehaviour& behaviour() const noexcept { return *behaviour_; }
    // Whether this socket can take a frame compressed by the hub's shared deflater for
    // `window_bits` (permessage-deflate without context takeover, same window).
    bool deflates() const noexcept { return deflate_.has_value(); }
    bool shares_compressed(uint8_t window_bits) const noexcept {
        return deflate_ && deflate_->server_no_context_takeover &&
               deflate_->server_max_window_bits == window_bits;
    }

    std::vector<Topic*>& topics() noexcept { return topics_; }

    // Reading stops while the hub's consumer is full (Hub::after_delivery).
    void pause_reading() noexcept {
        reading_paused_ = true;
        tcp_.pause_reading();
    }
    void resume_reading() noexcept {
        reading_paused_ = false;
        tcp_.resume_reading();
    }
    bool reading_paused() const noexcept { return reading_paused_; }

    // The hub's sweep: idle pings and timeouts, and close frames not answered in time.
    void sweep(uint64_t now_ms) noexcept;

  private:
    // ProtocolSink
    void on_message(std::string_view payload, bool binary) override;
    void on_ping(std::string_view payload) override;
    void on_pong(std::string_view payload) override;
    void on_close(uint16_t code, std::string_view reason) override;

    void on_data(std::string_view bytes) noexcept;
    void on_tcp_closed(int err) noexcept;
    void on_sent(size_t left) noexcept;
    // Reads bytes (writable copies or the receive buffer itself).
    void feed(char* data, size_t n) noexcept;
    // Messages at least this long are offered to the kernel at once when nothing is queued.
    static constexpr size_t kDirectSend = 8 * 1024;
    WebSocket::SendStatus send_direct(std::string_view message, Opcode opcode) noexcept;
    // Before a send: kClosed when the socket is not open; when the output is already at
    // max_backpressure, kDropped (WsOverflow::kDrop) or kClosed after ending it (kClose); else
    // nothing (the send may go ahead).
    std::optional<WebSocket::SendStatus> refused(size_t before) noexcept;
    // After a send: kBackpressure (and a drain owed) when the output is now above the limit.
    WebSocket::SendStatus after_send() noexcept;
    // The output went beyond the limit with WsOverflow::kClose.
    void overflowed() noexcept;
    // The protocol ended: send what is queued, then close TCP.
    void finish() noexcept;
    // Reports the close once, leaves the topics, closes TCP and frees the slot (when nothing of
    // the socket is on the stack).
    void ended(uint16_t code, std::string_view reason) noexcept;
    void maybe_release() noexcept;
    // Runs an application callback; an exception is logged and the socket ends with 1011.
    template <typename Fn>
    void guarded(const char* what, Fn&& fn) noexcept;

    Hub& hub_;
    const uint32_t slot_;
    uint32_t generation_ = 0;
    uint64_t id_ = 0;
    WebSocket handle_;
    bool in_use_ = false;
    bool ended_ = false;          // the close callback ran (or is running)
    bool finishing_ = false;      // the protocol ended: TCP closes once the output is sent
    bool want_drain_ = false;     // a send found the output above the limit
    bool ping_sent_ = false;      // an idle ping is out, unanswered
    bool opened_ = false;         // the open callback ran
    bool reading_paused_ = false; // the hub's consumer is full
    uint32_t depth_ = 0;          // calls of this socket on the stack
    uint64_t last_received_ms_ = 0;
    uint64_t close_deadline_ms_ = 0;  // a close frame was sent: the peer's is awaited until then
    uint16_t sent_close_code_ = 0;
    const WsBehaviour* behaviour_ = nullptr;
    client::TcpSocket tcp_;
    std::optional<Protocol> protocol_;  // made afresh for each connection
    std::optional<DeflateParams> deflate_;
    std::any data_;
    http::Endpoint remote_;
    std::string subprotocol_;
    std::vector<Topic*> topics_;
    // The peer's close, reported after feed() returns.
    uint16_t peer_code_ = 0;
    std::string peer_reason_;
};

}  // namespace nexure::net::ws::detail
