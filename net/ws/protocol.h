// Protocol: the server's side of one WebSocket connection as a state machine, without I/O — bytes
// in (feed), messages and control events out (ProtocolSink), frames out (into a ByteBuffer the
// caller sends). Everything RFC 6455 and RFC 7692 ask of a server lives here, so that it is tested
// frame by frame and fuzzed without sockets (tests/ws/, tests/fuzz/ws_fuzz.cc):
// - client frames must be masked; RSV bits only as negotiated (RSV1 on a message's first frame
//   when permessage-deflate is on); unknown opcodes refused; control frames ≤ 125 bytes, never
//   fragmented, accepted between the fragments of a message;
// - fragmented messages reassembled; text validated as UTF-8 as it arrives, across frame and
//   buffer boundaries (invalid: close 1007 at once, not at the message's end);
// - a message (after inflating) longer than Limits::max_payload: close 1009; deflated data that
//   does not inflate: 1007;
// - ping answered with a pong carrying its payload (queued before on_ping runs); a close frame
//   answered with a close frame echoing its code (1005 when it had none: an empty close), after
//   which the caller sends what is queued and closes TCP (the server closes first, §7.1.1); bad
//   close payloads (1 byte, an invalid code, a reason that is not UTF-8) get 1002 / 1007.
// A protocol error queues a close frame with its code and ends the connection (kClosed): nothing
// received after it is read. Used by one thread at a time (the worker owning the connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "alloc/byte_buffer.h"
#include "net/ws/deflate.h"
#include "net/ws/frame.h"
#include "net/ws/utf8_stream.h"

namespace nexure::net::ws {

struct Limits {
    // The largest message accepted (after inflating), in bytes; longer ones close with 1009.
    size_t max_payload = 1024 * 1024;
};

// What a connection's protocol reports. Every string_view is borrowed for the call.
class ProtocolSink {
  public:
    virtual ~ProtocolSink() = default;
    // A whole message (reassembled, inflated, text validated).
    virtual void on_message(std::string_view payload, bool binary) = 0;
    // A ping arrived; its pong is already queued.
    virtual void on_ping(std::string_view /*payload*/) {}
    virtual void on_pong(std::string_view /*payload*/) {}
    // The connection is closing: the peer's close frame arrived (`code` is its code, 1005 when it
    // had none; the answering close frame is queued), or the peer broke a rule (`code` is the one
    // the server sent: 1002, 1007, 1009). Runs once; feed() then returns kClosed.
    virtual void on_close(uint16_t code, std::string_view reason) = 0;
};

class Protocol {
  public:
    Protocol() = default;
    Protocol(const Protocol&) = delete;
    Protocol& operator=(const Protocol&) = delete;

    // `deflate`: the negotiated permessage-deflate parameters, or null. Compression needs a
    // Deflater: `shared` is used when the server takes no context over between messages (the
    // worker's, for every such connection; it must outlive this Protocol), else the Protocol makes
    // its own. False when zlib cannot allocate.
    bool init(const Limits& limits, const DeflateParams* deflate, Deflater* shared = nullptr) noexcept;

    enum class Feed : uint8_t {
        kOpen,    // keep reading
        kClosed,  // the close handshake ended or a rule was broken: send `out`, then close TCP
    };
    // Reads received bytes: whole frames are handled, a partial one is kept (the header in a
    // small array, the payload unmasked into the message buffer — each byte copied at most once).
    // `data` is writable: payloads are unmasked in place, and a whole unfragmented message that
    // lies in `data` reaches on_message without a copy. Frames to send (pongs, close) are
    // appended to `out`. After kClosed, further calls read nothing.
    Feed feed(char* data, size_t n, ProtocolSink& sink, alloc::ByteBuffer& out) noexcept;

    // Appends a message frame (kText or kBinary; kPing/kPong for control frames of at most 125
    // bytes) to `out`. `compress`: deflate it when permessage-deflate was negotiated and it is at
    // least DeflateOptions::min_size long (else sent as is). False, with nothing appended, after
    // close() or the end of the connection, or for a control payload over 125 bytes.
    bool send(alloc::ByteBuffer& out, std::string_view payload, Opcode opcode, bool compress) noexcept;

    // Starts the close handshake: appends a close frame with `code` (none when kNoStatus) and
    // `reason` (cut to 123 bytes at a UTF-8 boundary). Later sends are refused; the connection
    // ends when the peer's close arrives (feed returns kClosed) or the caller's timeout. Once.
    void close(alloc::ByteBuffer& out, uint16_t code, std::string_view reason) noexcept;

    bool open() const noexcept { return state_ == State::kOpen; }
    // Whether send(..., compress = true) deflates messages (permessage-deflate was negotiated with
    // a window zlib can keep to). A frame can be shared with other connections (publish encodes
    // a message once) when it is uncompressed, or compressed by the same shared Deflater: see
    // deflater().
    bool compresses() const noexcept { return deflate_on_; }
    // The Deflater send() compresses with: the `shared` one given to init() (reset after every
    // message, so its frames suit every connection that uses it), the connection's own, or null.
    const Deflater* deflater() const noexcept { return deflater_; }
    // Bytes held for a message not yet complete (for memory accounting).
    size_t buffered() const noexcept { return message_.size() + compressed_.size(); }

  private:
    enum class State : uint8_t { kOpen, kClosing /* we sent close */, kClosed };

    // Each returns false when the connection ended (a broken rule or the peer's close).
    bool on_header(ProtocolSink& sink, alloc::ByteBuffer& out) noexcept;
    bool on_control(std::string_view payload, ProtocolSink& sink, alloc::ByteBuffer& out) noexcept;
    // A message's last frame was read (`compressed`: its deflated bytes, when it is compressed).
    bool on_message_end(std::string_view compressed, ProtocolSink& sink,
                        alloc::ByteBuffer& out) noexcept;
    [[gnu::cold, gnu::noinline]] bool fail(uint16_t code, std::string_view reason,
                                           ProtocolSink& sink, alloc::ByteBuffer& out) noexcept;
    const char* utf8_reason() const noexcept;
    void trim_buffers() noexcept;
    size_t compressed_limit() const noexcept;

    State state_ = State::kOpen;
    bool deflate_on_ = false;   // this side compresses what it sends (negotiated, window ≥ 9)
    bool inflate_on_ = false;   // permessage-deflate negotiated: RSV1 allowed on first frames
    bool in_payload_ = false;   // frame_ is read; its payload is arriving
    bool msg_compressed_ = false;
    Opcode msg_opcode_ = Opcode::kContinuation;  // the message being reassembled; kContinuation: none
    uint8_t header_len_ = 0;    // bytes of a partial frame header in header_
    uint8_t control_len_ = 0;   // bytes of a partial control frame's payload in control_
    FrameHeader frame_{};
    uint64_t frame_read_ = 0;   // payload bytes of frame_ read so far
    Limits limits_{};
    size_t min_size_ = 64;
    Utf8Stream utf8_;
    std::string message_;     // a fragmented or partial message, unmasked
    std::string compressed_;  // a compressed message's frames, joined, before inflating
    std::unique_ptr<Inflater> inflater_;
    std::unique_ptr<Deflater> own_deflater_;
    Deflater* deflater_ = nullptr;
    char header_[kMaxHeaderSize];
    char control_[kMaxControlPayload];
};

}  // namespace nexure::net::ws
