// Channel: the two rings between one engine worker and the JavaScript thread, and the flags of
// their doorbells (napi/PROTOCOL.md, "Threads and memory").
//
//   request ring   producer: the worker (WorkerBridge)    consumer: the JS thread (JsSide)
//   response ring  producer: the JS thread (JsSide)       consumer: the worker (WorkerBridge)
//
// Each ring's consumer sleeps with the Mailbox protocol (prepare_to_sleep / publish). A producer
// that finds its ring full sets a "wants room" flag instead; the consumer checks it after
// releasing records and wakes the producer. Flag and ring position are written and read in
// opposite orders on the two sides with a seq_cst fence between, so either the consumer sees
// the flag or the producer sees the room: no wake-up is lost.
//
// Refcounted (ref_counted.h): the worker's bridge, the JS-side server and the request ring's
// ArrayBuffer each hold a reference. The creator (the worker, in the handoff factory) fills it
// before Server::start() returns; after that only the atomics and the rings' own protocol are
// shared. No node headers: engine-thread code includes this.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "alloc/result.h"
#include "engine/mailbox.h"
#include "napi/src/ref_counted.h"

namespace nexure::engine {
class Worker;
}

namespace nexure::napi {

class Channel final : public RefCounted {
  public:
    // `js_doorbell_fd`: the server's eventfd, written to wake the JS thread; it stays open until
    // every worker has been joined. `worker` stays valid until the Server is destroyed.
    static Result<Ref<Channel>> create(size_t request_capacity, size_t response_capacity,
                                       engine::Worker* worker, int js_doorbell_fd) noexcept;

    engine::Mailbox& requests() noexcept { return requests_; }
    engine::Mailbox& responses() noexcept { return responses_; }
    engine::Worker* worker() const noexcept { return worker_; }

    // Any thread: one eventfd write; the JS thread's uv_poll callback reads it and drains.
    void ring_js() const noexcept;

    // The worker's request ring was full when it went to sleep: wake it once there is room.
    std::atomic<bool> worker_wants_room{false};
    // The JS side holds responses the full response ring could not take: ring the JS doorbell
    // once the worker has consumed some.
    std::atomic<bool> js_wants_room{false};
    // The worker's loop has ended and its bridge is gone: nothing in the rings will be served.
    std::atomic<bool> finished{false};
    // The JS side is being torn down and will answer nothing more: a stopping worker answers
    // what waits 503 at once (net::Handoff::abandoned()).
    std::atomic<bool> js_gone{false};
    // Bytes of stashed bodies in the response ring or with the worker, not yet freed: the JS
    // side adds a body's bytes when it moves its record into the ring, the worker takes them off
    // when it frees the body (free_stash). Part of the backlog that bounds WebSocket sends and
    // publishes (JsSide::report_backlog), which the ring's own capacity does not bound.
    std::atomic<uint64_t> stashed_bytes{0};

    // Worker thread: frees a stashed body of `bytes` taken from a response-ring record (null: none).
    void free_stash(void* body, uint32_t bytes) noexcept;

  private:
    Channel(engine::Worker* worker, int js_doorbell_fd) noexcept
        : worker_(worker), js_doorbell_fd_(js_doorbell_fd) {}
    ~Channel() override;

    engine::Mailbox requests_;
    engine::Mailbox responses_;
    engine::Worker* worker_;
    int js_doorbell_fd_;
};

// Frees the stashed body a response-ring record carries, if any (the record is never framed).
void free_stashed_body(const engine::Mailbox::Record& record) noexcept;

}  // namespace nexure::napi
