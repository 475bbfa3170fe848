#include "net/ws/handshake.h"

// SHA1_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP_Digest*, which fetch the
// algorithm from a provider: statically linked (the prebuilt addon), that pulls in the whole
// default provider (+4 MiB). The low-level calls link only SHA-1 itself. (SHA1() is the same
// one-shot, but in OpenSSL 3 it goes through the provider path too.)
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

#include "net/ws/detail/field_list.h"

namespace nexure::net::ws {
namespace {

using detail::any_element;
using detail::iequals;
using detail::lists_token;
using detail::trim_ows;

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 §1.3

bool is_base64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

// base64 of 16 bytes: 22 characters and "==" (RFC 6455 §4.1, item 7).
bool valid_key(std::string_view key) noexcept {
    if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
    for (size_t i = 0; i < 22; ++i)
        if (!is_base64_char(key[i])) return false;
    return true;
}

}  // namespace

HandshakeCheck check_handshake(const HandshakeRequest& req) noexcept {
    if (req.method != "GET") return {400, "a WebSocket handshake must be a GET request"};
    if (!req.http_1_1) return {400, "a WebSocket handshake needs HTTP/1.1"};
    if (!lists_token(req.upgrade, "websocket"))
        return {400, "the Upgrade field must list \"websocket\""};
    if (!lists_token(req.connection, "upgrade"))
        return {400, "the Connection field must list \"upgrade\""};
    if (trim_ows(req.version) != "13") {
        if (req.version.empty())
            return {426, "Sec-WebSocket-Version is missing: this server speaks version 13"};
        return {426, "Sec-WebSocket-Version must be 13, the only version this server speaks"};
    }
    if (req.key.empty()) return {400, "Sec-WebSocket-Key is missing"};
    if (!valid_key(trim_ows(req.key)))
        return {400, "Sec-WebSocket-Key must be the base64 of 16 bytes (24 characters)"};
    return {0, {}};
}

std::string accept_key(std::string_view key) {
    key = trim_ows(key);
    unsigned char digest[SHA_DIGEST_LENGTH];
    // key + GUID in one buffer: keys are 24 characters, but any length is hashed correctly.
    char small[128];
    std::string large;
    const unsigned char* input;
    const size_t n = key.size() + kGuid.size();
    if (n <= sizeof small) {
        if (!key.empty()) std::memcpy(small, key.data(), key.size());
        std::memcpy(small + key.size(), kGuid.data(), kGuid.size());
        input = reinterpret_cast<const unsigned char*>(small);
    } else {
        large.assign(key);
        large.append(kGuid);
        input = reinterpret_cast<const unsigned char*>(large.data());
    }
    SHA_CTX sha;
    SHA1_Init(&sha);
    SHA1_Update(&sha, input, n);
    SHA1_Final(digest, &sha);
    unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];  // 28 characters and a NUL
    const int len = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<size_t>(len));
}

std::string_view select_subprotocol(std::string_view offered,
                                    std::span<const std::string> supported) noexcept {
    std::string_view chosen;
    any_element(offered, [&](std::string_view item) {
        for (const std::string& s : supported) {
            if (item == s) {
                chosen = item;
                return true;
            }
        }
        return false;
    });
    return chosen;
}

}  // namespace nexure::net::ws
