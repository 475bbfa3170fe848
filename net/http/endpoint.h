// Endpoint: one end of a TCP connection — an IPv4 or IPv6 address and a port — as the kernel
// reports it (getpeername/getsockname). A plain value: any thread.
//
//   const http::Endpoint peer = req.remote_address();
//   char text[http::Endpoint::kMaxText];
//   std::string_view ip = peer.format(text);   // "203.0.113.7", "::1", "::ffff:10.0.0.1"
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct sockaddr;

namespace nexure::net::http {

struct Endpoint {
    enum class Family : uint8_t { kNone = 0, kIPv4 = 4, kIPv6 = 6 };
    // The longest text format() writes (an IPv6 address with an embedded IPv4 one, and a NUL).
    static constexpr size_t kMaxText = 46;

    Family family = Family::kNone;  // kNone: unknown (no connection, or it is gone)
    uint16_t port = 0;              // host order
    // The address in network order: 4 bytes for IPv4 (the rest zero), 16 for IPv6. An IPv4
    // client of a dual-stack IPv6 listener is an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    std::array<uint8_t, 16> bytes{};

    explicit operator bool() const noexcept { return family != Family::kNone; }
    // The address as text (inet_ntop's form) in `out`, which must hold kMaxText bytes; "" for
    // kNone. The view points into `out`.
    std::string_view format(std::span<char, kMaxText> out) const noexcept;
    std::string address() const;

    // From a sockaddr of family AF_INET or AF_INET6 (kNone for anything else).
    static Endpoint from(const sockaddr* addr) noexcept;
    // The peer (remote) or own (local) end of the socket `fd`; kNone if the call fails.
    static Endpoint peer_of(int fd) noexcept;
    static Endpoint local_of(int fd) noexcept;

    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace nexure::net::http
