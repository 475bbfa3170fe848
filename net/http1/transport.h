// The byte transport under a connection's HTTP/1 exchange: what turns the socket's bytes into the
// protocol's, and the protocol's output into the bytes a send carries. The HTTP/1 logic (parse,
// answer, order, stream, upgrade) meets the socket's bytes only through these three steps, so a
// TLS transport — OpenSSL over memory BIOs: records decrypted on the way in, the output encrypted
// before each send, close_notify before the write side is shut — replaces this class without
// touching HTTP/1 (or WebSocket) logic.
//
// Plain TCP is the only transport built now. Its steps are identities resolved at compile time:
// no indirection and no copy on the hot path. Worker thread only.
#pragma once

#include <sys/socket.h>

#include <cstddef>

#include "alloc/byte_buffer.h"

namespace nexure::net::http1 {

class PlainTransport {
  public:
    // Bytes read from the socket, borrowed for the call, with `readable_after` more bytes of
    // their buffer readable after them: `deliver(data, len, readable_after)` gets the protocol's
    // bytes and what may be read after them (plain: these, once; TLS: whatever records they
    // complete, maybe none, in its own buffer). The room lets a body be parsed in place
    // (http::Request::body_padding()).
    template <typename Deliver>
    static void received(const char* data, size_t len, size_t readable_after,
                         Deliver&& deliver) noexcept {
        deliver(data, len, readable_after);
    }
    // The protocol's output, about to be sent: the buffer whose bytes go on the wire (plain: the
    // same one; TLS: its encryption).
    static alloc::ByteBuffer& outgoing(alloc::ByteBuffer& protocol_output) noexcept {
        return protocol_output;
    }
    // The protocol has written its last byte: end the write side (plain: shutdown; TLS:
    // close_notify first).
    static void shutdown_write(int fd) noexcept { ::shutdown(fd, SHUT_WR); }
};

using Transport = PlainTransport;

}  // namespace nexure::net::http1
