// The routes a conformance server answers: every path, for every method the cases use, with
// "200 OK" and the body "ok\n". Shared by the conformance test (in-process server) and
// nexure-conformance-server (the one scripts/conformance-nginx.sh replays the cases against).
// HEAD falls back to the GET routes; OPTIONS * is answered by the engine itself (204).
#pragma once

#include "net/server.h"

namespace nexure::test::conformance {

inline void add_conformance_routes(net::Server& server) {
    const auto ok = [](const net::Request&, net::Response& res) {
        res.type("text/plain").body("ok\n");
    };
    for (const net::Method m : {net::Method::kGet, net::Method::kPost, net::Method::kPut,
                                net::Method::kPatch, net::Method::kDelete, net::Method::kOptions}) {
        server.route(m, "/", ok);
        server.route(m, "/*", ok);
    }
}

}  // namespace nexure::test::conformance
