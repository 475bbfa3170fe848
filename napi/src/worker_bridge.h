// WorkerBridge: one engine worker's end of the JavaScript bridge (a net::Handoff).
//
// The worker hands each request of a JS route to submit(), which encodes it as a request record
// (napi/PROTOCOL.md) straight into the worker's request ring; on_turn_end() publishes the turn's
// records (ringing the JS doorbell only when the JS thread announced it sleeps) and frames the
// response records the JS thread sent back. Built, driven and destroyed on the worker's thread
// (engine/README.md: the handler, and with it its handoff, is destroyed on the worker thread
// after its loop returned). Never calls N-API or libuv: the JS thread is reached only through
// the rings and the eventfd write in Channel::ring_js().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/mailbox.h"
#include "napi/src/channel.h"
#include "napi/src/records.h"
#include "napi/src/response_streams.h"
#include "napi/src/ws_bridge.h"
#include "net/handoff.h"

namespace nexure::napi {

class WorkerBridge final : public net::Handoff, public EventSink {
  public:
    // `server`: for app.publish() records (ws_bridge.h); may be null (no WebSocket routes).
    WorkerBridge(Ref<Channel> channel, net::Server* server) noexcept;
    // Marks the channel finished and rings the JS doorbell, so the JS side learns that this
    // worker has ended (binding.stopped()).
    ~WorkerBridge() override;

    void submit(const net::http::Request& request, uint32_t id,
                const net::Ticket& ticket) noexcept override;
    // The record with request flag bit 1 and the engine's status (PROTOCOL.md).
    void submit_engine_answer(const net::http::Request& request, uint32_t id, uint16_t status,
                              const net::Ticket& ticket) noexcept override;
    // A streamed body (napi/PROTOCOL.md, "Event records"): the request record says so (flag
    // bit 0), then body data, end or error events follow.
    bool submit_streaming(const net::http::Request& request, uint32_t id,
                          const net::Ticket& ticket) noexcept override;
    void body_data(const net::Ticket& ticket, std::string_view bytes) noexcept override;
    void body_end(const net::Ticket& ticket) noexcept override;
    void body_error(const net::Ticket& ticket, int status, std::string_view reason) noexcept override;
    bool saturated() const noexcept override { return overflow_count_ != 0; }
    void on_turn_end(net::Completions& done) noexcept override;
    bool prepare_to_sleep() noexcept override;
    void awake() noexcept override;
    bool abandoned() const noexcept override {
        return channel_->js_gone.load(std::memory_order_acquire);
    }
    void aborted(const net::Ticket& ticket) noexcept override { streams_.aborted(ticket); }
    void writable(const net::Ticket& ticket) noexcept override { streams_.writable(ticket); }

    // EventSink (response_streams.h): submit_event() with `data`.
    void post_event(const net::Ticket& ticket, uint8_t type,
                    std::string_view data) noexcept override {
        submit_event(ticket, type, data);
    }

    // The request record's size for `request` (exposed for tests and ring sizing).
    static uint32_t record_size(const net::http::Request& request) noexcept;

    // Appends an event record (napi/PROTOCOL.md, "Event records") for the request `ticket`
    // names: `type` (event_record::Type), data `a` then `b`, in the order of the ring's other
    // records (through the overflow when the ring is full). Data longer than half the ring less
    // the header is dropped: split it.
    void submit_event(const net::Ticket& ticket, uint8_t type, std::string_view a,
                      std::string_view b = {}) noexcept;
    // A request record for `request` with handler id `id` outside the handoff's own requests
    // (a WebSocket upgrade JavaScript decides: ws_bridge.h); `ticket` names it to the caller.
    // False when it cannot fit the ring at all.
    bool submit_record(const net::http::Request& request, uint32_t id,
                       const net::Ticket& ticket) noexcept;
    // The most data one event record carries (a longer WebSocket message is cut into pieces).
    uint32_t max_event_data() const noexcept {
        return requests_.max_record() - event_record::kFixedBytes - 8;  // 8: the alignment
    }

  private:
    [[gnu::cold, gnu::noinline]] void submit_slow(const net::http::Request& request, uint32_t id,
                                                  const net::Ticket& ticket, uint32_t size,
                                                  uint8_t request_flags,
                                                  uint16_t engine_status) noexcept;
    // Room for a record of `size` bytes: in the ring, or at the end of the overflow when the
    // ring is full or older records wait there. Null when it can never fit the ring.
    char* room(uint32_t size) noexcept;
    void put_event(const net::Ticket& ticket, uint8_t type, std::string_view a,
                   std::string_view b) noexcept;
    // Writes the gathered body data as one event (before any other record, and at turn end).
    void flush_gather() noexcept {
        if (gathering_) [[unlikely]] flush_gather_slow();
    }
    [[gnu::cold, gnu::noinline]] void flush_gather_slow() noexcept;
    // Moves overflowed records into the ring, oldest first, while they fit; returns how many.
    uint32_t move_overflow() noexcept;
    void deliver(const engine::Mailbox::Record& record, net::Completions& done) noexcept;
    // A response record of a stream (flag bits 1-3, PROTOCOL.md "Streamed responses").
    void deliver_stream(const net::Ticket& ticket, uint32_t flags,
                        std::optional<std::string_view> content_length, std::string_view body,
                        net::http::Response& res, net::Completions& done) noexcept;

    Ref<Channel> channel_;
    engine::Mailbox& requests_;
    engine::Mailbox& responses_;
    // Records that found the ring full, encoded, in order: [overflow_read_, end) of the bytes,
    // their sizes from overflow_sizes_[overflow_first_]. Bounded by what one loop turn parses:
    // saturated() stops the worker from reading more.
    std::vector<char> overflow_;
    std::vector<uint32_t> overflow_sizes_;
    size_t overflow_read_ = 0;
    size_t overflow_first_ = 0;
    uint32_t overflow_count_ = 0;
    // Body data of one request received within a loop turn, gathered into one event of up to
    // kGather bytes instead of one per receive (JavaScript then handles far fewer, larger
    // chunks). Flushed before any other record, so the ring's order is the arrival order.
    static constexpr size_t kGather = 64 * 1024;
    std::vector<char> gather_;
    net::Ticket gather_ticket_{};
    bool gathering_ = false;
    // Requests whose record cannot fit the ring at all (the ring is sized so that this does not
    // happen within the configured limits); answered 500 at the end of the turn.
    std::vector<net::Ticket> rejected_;
    ResponseStreams streams_{*this};
    WsBridge ws_;  // after everything it posts through (destroyed first)
};

// What the handoff factory needs to build each worker's bridge. Owned by the JS-side server; the
// factory runs on each worker thread during Server::start(), which returns only after every
// worker ran it, so the JS thread may read `channels` once start() has returned.
struct BridgeRegistry {
    size_t request_capacity = 0;
    size_t response_capacity = 0;
    int js_doorbell_fd = -1;
    std::mutex mutex;
    std::vector<Ref<Channel>> channels;  // by worker index
    net::Server* server = nullptr;       // the server these bridges belong to (app.publish)
};

// The handoff factory: on the worker's thread, marks it as an engine thread (thread_role.h),
// maps its two rings and registers the channel under the worker's index.
Result<std::unique_ptr<net::Handoff>> make_worker_bridge(engine::Worker& worker,
                                                         BridgeRegistry& registry) noexcept;

}  // namespace nexure::napi
