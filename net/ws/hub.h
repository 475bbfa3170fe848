// The engine side of WebSocket, per worker: the Hub holds the worker's WebSocket connections
// (Socket, socket.h) in slots, its topics (topics.h), the shared compressors, and the sweep that
// pings idle sockets and ends those that stay silent; Registry (one per Server) lets a publish on
// one worker reach the others. Built by the WorkerServer of a server with WebSocket routes; every
// method runs on its worker's thread except Registry's, which any thread may call.
#pragma once

#include <cstdint>
#include <memory>
#include <any>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/timer_wheel.h"
#include "engine/worker.h"
#include "net/loop.h"
#include "net/server.h"
#include "net/upgrade.h"
#include "net/ws/deflate.h"
#include "net/ws/topics.h"
#include "net/ws/websocket.h"

namespace nexure::net::ws::detail {

class Socket;
class Hub;

// A published message, shared (read-only) by the workers it is posted to.
struct Published {
    std::string topic;
    std::string payload;
    bool binary = false;
    bool compress = false;
    uint64_t exclude = 0;  // a socket id that does not get it (the publisher), or 0
};

// The workers' hubs of one server, for publishing across workers.
class Registry {
  public:
    // A worker's hub joins (on its thread, when its server is built).
    void join(unsigned worker, Loop loop);
    void leave(unsigned worker) noexcept;
    // Posts `message` to every hub but `from`'s (UINT32_MAX: all of them). False when no hub
    // took it (the server is not running).
    bool post(std::shared_ptr<const Published> message, unsigned from);
    // Whether hubs other than `worker`'s exist.
    bool others(unsigned worker) noexcept;
    // Bytes of posted messages (topic and payload, once per message) that some hub has not
    // delivered yet: a loop that publishes faster than the workers deliver sees it grow (a
    // worker's posts wait in an unbounded queue), Server::publish_backlog() reports it.
    uint64_t posted_bytes() const noexcept { return posted_->load(std::memory_order_relaxed); }

  private:
    std::mutex mutex_;
    std::vector<std::pair<unsigned, Loop>> loops_;  // under mutex_
    // Shared with the messages on their way, which take their bytes off when the last hub
    // has delivered them (or dropped them, the server stopping).
    std::shared_ptr<std::atomic<uint64_t>> posted_ = std::make_shared<std::atomic<uint64_t>>(0);
};

// What an accepted upgrade brings to the hub.
struct Accepted {
    const WsBehaviour* behaviour = nullptr;
    std::optional<DeflateParams> deflate;
    std::any data;
    std::string protocol;
    http::Endpoint remote;
};

// The handler of a WebSocket route: the handshake, the upgrade hook, the 101 (net/ws/route.cc).
Handler upgrade_handler(const WsBehaviour& behaviour);

class Hub {
  public:
    Hub(engine::Worker& worker, std::shared_ptr<Registry> registry);
    ~Hub();
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // The calling worker's hub, or null (not a worker, or a server without WebSocket routes).
    static Hub* current() noexcept;

    // Takes over an upgraded connection: a Socket on the worker's ring, then `open`, then the
    // bytes the client sent after its handshake.
    void adopt(Upgraded upgraded, Accepted accepted);

    // Publishes on this worker's topics, then to the other workers.
    bool publish(std::string_view topic, std::string_view payload, bool binary, bool compress,
                 uint64_t exclude);
    // A message another worker (or Server::publish) posted here.
    void deliver(const Published& message) noexcept;

    // The server is stopping: every socket gets a close frame (1001) and ends when the peer
    // answers it or after the close timeout.
    void stop() noexcept;

    Socket* find(uint64_t id) noexcept;
    Topics& topics() noexcept { return topics_; }
    engine::Worker& worker() noexcept { return worker_; }
    uint64_t now_ms() const noexcept { return worker_.now_ns() / 1'000'000; }
    // The worker's compressor for messages sent to sockets that take no context over, at this
    // level and window (made at first use).
    Deflater* shared_deflater(int level, uint8_t window_bits) noexcept;

    // Backpressure from whoever the messages go to (the JavaScript bridge's ring): while
    // `full()` says so, a socket that delivered a message stops reading; resume_paused() (at the
    // end of each loop turn) lets them read again once it has room.
    void set_consumer_full(std::function<bool()> full) { consumer_full_ = std::move(full); }
    void after_delivery(Socket& s) noexcept;
    bool has_paused() const noexcept { return !paused_.empty(); }
    void resume_paused() noexcept;

    // A socket ended: its slot is free (called by the Socket once nothing of it runs).
    void release(Socket& s) noexcept;


  private:
    void deliver_to(std::string_view topic, std::string_view payload, bool binary, bool compress,
                    uint64_t exclude) noexcept;
    static void on_sweep(void* arg) noexcept;
    void sweep() noexcept;
    void arm_sweep() noexcept;

    engine::Worker& worker_;
    std::shared_ptr<Registry> registry_;
    std::vector<std::unique_ptr<Socket>> sockets_;
    std::vector<uint32_t> free_;
    uint32_t live_ = 0;
    bool stopping_ = false;
    Topics topics_;
    struct SharedDeflater {
        int level;
        uint8_t window_bits;
        std::unique_ptr<Deflater> deflater;
    };
    std::vector<SharedDeflater> deflaters_;
    alloc::ByteBuffer frame_;
    alloc::ByteBuffer compressed_;
    alloc::ByteBuffer payload_scratch_;
    std::vector<Socket*> snapshot_;
    std::function<bool()> consumer_full_;
    std::vector<std::pair<Socket*, uint64_t>> paused_;  // by id: a reused slot is not resumed
    engine::Timer sweep_timer_;
    bool sweep_armed_ = false;
};

}  // namespace nexure::net::ws::detail
