// LoopThread: what every nexload load thread does whatever the protocol — its pinned CPU, its
// io_uring and provided-buffer ring, connecting sockets (with --timeout linked to each connect),
// multishot receives, sends, stale completions dropped by generation, the loop that waits until
// the next event, tick or due send, the progress counters — and run_threads(), which starts the
// threads together and merges their reports. The protocols derive from it: HTTP (client.cc) and
// WebSocket (ws_client.cc) implement only what their bytes mean.
//
// A LoopThread is built on the caller's thread and then used only by its own thread (run()).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <linux/time_types.h>

#include "alloc/buffer_ring.h"
#include "alloc/result.h"
#include "bench/load/client.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "engine/op_tag.h"
#include "engine/ring.h"

namespace nexure::load {

// CLOCK_MONOTONIC in nanoseconds.
uint64_t now_ns() noexcept;

inline constexpr uint64_t kReconnectDelayNs = 10'000'000;  // after a failed connect
inline constexpr uint64_t kTickNs = 10'000'000;            // timeouts, reconnects, progress

// A connection's socket: its descriptor, the generation its completions carry, and its state.
struct Socket {
    enum class State : uint8_t { kClosed, kConnecting, kOpen };
    int fd = -1;
    uint32_t gen = 0;
    State state = State::kClosed;
    uint64_t reconnect_at = 0;
    uint64_t connect_started = 0;
};

// Shared between run_threads() and its threads: the start signal and the common time base.
struct Start {
    explicit Start(unsigned threads) : ready(threads) {}
    std::latch ready;  // every thread has set up (or failed to)
    std::mutex mutex;
    std::condition_variable cv;
    bool go = false;
    bool abort = false;
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;
};

class LoopThread {
  public:
    LoopThread(const LoadOptions& options, unsigned index, int cpu, Progress* progress);
    virtual ~LoopThread() = default;
    LoopThread(const LoopThread&) = delete;
    LoopThread& operator=(const LoopThread&) = delete;

    Report& report() noexcept { return report_; }
    const Error* error() const noexcept { return error_.message.empty() ? nullptr : &error_; }

    // The thread's body: sets up, waits for the start, runs the loop, closes every socket.
    void run(Start* start);

  protected:
    static constexpr uint8_t kOpConnect = static_cast<uint8_t>(engine::Op::kFirstUserOp);
    static constexpr uint8_t kOpRecv = kOpConnect + 1;
    static constexpr uint8_t kOpSend = kOpConnect + 2;

    // ---- what a protocol implements ----
    // Its connections (their number sizes the rings); socket() may be asked for any slot below.
    virtual uint32_t socket_count() const noexcept = 0;
    virtual Socket& socket(uint32_t slot) noexcept = 0;
    // The run starts: open the connections.
    virtual void begin(uint64_t now) = 0;
    // Completions of this connection's current generation (stale ones never get here; a
    // provided buffer that comes with one belongs to the callee, which recycles it).
    virtual void on_connect(uint32_t slot, int res) = 0;
    virtual void on_recv(uint32_t slot, int res, unsigned flags, bool has_buffer,
                         uint16_t bid) = 0;
    virtual void on_send(uint32_t slot, int res) = 0;
    // After each loop turn's completions: sends that are due. Returns when the next one is due
    // (UINT64_MAX: none scheduled).
    virtual uint64_t after_turn(uint64_t /*now*/) { return UINT64_MAX; }
    // Every 10 ms: overdue answers, reconnects.
    virtual void on_tick(uint64_t now) = 0;
    // The run has ended: close whatever is open (close_socket() on each).
    virtual void end() = 0;

    // ---- what the loop offers ----
    // Starts connecting `s` (slot `slot`), with --timeout linked to the connect. When no socket
    // can be made (out of descriptors) the error is counted and a reconnect set: false.
    bool open_socket(Socket& s, uint32_t slot, uint64_t now);
    // Shuts the socket down and closes it; its pending completions become stale.
    void close_socket(Socket& s) noexcept;
    void arm_recv(const Socket& s, uint32_t slot);
    void send_bytes(const Socket& s, uint32_t slot, const char* data, size_t len);
    // Keeps the first error's words for the report.
    void note_error(std::string what);
    // The measured interval starts later than the run (fan-out: once every subscriber is in).
    void measure_from(uint64_t ns) noexcept { measure_from_ns_ = ns; }

    const LoadOptions& options_;
    const unsigned index_;
    Progress* const progress_;
    engine::Ring ring_;  // destroyed after the buffer ring registered with it
    alloc::BufferRing buffers_;
    Report report_;
    Error error_;
    bool finished_ = false;         // set by the protocol once its budget (-n) is done
    uint64_t last_response_ns_ = 0;  //   and when
    uint64_t now_ = 0;
    uint64_t start_ns_ = 0;
    uint64_t end_ns_ = 0;

  private:
    void setup();
    void loop();
    void harvest();
    void complete(uint64_t user_data, int res, unsigned flags);

    const int cpu_;
    uint64_t measure_from_ns_ = 0;
    __kernel_timespec connect_timeout_{};  // --timeout, for the timeout linked to each connect
};

// Runs `threads` (already built, one per -t) to the end and returns their merged report. Fails
// when one could not set up (ring, buffers, pinning): the message says why.
Result<Report> run_threads(const LoadOptions& options,
                           std::vector<std::unique_ptr<LoopThread>>& threads);

}  // namespace nexure::load
