// nexure-conformance-server: a NexureJS server with the conformance routes (every path answers
// "200 OK", see conformance_routes.h), for scripts/conformance-nginx.sh to replay the case files
// against, side by side with nginx.
//
//   nexure-conformance-server PORT     listens on 127.0.0.1:PORT (0: a free port) with one worker,
//                                      prints "listening on http://127.0.0.1:<port>" once it
//                                      accepts connections, and serves until SIGINT or SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/server.h"
#include "tests/conformance/conformance_routes.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nexure-conformance-server PORT\n");
        return 2;
    }
    char* end = nullptr;
    const unsigned long port = std::strtoul(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || port > 65535) {
        std::fprintf(stderr, "nexure-conformance-server: bad port '%s'\n", argv[1]);
        return 2;
    }
    nexure::net::ServerConfig config;
    config.host = "127.0.0.1";
    config.port = static_cast<uint16_t>(port);
    config.threads = 1;
    config.pin_threads = false;
    config.idle_timeout_ms = 10'000;
    nexure::net::Server server(config);
    nexure::test::conformance::add_conformance_routes(server);
    return server.run([](const nexure::net::Server& s) {
        std::printf("listening on http://%s:%u\n", s.address().c_str(),
                    static_cast<unsigned>(s.port()));
        std::fflush(stdout);
    });
}
