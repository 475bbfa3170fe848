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
struct Deferred;

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
    alloc::ByteBuffer out;      // responses queued this turn, not yet handed to the kernel
    alloc::ByteBuffer sending;  // the bytes of the one send in flight
    size_t sent = 0;            // how much of `sending` the kernel has taken
    engine::Timer timer;        // the next deadline of the connection (see WorkerServer::due)
    // The places its handed-off requests hold in its response order (net/handoff.h); null for a
    // connection that never handed one off. Kept until the connection closes.
    Deferred* deferred = nullptr;

    // Times in milliseconds of the worker's clock, truncated to 32 bits (compared by
    // difference, so they stay right across the wrap for intervals under 24 days).
    uint32_t last_active_ms = 0;    // last receive
    uint32_t phase_start_ms = 0;    // start of the request head, of its body, or of lingering
    uint32_t send_progress_ms = 0;  // last time the kernel took output (or output became due)
    uint32_t phase_bytes = 0;       // body bytes received since phase_start_ms (saturating)
    uint32_t next_seq = 0;          // the Ticket::seq of its next held place (never reused)
    uint16_t unsent_responses = 0;  // responses written since the output last drained

    bool recv_armed : 1 = false;
    bool send_in_flight : 1 = false;
    bool queued : 1 = false;             // on the worker's flush list for this turn
    bool close_after_flush : 1 = false;  // the last response is queued: close once it is sent
    bool lingering : 1 = false;          // write side shut; waiting for the peer's FIN
    bool peer_eof : 1 = false;           // the peer shut its write side
    bool closing : 1 = false;            // cancel/close in progress; no more I/O
    bool reading_paused : 1 = false;     // too much unsent output: recv cancelled until it drains
    bool timed_out : 1 = false;          // answered 408: close within the linger timeout
    bool handoff_paused : 1 = false;     // reading paused until the handoff has room again
};
// The pool's block size and alloc/README.md assume this size: keep them in step.
static_assert(sizeof(Connection) == 272);

}  // namespace nexure::net::detail
