// A consumer of nexure::net: a server on a free port with an immediate and a deferred route,
// asked once each over a socket. Exits 0 when both answers are right.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "net/server.h"

namespace {

std::string fetch(uint16_t port, const char* target) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string got;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string request = std::string("GET ") + target +
                                    " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        (void)!::write(fd, request.data(), request.size());
        char buf[1024];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
            got.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return got.substr(got.find("\r\n\r\n") == std::string::npos ? 0 : got.find("\r\n\r\n") + 4);
}

}  // namespace

int main() {
    nexure::net::ServerConfig config;
    config.port = 0;
    config.threads = 1;
    config.pin_threads = false;
    nexure::net::Server server(config);
    server.get("/hello", [](const nexure::net::Request&, nexure::net::Response& res) {
        res.type("text/plain").body("hello from a consumer");
    });
    server.get("/later", [](const nexure::net::Request&, nexure::net::Response& res) {
        nexure::net::Loop::current().after(10, [later = res.defer()]() mutable {
            later.respond([](nexure::net::Response& r) { r.body("later"); });
        });
    });
    if (auto r = server.start(); !r) {
        std::fprintf(stderr, "consumer: cannot start: %s\n", r.error().message.c_str());
        return 1;
    }
    const std::string hello = fetch(server.port(), "/hello");
    const std::string later = fetch(server.port(), "/later");
    server.stop();
    server.wait();
    if (hello != "hello from a consumer" || later != "later") {
        std::fprintf(stderr, "consumer: unexpected answers '%s' and '%s'\n", hello.c_str(),
                     later.c_str());
        return 1;
    }
    std::printf("consumer: both answers right\n");
    return 0;
}
