// A small JSON API on the NexureJS C++ API: route parameters, query strings, headers, request
// bodies, status codes and custom headers. Build: cmake --build --preset release; run:
// build/release/bin/nexure-example-api --port 8080
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/server.h"

using nexure::net::Request;
using nexure::net::Response;
using nexure::net::Server;
using nexure::net::ServerConfig;

int main(int argc, char** argv) {
    ServerConfig config;
    config.port = argc > 2 && std::string(argv[1]) == "--port"
                      ? static_cast<uint16_t>(std::atoi(argv[2]))
                      : 8080;
    config.threads = 2;
    config.limits.max_body_size = 64 * 1024;  // 413 beyond this

    Server server(config);
    static std::atomic<unsigned long> created{0};  // handlers run on several workers at once

    // GET /hello?name=Ada  ->  Hello, Ada!
    server.get("/hello", [](const Request& req, Response& res) {
        std::string text = "Hello, ";
        text += req.query_param("name").value_or("World");
        text += "!";
        res.type("text/plain").body(text);
    });

    // GET /repos/:owner/:repo  ->  {"owner":"...","repo":"..."}
    server.get("/repos/:owner/:repo", [](const Request& req, Response& res) {
        std::string json = "{\"owner\":\"";
        json += req.param("owner");
        json += "\",\"repo\":\"";
        json += req.param("repo");
        json += "\"}";
        res.type("application/json").body(json);
    });

    // POST /items with a JSON body  ->  201 and a Location header; 415 for other content types.
    server.post("/items", [](const Request& req, Response& res) {
        if (req.header("content-type").value_or("") != "application/json") {
            res.status(415).type("text/plain").body("send application/json\n");
            return;
        }
        const unsigned long id = ++created;
        res.status(201)
            .header("Location", "/items/" + std::to_string(id))
            .type("application/json")
            .body(req.body());
    });

    // DELETE /items/:id  ->  204, no body.
    server.del("/items/:id", [](const Request&, Response& res) { res.status(204); });

    return server.run([](const Server& s) {
        std::printf("api example listening on http://%s:%u\n", s.address().c_str(), s.port());
        std::fflush(stdout);
    });
}
