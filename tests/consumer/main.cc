// A consumer of nexure::net: a server on a free port with an immediate and a deferred route,
// asked once each over a socket. Built with NEXURE_CONSUMER_JSON (linking nexure::json), it also
// has POST /echo-json, asked with a good and a bad document. Exits 0 when every answer is right.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

// Every public header (cmake/NexureInstall.cmake's roots): each compiles from the installed tree.
#include "net/client/http_client.h"
#include "net/client/socket.h"
#include "net/coro.h"
#include "net/hooks.h"
#include "net/http/conditional.h"
#include "net/http/form.h"
#include "net/http/json_writer.h"
#include "net/http/percent.h"
#include "net/server.h"
#include "net/ws/websocket.h"
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
    // The outbound client, calling this server's own /hello on the worker's ring.
    // (Built once the port is known, before the first request.)
    std::unique_ptr<nexure::net::client::HttpClient> self;
    nexure::net::client::HttpClient* client = nullptr;
    // A WebSocket route links the engine's WebSocket side and the codec (nexure::ws); a plain
    // GET gets its 426.
    nexure::net::WsBehaviour echo;
    echo.message = [](nexure::net::WebSocket& ws, std::string_view m, bool binary) {
        ws.send(m, binary);
    };
    server.ws("/ws", echo);
    server.get("/proxy", [&client](const nexure::net::Request&, nexure::net::Response& res) {
        client->request({.target = "/hello"},
                        [later = res.defer()](
                            nexure::Result<nexure::net::client::ClientResponse> r) mutable {
                            later.respond([r = std::move(r)](nexure::net::Response& out) {
                                out.body(r ? "via client: " + std::string(r.value().body())
                                           : "client error: " + r.error().message);
                            });
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
    auto to = nexure::net::client::Endpoint::resolve("127.0.0.1:" + std::to_string(server.port()));
    if (!to) {
        std::fprintf(stderr, "consumer: %s\n", to.error().message.c_str());
        return 1;
    }
    self = std::make_unique<nexure::net::client::HttpClient>(to.value());
    client = self.get();
    const std::string hello = fetch(server.port(), "/hello");
    const std::string later = fetch(server.port(), "/later");
    const std::string proxied = fetch(server.port(), "/proxy");
    const std::string websocket = fetch(server.port(), "/ws");
#if NEXURE_CONSUMER_JSON
    const std::string echoed =
        post_json(server.port(), R"({ "n": [1, 2.50, 1e400], "s": "\u00e9" })");
    const std::string refused = post_json(server.port(), R"({"n": [1 2]})");
#endif
    server.stop();
    server.wait();
    if (websocket.find("WebSocket endpoint") == std::string::npos) {
        std::fprintf(stderr, "consumer: /ws answered '%s'\n", websocket.c_str());
        return 1;
    }
    if (hello != "hello from a consumer" || later != "later" ||
        proxied != "via client: hello from a consumer") {
        std::fprintf(stderr, "consumer: unexpected answers '%s', '%s' and '%s'\n", hello.c_str(),
                     later.c_str(), proxied.c_str());
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
    std::printf("consumer: every answer right\n");
#endif
    return 0;
}
