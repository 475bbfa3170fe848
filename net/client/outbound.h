// Outbound: one worker's outbound connections — the state behind TcpSocket handles, the
// completions of their connects, receives and sends, and the per-worker state of HTTP clients
// (their connection pools). Owned by the worker's WorkerServer, which routes the client ops'
// completions here and calls the turn hooks; everything runs on the worker's thread.
//
// A socket's slot is reused after it closes, with a new generation: a handle or a completion that
// names an old generation finds nothing (as for the server's connections).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/buffer_ring.h"
#include "alloc/byte_buffer.h"
#include "engine/timer_wheel.h"
#include "engine/worker.h"
#include "net/client/socket.h"
#include "net/unique_function.h"

namespace nexure::net::client::detail {

// The per-worker part of a client built on sockets (HttpClient's pool), kept by Outbound under
// the client's id so that it lives as long as the worker.
class ClientState {
  public:
    virtual ~ClientState() = default;
    // The server is stopping: close what is idle, finish what is in flight, take no new work
    // beyond what in-flight requests still need.
    virtual void stop() noexcept = 0;
};

class Outbound : public std::enable_shared_from_this<Outbound> {
  public:
    // Completions of client ops carry op tags from `first_op` to first_op + 3 (kOps).
    Outbound(engine::Worker& worker, alloc::BufferRing& buffers, uint16_t buffer_group,
             uint8_t first_op) noexcept;
    ~Outbound();
    // The worker is going away (its loop has ended): every socket is closed synchronously and
    // nothing is called; handles still held elsewhere then find nothing (TcpSocket keeps the
    // Outbound itself alive, not the worker).
    void teardown() noexcept;
    Outbound(const Outbound&) = delete;
    Outbound& operator=(const Outbound&) = delete;

    // The calling worker's Outbound, or null off a worker thread.
    static Outbound* current() noexcept;

    // ---- for the worker's server
    static constexpr uint8_t kOps = 4;
    bool owns(uint8_t op) const noexcept { return op >= first_op_ && op < first_op_ + kOps; }
    // Adopted sockets receive into `buffers` (group `group`) instead of the shared ring: a
    // protocol whose messages outgrow the server's small receive buffers (WebSocket) reads them
    // whole. Before the first adopt().
    void set_adopted_buffers(alloc::BufferRing* buffers, uint16_t group) noexcept {
        adopted_buffers_ = buffers;
        adopted_group_ = group;
    }
    void on_completion(const io_uring_cqe& cqe) noexcept;
    // End of a loop turn: callbacks deferred this turn, then one send per socket with output.
    void flush() noexcept;
    // After the receive buffers went back to the ring: receives that ran out of them re-armed.
    void rearm() noexcept;
    // The server is stopping: client states stop (idle pooled connections close).
    void stop() noexcept;
    // Sockets open or closing (the worker's drain waits for none), and how many of them were
    // adopted (the server's own, e.g. WebSocket connections).
    uint32_t live() const noexcept { return live_; }
    uint32_t adopted() const noexcept { return adopted_; }
    // The drain timed out, or the worker is going away: every socket closes now, callbacks of
    // pending connects report ESHUTDOWN (`teardown`: nothing is called, the ring is gone).
    // `adopted_too` false: the adopted sockets stay (their protocol closes them).
    void close_all(bool teardown, bool adopted_too = true) noexcept;

    engine::Worker& worker() noexcept { return worker_; }
    uint64_t now_ms() const noexcept { return worker_.now_ns() / 1'000'000; }

    // Runs `fn` at the end of this loop turn (a callback that must not run inside the call that
    // produced it).
    void defer(UniqueFunction<void()> fn) { deferred_.push_back(std::move(fn)); }

    // ---- per-client state, by the client's process-wide id
    ClientState* client_state(uint32_t id) noexcept {
        return id < clients_.size() ? clients_[id].get() : nullptr;
    }
    void set_client_state(uint32_t id, std::unique_ptr<ClientState> state);

    // ---- TcpSocket's operations
    void connect(const Endpoint& to, const TcpOptions& options,
                 UniqueFunction<void(Result<TcpSocket>)> done);
    void set_on_data(uint32_t slot, uint32_t generation, UniqueFunction<void(std::string_view)> fn);
    void set_on_close(uint32_t slot, uint32_t generation, UniqueFunction<void(int)> fn);
    void set_on_sent(uint32_t slot, uint32_t generation, UniqueFunction<void(size_t)> fn);
    TcpSocket adopt(int fd);
    void pause_reading(uint32_t slot, uint32_t generation, bool paused) noexcept;
    size_t write_now(uint32_t slot, uint32_t generation, std::span<const iovec> parts) noexcept;
    alloc::ByteBuffer* output(uint32_t slot, uint32_t generation) noexcept;
    size_t buffered(uint32_t slot, uint32_t generation) const noexcept;
    bool is_open(uint32_t slot, uint32_t generation) const noexcept;
    void close(uint32_t slot, uint32_t generation) noexcept;

  private:
    struct Sock;
    enum : uint8_t { kConnectOp = 0, kRecvOp = 1, kSendOp = 2, kAdoptedRecvOp = 3 };
    // The ring a socket's receives draw from.
    alloc::BufferRing& ring_of(const Sock& s) noexcept;

    Sock* find(uint32_t slot, uint32_t generation) const noexcept;
    Sock* take_slot();
    uint64_t tag(uint8_t which, const Sock& s) const noexcept;
    void arm_recv(Sock& s) noexcept;
    void send(Sock& s) noexcept;
    void on_connect(Sock& s, int res) noexcept;
    void on_recv(Sock& s, const io_uring_cqe& cqe) noexcept;
    void on_send(Sock& s, int res) noexcept;
    // The peer ended the connection (0) or an error did (-errno): on_close, then close.
    void ended(Sock& s, int err) noexcept;
    void begin_close(Sock& s) noexcept;
    void maybe_release(Sock& s) noexcept;
    void report(std::string_view what, std::string_view detail) noexcept;
    // Runs application code `fn`; an exception is reported with `what` (false then).
    template <typename Fn>
    bool guarded(std::string_view what, Fn&& fn) noexcept;
    static void on_connect_deadline(void* arg) noexcept;

    engine::Worker& worker_;
    alloc::BufferRing& buffers_;
    uint16_t buffer_group_;
    alloc::BufferRing* adopted_buffers_ = nullptr;  // null: adopted sockets use buffers_
    uint16_t adopted_group_ = 0;
    uint8_t first_op_;
    bool dead_ = false;  // after teardown()
    uint32_t live_ = 0;
    uint32_t adopted_ = 0;
    std::vector<std::unique_ptr<Sock>> socks_;
    std::vector<uint32_t> free_;
    std::vector<Sock*> flush_list_;   // sockets with output written this turn
    std::vector<std::pair<Sock*, uint32_t>> rearm_list_;  // receives that ran out of buffers
    std::vector<UniqueFunction<void()>> deferred_;        // callbacks that must not run inline
    std::vector<std::unique_ptr<ClientState>> clients_;
};

}  // namespace nexure::net::client::detail
