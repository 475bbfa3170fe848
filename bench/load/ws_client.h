// nexload --ws / --ws-fanout: WebSocket load on the same threads, rings and loop as the HTTP mode
// (LoopThread), described in bench/load/README.md ("WebSocket").
//
// Each connection opens with the RFC 6455 handshake (a random Sec-WebSocket-Key, the 101 and its
// Sec-WebSocket-Accept checked), then:
// - echo, closed loop: keeps --depth messages of --size bytes in flight and counts each echo,
//   checked byte for byte against what was sent; latency from the send to the echo's last byte;
// - echo at -R messages/s over all connections (open loop): message k of a thread is due at
//   start + k / (rate / threads), dealt to its connections in turn, as the HTTP mode's -R does;
//   latency from the intended send time too (corrected for coordinated omission);
// - fan-out: -c subscribers and one more connection, the publisher, which sends -R messages/s
//   once every subscriber is in; each message carries its sequence number and intended send time,
//   and every subscriber counts what reaches it, what it missed and the delivery latency.
// Frames are built with nexure::net::ws::append_frame (masked) and read with WsReader.
#pragma once

#include "alloc/result.h"
#include "bench/load/client.h"
#include "bench/load/options.h"
#include "bench/load/report.h"

namespace nexure::load {

// Runs a WebSocket load (options.ws.mode is not kOff). Fails only when the run cannot start.
Result<Report> run_ws_load(const LoadOptions& options, Progress* progress = nullptr);

}  // namespace nexure::load
