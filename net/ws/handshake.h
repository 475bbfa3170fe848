// The opening handshake (RFC 6455 §4.2): checking a client's upgrade request and computing the
// answer's fields. Takes the request's field values as strings, so it has no dependency on the
// HTTP parser (the server's glue, net/ws/upgrade.cc, reads them from an http::Request). Any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace nexure::net::ws {

// The fields of an upgrade request that decide the handshake. A field sent several times is
// given as its values joined by ", " (RFC 9110 §5.3); an absent field is empty.
struct HandshakeRequest {
    std::string_view method;       // must be GET
    bool http_1_1 = false;         // HTTP/1.1 or later
    std::string_view upgrade;      // must list the token "websocket" (case-insensitive)
    std::string_view connection;   // must list the token "upgrade" (case-insensitive)
    std::string_view key;          // Sec-WebSocket-Key: base64 of 16 bytes (24 characters)
    std::string_view version;      // Sec-WebSocket-Version: must be 13
    std::string_view protocols;    // Sec-WebSocket-Protocol: subprotocols, in the client's preference
    std::string_view extensions;   // Sec-WebSocket-Extensions
    std::string_view origin;       // Origin (browsers send it; checked by the application's hook)
};

struct HandshakeCheck {
    // 0: a valid WebSocket handshake; 400 for a malformed one; 426 (Upgrade Required, with
    // "Sec-WebSocket-Version: 13") for a version other than 13.
    int status = 0;
    // Why it was refused, for the answer's body: names the field and what was wrong.
    std::string_view reason;
};

// Checks `req` against RFC 6455 §4.2.1.
HandshakeCheck check_handshake(const HandshakeRequest& req) noexcept;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC's GUID)), with
// OpenSSL's libcrypto. 28 characters.
std::string accept_key(std::string_view key);

// The first of the client's subprotocols (comma-separated, in its order of preference) that
// `supported` lists (exact, case-sensitive match as RFC 6455 §4.2.2 requires); empty when none.
std::string_view select_subprotocol(std::string_view offered,
                                    std::span<const std::string> supported) noexcept;

}  // namespace nexure::net::ws
