// WsReader: splits one connection's byte stream from a WebSocket server into frames and messages
// for nexload --ws, and checks what a client must check (RFC 6455 §5): server frames are not
// masked, RSV bits are 0 (nexload negotiates no extension), opcodes are known, control frames are
// whole and at most 125 bytes, continuations continue a message and a new message does not start
// inside one. Headers are read with nexure::net::ws::parse_frame_header.
//
// Incremental: feed() takes whatever a read returned. Data payloads are not copied: the sink sees
// them in the pieces they arrived in (with their offset in the message), plus the first
// kPrefix bytes of each message gathered across pieces. Control payloads (at most 125 bytes) are
// gathered whole. One per connection, its owner's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/ws/frame.h"

namespace nexure::load {

class WsReaderSink {
  public:
    // Part of a data message's payload, `offset` bytes into the message (valid during the call).
    virtual void on_data(std::string_view piece, uint64_t offset) noexcept = 0;
    // A whole data message: its opcode (kText or kBinary), its length and its first bytes (up to
    // WsReader::kPrefix, valid during the call).
    virtual void on_message(net::ws::Opcode opcode, uint64_t length,
                            std::string_view prefix) noexcept = 0;
    // A ping, pong or close frame with its payload (valid during the call).
    virtual void on_control(net::ws::Opcode opcode, std::string_view payload) noexcept = 0;

  protected:
    ~WsReaderSink() = default;
};

class WsReader {
  public:
    static constexpr size_t kPrefix = 32;

    // Reads `n` bytes. Returns false at the first frame that breaks a rule; error() then says
    // which, and the rest of the stream cannot be trusted. The sink may be called synchronously.
    bool feed(const char* data, size_t n, WsReaderSink& sink);

    const std::string& error() const noexcept { return error_; }

  private:
    bool fail(std::string why);
    // Checks a complete header against the rules; false (with error_) when it breaks one.
    bool accept_header(const net::ws::FrameHeader& h);
    // The frame's payload is all read.
    void end_frame(WsReaderSink& sink);

    net::ws::FrameHeader frame_{};
    bool in_frame_ = false;        // a header was read, its payload is being read
    uint64_t remaining_ = 0;       // payload bytes of the current frame still to come
    bool in_message_ = false;      // a data message has started and not ended
    net::ws::Opcode message_op_ = net::ws::Opcode::kText;
    uint64_t message_len_ = 0;     // its payload bytes so far
    char header_[net::ws::kMaxHeaderSize] = {};  // a header split across reads
    size_t header_len_ = 0;
    char prefix_[kPrefix] = {};
    size_t prefix_len_ = 0;
    char control_[net::ws::kMaxControlPayload] = {};
    size_t control_len_ = 0;
    bool failed_ = false;
    std::string error_;
};

}  // namespace nexure::load
