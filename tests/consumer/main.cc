// A consumer of nexure::net: a server on a free port with an immediate and a deferred route,
// asked once each over a socket. Built with NEXURE_CONSUMER_JSON (linking nexure::json), it also
// has POST /echo-json, asked with a good and a bad document. Exits 0 when every answer is right.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "net/server.h"
#if NEXURE_CONSUMER_JSON
#include "net/json/body.h"
#endif

namespace {

// One exchange on a new connection: the response's body (everything when it has no head).
std::string ask(uint16_t port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string got;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        (void)!::write(fd, request.data(), request.size());
        char buf[1024];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
            got.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return got.substr(got.find("\r\n\r\n") == std::string::npos ? 0 : got.find("\r\n\r\n") + 4);
}

std::string fetch(uint16_t port, const char* target) {
    return ask(port,
               std::string("GET ") + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
}

#if NEXURE_CONSUMER_JSON
std::string post_json(uint16_t port, const std::string& body) {
    return ask(port,
               "POST /echo-json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               "Content-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body);
}
#endif

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
#if NEXURE_CONSUMER_JSON
    server.post("/echo-json", [](const nexure::net::Request& req, nexure::net::Response& res) {
        nexure::net::json::Body body(req);
        nexure::net::http::JsonWriter out(res);
        if (auto err = body.write_to(out)) nexure::net::json::write_error(res, err);
    });
#endif
    if (auto r = server.start(); !r) {
        std::fprintf(stderr, "consumer: cannot start: %s\n", r.error().message.c_str());
        return 1;
    }
    const std::string hello = fetch(server.port(), "/hello");
    const std::string later = fetch(server.port(), "/later");
#if NEXURE_CONSUMER_JSON
    const std::string echoed =
        post_json(server.port(), R"({ "n": [1, 2.50, 1e400], "s": "\u00e9" })");
    const std::string refused = post_json(server.port(), R"({"n": [1 2]})");
#endif
    server.stop();
    server.wait();
    if (hello != "hello from a consumer" || later != "later") {
        std::fprintf(stderr, "consumer: unexpected answers '%s' and '%s'\n", hello.c_str(),
                     later.c_str());
        return 1;
    }
#if NEXURE_CONSUMER_JSON
    const std::string refusal =
        R"({"error":"invalid JSON","message":"The JSON document has an improper structure: )"
        R"(missing or superfluous commas, braces, missing keys, etc.","position":9})";
    if (echoed != "{\"n\":[1,2.50,1e400],\"s\":\"\xC3\xA9\"}" || refused != refusal) {
        std::fprintf(stderr, "consumer: unexpected JSON answers '%s' and '%s'\n", echoed.c_str(),
                     refused.c_str());
        return 1;
    }
    std::printf("consumer: every answer right, JSON ones included\n");
#else
    std::printf("consumer: both answers right\n");
#endif
    return 0;
}
