#include "net/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nexure::net {

namespace {

Error socket_error(const std::string& what, int err, const std::string& host, uint16_t port) {
    std::string msg =
        what + " " + host + ":" + std::to_string(port) + " failed: " + std::strerror(err);
    if (err == EADDRINUSE) {
        msg +=
            ". Another process is listening on that port: stop it or choose another port "
            "(ServerConfig::port, nexure-server's --port; 0 picks a free one).";
    } else if (err == EACCES) {
        msg += ". Ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a port >= 1024.";
    } else if (err == EADDRNOTAVAIL) {
        msg += ". That address is not configured on this machine: check the host (ServerConfig::host, "
               "nexure-server's --host).";
    }
    return Error{err, msg};
}

int make_socket(const sockaddr* addr, socklen_t len, bool reuseport, int* err) {
    const int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    // Inherited by accepted sockets: responses leave as soon as they are written.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, addr, len) != 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    return fd;
}

uint16_t port_of(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
}

void set_port(sockaddr_storage& ss, uint16_t port) {
    if (ss.ss_family == AF_INET6)
        reinterpret_cast<sockaddr_in6&>(ss).sin6_port = htons(port);
    else
        reinterpret_cast<sockaddr_in&>(ss).sin_port = htons(port);
}

}  // namespace

Result<ListenerSet> open_listeners(const std::string& host, uint16_t port, unsigned count,
                                   int backlog) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), "0", &hints, &res);
    if (gai != 0 || res == nullptr) {
        return Error{EINVAL, "cannot resolve listen address '" + host + "': " + gai_strerror(gai)};
    }
    sockaddr_storage ss{};
    std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
    const socklen_t len = res->ai_addrlen;
    freeaddrinfo(res);

    ListenerSet set;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = ss.ss_family == AF_INET6
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6&>(ss).sin6_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in&>(ss).sin_addr);
    inet_ntop(ss.ss_family, raw, text, sizeof(text));
    set.address = text;

    int err = 0;
    if (port != 0) {
        // SO_REUSEPORT would let us share the port with another server of the same user without a
        // word; bind once without it to find out whether the port is really free.
        set_port(ss, port);
        const int probe = make_socket(reinterpret_cast<sockaddr*>(&ss), len, false, &err);
        if (probe < 0) return socket_error("bind", err, set.address, port);
        close(probe);
    }
    set_port(ss, port);
    for (unsigned i = 0; i < count; ++i) {
        const int fd = make_socket(reinterpret_cast<sockaddr*>(&ss), len, true, &err);
        if (fd < 0) {
            close_listeners(set);
            return socket_error("bind", err, set.address, port);
        }
        set.fds.push_back(fd);
        if (i == 0) {
            sockaddr_storage bound{};
            socklen_t blen = sizeof(bound);
            getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
            port = port_of(bound);
            set_port(ss, port);
        }
    }
    for (int fd : set.fds) {
        if (listen(fd, backlog) != 0) {
            err = errno;
            close_listeners(set);
            return socket_error("listen on", err, set.address, port);
        }
    }
    set.port = port;
    return set;
}

void close_listeners(ListenerSet& set) noexcept {
    for (int fd : set.fds) {
        if (fd >= 0) close(fd);
    }
    set.fds.clear();
}

}  // namespace nexure::net
