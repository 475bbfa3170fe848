// Connection: the state of one accepted socket. Lives in its worker's connection pool
// (alloc::Pool: stable address, slot index = pool index, reused with a new generation) and is
// touched only by that worker.
#pragma once

#include <cstdint>

#include "alloc/byte_buffer.h"
#include "engine/timer_wheel.h"
#include "net/http/parser.h"

namespace nexure::net::detail {

class WorkerServer;

inline constexpr uint16_t kNoSlab = UINT16_MAX;  // == alloc::SendBuffers::kNone

struct Connection {
    int fd = -1;
    uint32_t slot = 0;
    uint32_t generation = 0;  // bumped on every free; stale completions carry an older one
    // The send slabs (alloc::SendBuffers) `out` and `sending` were given, or kNoSlab. A slab
    // stays with its buffer until the output drains, even if the bytes outgrew it.
    uint16_t out_slab = kNoSlab;
    uint16_t sending_slab = kNoSlab;
    WorkerServer* owner = nullptr;

    http::RequestParser parser;
    alloc::ByteBuffer out;        // responses queued this turn, not yet handed to the kernel
    alloc::ByteBuffer sending;    // the bytes of the one send in flight
    size_t sent = 0;              // how much of `sending` the kernel has taken
    engine::Timer timer;          // idle timeout, or linger deadline once lingering
    uint64_t last_active_ns = 0;  // last receive; the idle timer re-arms from it when it fires

    bool recv_armed = false;
    bool send_in_flight = false;
    bool queued = false;             // on the worker's flush list for this turn
    bool close_after_flush = false;  // the last response is queued: close once it is sent
    bool lingering = false;          // write side shut; waiting for the peer's FIN
    bool peer_eof = false;           // the peer shut its write side
    bool closing = false;            // cancel/close in progress; no more I/O
    bool reading_paused = false;     // too much unsent output: recv cancelled until it drains
};

}  // namespace nexure::net::detail
