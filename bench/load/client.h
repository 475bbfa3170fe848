// The nexload client: runs the load LoadOptions describe and returns what it measured.
//
// One thread per -t, each pinned to a CPU of the process's affinity mask, each with its own
// io_uring (SINGLE_ISSUER | DEFER_TASKRUN when the kernel has it), its own provided-buffer ring for
// multishot receives, and its share of the connections. Nothing is shared between threads while
// the load runs; their reports are merged at the end.
//
// Closed loop (like wrk): each connection writes --pipeline requests in one send, waits until all
// their responses arrived, then writes the next batch. Latency runs from the send to the response's
// last byte.
//
// Constant rate (-R, like wrk2): request k of a thread is due at start + k / (rate / threads), and
// requests are dealt to the thread's connections in turn. A connection sends what is due as soon as
// it has room (at most --pipeline outstanding), so a stalled server does not slow the schedule
// down. Two histograms: service time (from the actual send) and corrected latency (from the
// intended send time), which counts the waiting that a stalled server causes (coordinated
// omission).
//
// Every response is parsed and validated (ResponseParser). Errors are counted, never fatal:
// a refused or failed connect (connect), a connection closed or reset with requests outstanding
// (read), a failed send (write), a response later than --timeout (timeout: the connection is
// closed), bytes that are not a valid response (parse: the connection is closed). A closed
// connection is opened again (after 10 ms when the connect itself failed) until the run ends.
//
// The run ends when the duration has passed, or (with -n) when that many responses arrived;
// responses to requests still outstanding then are not waited for and not counted.
#pragma once

#include <atomic>
#include <cstdint>

#include "alloc/result.h"
#include "bench/load/options.h"
#include "bench/load/report.h"

namespace nexure::load {

// What a run has done so far, for the progress line; updated by the load threads about once per
// millisecond, readable from any thread.
struct Progress {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> errors{0};
    // Set (from any thread, or a signal handler) to end the run early: the load threads stop
    // within about 10 ms and the report covers the time until then.
    std::atomic<bool> stop{false};
};

// Constant rate (-R): the send schedule of one load thread, as the thread follows it. Exposed so
// that tests can check the schedule itself rather than the rate a busy machine achieves.
class RateSchedule {
  public:
    // Thread `thread` of a run with `options` (its share of the connections and of the rate).
    RateSchedule(const LoadOptions& options, unsigned thread) noexcept;

    unsigned connections() const noexcept { return connections_; }
    // When request `m` of the thread's connection `slot` is due, in ns after the run's start:
    // the thread's requests k = m * connections + slot are evenly spaced at its share of the
    // rate, dealt to its connections in turn.
    uint64_t due_ns(unsigned slot, uint64_t m) const noexcept {
        const uint64_t k = m * connections_ + slot;
        return static_cast<uint64_t>(static_cast<double>(k) * interval_ns_);
    }

  private:
    unsigned connections_;
    double interval_ns_;  // between two requests of the thread
};

// Connections of thread `thread` in a run with `options`: an even share, the first threads taking
// one more each when they do not divide evenly.
unsigned connections_of_thread(const LoadOptions& options, unsigned thread) noexcept;

// Runs the load. Fails only when the run cannot start (a ring cannot be set up, a thread cannot be
// pinned): the message says why. `progress` may be null.
Result<Report> run_load(const LoadOptions& options, Progress* progress = nullptr);

}  // namespace nexure::load
