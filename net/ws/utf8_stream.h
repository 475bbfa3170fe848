// Utf8Stream: UTF-8 validation (RFC 3629) of text that arrives in pieces — a WebSocket text
// message whose frames (or receive buffers) may split a code point. Fails at the first byte that
// can never be part of valid UTF-8, so a connection sending invalid text is closed (1007) without
// waiting for the rest of the message. Any thread; one per message being received.
#pragma once

#include <cstdint>
#include <string_view>

namespace nexure::net::ws {

class Utf8Stream {
  public:
    // Checks the next piece. False once the text so far cannot be the start of valid UTF-8 (no
    // overlong forms, no surrogates, nothing above U+10FFFF); stays false until reset().
    bool feed(std::string_view piece) noexcept;
    // True when everything fed is valid and no code point is left unfinished (the message's end).
    bool complete() const noexcept { return state_ == kAccept; }
    // True once feed() returned false (an impossible byte), as opposed to text cut short.
    bool failed() const noexcept { return state_ == kReject; }
    void reset() noexcept { state_ = kAccept; }

  private:
    static constexpr uint32_t kAccept = 0;
    static constexpr uint32_t kReject = 1;
    uint32_t state_ = kAccept;
};

}  // namespace nexure::net::ws
