// WebSocket in C++ on the engine (net/ws/websocket.h): /echo sends every message back as it came
// (text or binary), /chat subscribes each client to the topic "room" and publishes what it
// receives to every client of the room — itself included, on every worker. Build:
// cmake --build --preset release; run:
//   build/release/bin/nexure-example-ws-echo [--port 8080] [--threads N] [--compression]
// (PORT in the environment also sets the port). Try it with any WebSocket client, e.g. Node's
// `ws`: new WebSocket('ws://127.0.0.1:8080/echo').
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "net/server.h"
#include "net/ws/websocket.h"

using nexure::net::Server;
using nexure::net::ServerConfig;
using nexure::net::WebSocket;
using nexure::net::WsBehaviour;

int main(int argc, char** argv) {
    ServerConfig config;
    config.port = 8080;
    if (const char* env = std::getenv("PORT")) config.port = static_cast<uint16_t>(std::atoi(env));
    bool compression = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            config.port = static_cast<uint16_t>(std::atoi(argv[++i]));
        } else if (arg == "--threads" && i + 1 < argc) {
            config.threads = static_cast<unsigned>(std::atoi(argv[++i]));
        } else if (arg == "--compression") {
            compression = true;
        } else {
            std::fprintf(stderr, "usage: %s [--port N] [--threads N] [--compression]\n", argv[0]);
            return 2;
        }
    }

    Server server(config);
    WsBehaviour echo;
    echo.message = [](WebSocket& ws, std::string_view message, bool binary) {
        ws.send(message, binary);
    };
    echo.compression.enabled = compression;
    server.ws("/echo", echo);

    WsBehaviour chat;
    chat.open = [](WebSocket& ws) { ws.subscribe("room"); };
    chat.message = [&server](WebSocket& ws, std::string_view message, bool binary) {
        // ws.publish() would skip the sender; the room hears everyone, the sender included.
        (void)ws;
        server.publish("room", message, binary);
    };
    chat.compression.enabled = compression;
    server.ws("/chat", chat);

    return server.run([](const Server& s) {
        std::printf("ws-echo: ws://%s:%u/echo and /chat (%u worker%s)\n", s.address().c_str(),
                    s.port(), s.threads(), s.threads() == 1 ? "" : "s");
        std::fflush(stdout);
    });
}
