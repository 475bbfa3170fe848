// The client's side of the WebSocket opening handshake for nexload --ws (RFC 6455 §4.1): a random
// Sec-WebSocket-Key per connection, and the check of the server's answer — 101, Upgrade:
// websocket, Connection: upgrade, the Sec-WebSocket-Accept that the key calls for (computed with
// nexure::net::ws::accept_key), and no extension (nexload offers none). The request itself is
// build_ws_handshake() (options.h). Pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nexure::load {

// A Sec-WebSocket-Key: base64 of 16 bytes drawn from `state` (a splitmix64 state, advanced).
std::string random_ws_key(uint64_t& state);

struct WsHandshakeReply {
    enum class Outcome : uint8_t {
        kIncomplete,  // the head has not ended yet: read more
        kAccepted,    // the upgrade is done; frames start at head_size
        kRefused,     // any other answer: `why` says what was wrong
    };
    Outcome outcome = Outcome::kIncomplete;
    int status = 0;        // the status code, once the status line is complete and valid
    size_t head_size = 0;  // bytes of the answer's head (up to and with the empty line)
    std::string why;
};

// The longest handshake answer head nexload reads; a longer one is refused.
inline constexpr size_t kMaxHandshakeHead = 16 * 1024;

// Reads the server's answer so far (`bytes`, from its first byte) and checks it against the
// expected Sec-WebSocket-Accept value.
WsHandshakeReply check_ws_handshake_reply(std::string_view bytes, std::string_view expected_accept);

}  // namespace nexure::load
