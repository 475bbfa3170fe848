#include "net/http/endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace nexure::net::http {

std::string_view Endpoint::format(std::span<char, kMaxText> out) const noexcept {
    if (family == Family::kNone) return {};
    const int af = family == Family::kIPv4 ? AF_INET : AF_INET6;
    if (inet_ntop(af, bytes.data(), out.data(), static_cast<socklen_t>(out.size())) == nullptr) {
        return {};
    }
    return std::string_view(out.data());
}

std::string Endpoint::address() const {
    char text[kMaxText];
    return std::string(format(text));
}

Endpoint Endpoint::from(const sockaddr* addr) noexcept {
    Endpoint e;
    if (addr == nullptr) return e;
    if (addr->sa_family == AF_INET) {
        sockaddr_in in;
        std::memcpy(&in, addr, sizeof(in));
        e.family = Family::kIPv4;
        e.port = ntohs(in.sin_port);
        std::memcpy(e.bytes.data(), &in.sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
        sockaddr_in6 in6;
        std::memcpy(&in6, addr, sizeof(in6));
        e.family = Family::kIPv6;
        e.port = ntohs(in6.sin6_port);
        std::memcpy(e.bytes.data(), &in6.sin6_addr, 16);
    }
    return e;
}

Endpoint Endpoint::peer_of(int fd) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return from(reinterpret_cast<const sockaddr*>(&ss));
}

Endpoint Endpoint::local_of(int fd) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return from(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace nexure::net::http
