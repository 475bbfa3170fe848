// Listening sockets: one per worker, all bound to the same address with SO_REUSEPORT so the kernel
// spreads connections over the workers. Created at start-up on the controlling thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "alloc/result.h"

namespace nexure::net {

struct ListenerSet {
    std::vector<int> fds;  // one listening socket per worker
    uint16_t port = 0;     // the bound port (the kernel's choice when 0 was asked for)
    std::string address;   // numeric address actually bound
};

// Resolves `host` (numeric IPv4/IPv6 or a name such as "localhost"), binds `count` sockets to
// `host`:`port` with SO_REUSEPORT and TCP_NODELAY, and listens with `backlog`. Port 0 picks a free
// port once; the other sockets join it. Fails with a message naming the cause (address in use,
// permission for ports below 1024, unknown host).
Result<ListenerSet> open_listeners(const std::string& host, uint16_t port, unsigned count,
                                   int backlog);

void close_listeners(ListenerSet& set) noexcept;

}  // namespace nexure::net
