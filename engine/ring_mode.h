// RingMode: how a worker's io_uring is set up (its task-run flags) — a choice the C++ API exposes
// (ServerConfig::ring_mode) without exposing the ring itself (engine/ring.h, liburing).
#pragma once

#include <cstdint>
#include <string>

namespace nexure::engine {

enum class RingMode : uint8_t {
    kAuto,          // DEFER_TASKRUN if the kernel has it, else COOP_TASKRUN, else plain
    kDeferTaskrun,  // require SINGLE_ISSUER | DEFER_TASKRUN
    kCoopTaskrun,   // COOP_TASKRUN | TASKRUN_FLAG (what older kernels get)
    kPlain,         // no task-run flags at all
};

const char* ring_mode_name(RingMode mode) noexcept;
// Parses "auto", "defer", "coop", "plain". Returns false on anything else.
bool parse_ring_mode(const std::string& text, RingMode* out) noexcept;

}  // namespace nexure::engine
