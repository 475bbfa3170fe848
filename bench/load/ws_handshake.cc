#include "bench/load/ws_handshake.h"

#include <cstring>

#include "net/ws/detail/field_list.h"

namespace nexure::load {

namespace {

using net::ws::detail::iequals;
using net::ws::detail::lists_token;
using net::ws::detail::trim_ows;

uint64_t splitmix64(uint64_t& state) noexcept {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

WsHandshakeReply refused(WsHandshakeReply r, std::string why) {
    r.outcome = WsHandshakeReply::Outcome::kRefused;
    r.why = "handshake: " + std::move(why);
    return r;
}

}  // namespace

std::string random_ws_key(uint64_t& state) {
    static constexpr char kBase64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char bytes[18] = {};  // 16 random bytes, two zero bytes of padding
    const uint64_t a = splitmix64(state);
    const uint64_t b = splitmix64(state);
    std::memcpy(bytes, &a, 8);
    std::memcpy(bytes + 8, &b, 8);
    std::string key;
    key.reserve(24);
    for (size_t i = 0; i < 18; i += 3) {
        const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        key += kBase64[(v >> 18) & 63];
        key += kBase64[(v >> 12) & 63];
        key += kBase64[(v >> 6) & 63];
        key += kBase64[v & 63];
    }
    key.resize(22);  // 16 bytes are 22 characters and "=="
    key += "==";
    return key;
}

WsHandshakeReply check_ws_handshake_reply(std::string_view bytes,
                                          std::string_view expected_accept) {
    WsHandshakeReply r;
    const size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (bytes.size() > kMaxHandshakeHead) {
            return refused(r, "the answer's head is longer than " +
                                  std::to_string(kMaxHandshakeHead) + " bytes");
        }
        return r;
    }
    r.head_size = end + 4;
    std::string_view head = bytes.substr(0, end + 2);  // every line ends in CRLF
    const size_t eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    // HTTP/1.1 SP 3DIGIT SP reason
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
        status_line[8] != ' ' || status_line[9] < '1' || status_line[9] > '5' ||
        status_line[10] < '0' || status_line[10] > '9' || status_line[11] < '0' ||
        status_line[11] > '9' || (status_line.size() > 12 && status_line[12] != ' ')) {
        return refused(r, "the server did not answer with an HTTP status line: '" +
                              std::string(status_line.substr(0, 80)) + "'");
    }
    r.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
    if (r.status != 101) {
        return refused(r, "the server answered '" + std::string(status_line.substr(9, 80)) +
                              "' instead of 101 Switching Protocols (is the path a WebSocket "
                              "endpoint?)");
    }
    bool upgrade = false;
    bool connection = false;
    std::string_view accept;
    bool have_accept = false;
    while (!head.empty()) {
        const size_t line_end = head.find("\r\n");
        const std::string_view line = head.substr(0, line_end);
        head.remove_prefix(line_end + 2);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return refused(r, "a malformed header line in the 101 answer: '" +
                                  std::string(line.substr(0, 80)) + "'");
        }
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim_ows(line.substr(colon + 1));
        if (iequals(name, "upgrade")) {
            upgrade = upgrade || lists_token(value, "websocket");
        } else if (iequals(name, "connection")) {
            connection = connection || lists_token(value, "upgrade");
        } else if (iequals(name, "sec-websocket-accept")) {
            if (have_accept) return refused(r, "Sec-WebSocket-Accept is sent twice");
            accept = value;
            have_accept = true;
        } else if (iequals(name, "sec-websocket-extensions") && !value.empty()) {
            return refused(r, "the server chose the extension '" + std::string(value) +
                                  "' that nexload did not offer");
        }
    }
    if (!upgrade) return refused(r, "the 101 answer has no 'Upgrade: websocket'");
    if (!connection) return refused(r, "the 101 answer has no 'Connection: Upgrade'");
    if (!have_accept) return refused(r, "the 101 answer has no Sec-WebSocket-Accept");
    if (accept != expected_accept) {
        return refused(r, "Sec-WebSocket-Accept is '" + std::string(accept) + "', the key calls for '" +
                              std::string(expected_accept) + "'");
    }
    r.outcome = WsHandshakeReply::Outcome::kAccepted;
    return r;
}

}  // namespace nexure::load
