// Upgraded: a connection handed over by HTTP/1.1 after a 101 (Switching Protocols) answer — the
// socket and the bytes the client already sent after its upgrade request (the new protocol's
// first bytes). Given by Response::upgrade():
//
//   server.get("/chat", [](const Request& req, Response& res) {
//       if (req.header("upgrade") != "my-protocol") { res.status(426)...; return; }
//       res.status(101).header("Upgrade", "my-protocol");
//       res.upgrade([](Upgraded u) { run_my_protocol(u.fd, std::move(u.received)); });
//   });
//
// The engine writes "Connection: Upgrade" itself, sends the 101 (after the answers to earlier
// pipelined requests), stops reading, and once every byte it owes the client is sent and its
// receive is cancelled, calls the callback on the worker: from then on the descriptor belongs
// to the callee (close it when done), and the engine does not touch it again. If the client
// leaves first, or the server stops, the callback is not called.
#pragma once

#include <string>

namespace nexure::net {

struct Upgraded {
    int fd = -1;           // the connected socket, now the callee's (blocking mode unchanged)
    std::string received;  // bytes after the upgrade request, already read by the engine
};

}  // namespace nexure::net
