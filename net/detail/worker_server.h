// WorkerServer: the HTTP server of one engine worker — its listener, connections, receive
// buffers and parsing scratch. Built on the worker's thread by Server and driven by the worker's
// loop through engine::WorkerHandler; nothing here is shared with other workers except the
// read-only router and handler table.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "alloc/buffer_ring.h"
#include "alloc/pool.h"
#include "alloc/send_buffers.h"
#include "engine/worker.h"
#include "net/detail/connection.h"
#include "net/http/date_cache.h"
#include "net/http/parser.h"
#include "net/handoff.h"
#include "net/http/response.h"
#include "net/router/router.h"
#include "net/server.h"

namespace nexure::net::detail {

// Read-only state shared by all workers, built before they start.
struct SharedState {
    ServerConfig config;
    router::Router router;
    std::vector<Handler> handlers;  // C++ routes, by RouteMeta::handler
    std::vector<std::unique_ptr<http::Response>> fixed;  // fixed routes, by RouteMeta::handler
    HandoffFactory handoff;                              // builds each worker's handoff
};

// A connection's responses still to be written in order, from its oldest handed-off request
// that is not answered yet: one entry per request, each with the seq of its ticket (first_seq
// and up). An entry is answered out of order (its bytes wait, framed) or in order (framed
// straight into the connection's output and popped with the entries answered behind it).
struct Deferred {
    struct Entry {
        uint32_t start_ms = 0;  // when the request was handed off (its handler timeout)
        uint8_t flags = 0;      // WorkerServer::kHeadOnly | kKeepAlive | kHttp10
        bool ready = false;     // answered: `bytes` is its framed response
        alloc::ByteBuffer bytes;
    };
    uint32_t first_seq = 0;      // seq of entries[head]
    std::vector<Entry> entries;  // [head, size): the waiting places; a ring would save moves
    size_t head = 0;

    size_t waiting() const noexcept { return entries.size() - head; }
    Entry& front() noexcept { return entries[head]; }
};

class WorkerServer final : public engine::WorkerHandler,
                           private http::RequestSink,
                           private Completions {
  public:
    WorkerServer(engine::Worker& worker, const SharedState& shared, int listen_fd);
    ~WorkerServer() override;

    Result<void> init();

    void on_completion(const io_uring_cqe& cqe) noexcept override;
    void on_turn_end() noexcept override;
    void on_stop_requested() noexcept override;
    bool drained() const noexcept override;
    void on_drain_timeout() noexcept override;
    bool prepare_to_sleep() noexcept override;
    void awake() noexcept override;

    // Ticket::flags of a handed-off request (only the worker reads them back).
    static constexpr uint8_t kHeadOnly = 1;
    static constexpr uint8_t kKeepAlive = 2;
    static constexpr uint8_t kHttp10 = 4;

    // The provided receive buffers (tests/fuzz/connection_fuzz.cc writes the bytes of the
    // completions it makes up into them, as the kernel would).
    alloc::BufferRing& receive_buffers() noexcept { return buffers_; }

  private:
    enum Op : uint8_t {
        kAccept = static_cast<uint8_t>(engine::Op::kFirstUserOp),
        kRecv,
        kSend,
    };

    bool on_request(http::Request& request) noexcept override;

    // Completions (net/handoff.h), called by the handoff from on_turn_end().
    http::Response& response() noexcept override;
    bool complete(const Ticket& ticket) noexcept override;

    // Gives `req` to the handoff and holds its place in `c`'s response order.
    bool hand_off(Connection* c, const http::Request& req, uint32_t id) noexcept;
    // Appends a place to `c`'s order (its seq is c->next_seq, which moves on).
    Deferred::Entry& push_place(Connection* c, uint8_t flags, bool ready) noexcept;
    static void count_unsent(Connection* c) noexcept {
        if (c->unsent_responses < UINT16_MAX) ++c->unsent_responses;
    }
    // Writes `res` for a request of `c`: straight to its output, or into the order's next place
    // while earlier handed-off requests are unanswered.
    void emit(Connection* c, const http::Response& res, uint8_t flags) noexcept;
    // Answers the waiting entry `index` (from head) of `c` with `res`.
    void answer(Connection* c, size_t index, const http::Response& res) noexcept;
    // Moves answered entries at the head of `c`'s order to its output.
    void pop_answered(Connection* c) noexcept;
    bool has_waiting(const Connection* c) const noexcept {
        return c->deferred != nullptr && c->deferred->waiting() != 0;
    }
    bool handoff_saturated() const noexcept { return handoff_ && handoff_->saturated(); }
    // Resumes reading on connections paused because the handoff was saturated.
    void resume_handoff_paused() noexcept;
    void release_deferred(Connection* c) noexcept;
    // Stopping with an abandoned handoff: answers every waiting place 503.
    void answer_abandoned() noexcept;

    void arm_accept() noexcept;
    void on_accept(const io_uring_cqe& cqe) noexcept;
    void on_recv(const io_uring_cqe& cqe) noexcept;
    void on_send(const io_uring_cqe& cqe) noexcept;

    // Takes a connection from the pool for `fd`; on failure closes `fd` and returns nullptr.
    Connection* open_connection(int fd) noexcept;
    void admit(int fd) noexcept;
    int pop_parked() noexcept;  // the longest-parked socket, or -1
    Connection* lookup(uint64_t user_data) noexcept;
    void arm_recv(Connection* c) noexcept;
    void pause_reading(Connection* c) noexcept;
    bool over_output_bounds(const Connection* c) const noexcept;
    // Input that arrived after reading paused (the receive was being cancelled): kept, and
    // parsed one receive buffer's worth at a time as the output drains.
    void hold_input(Connection* c, const char* data, size_t len) noexcept;
    // Parses held input until none is left (true) or the output bounds are reached (false).
    bool feed_held_input(Connection* c) noexcept;
    void drop_held_input(const Connection* c) noexcept;
    struct HeldInput;
    HeldInput* find_held_input(const Connection* c) noexcept;
    void handle_bytes(Connection* c, const char* data, size_t len) noexcept;
    void queue_flush(Connection* c) noexcept;
    void start_send(Connection* c) noexcept;
    void submit_send(Connection* c) noexcept;
    void after_output_drained(Connection* c) noexcept;
    void take_output_buffer(Connection* c) noexcept;
    void give_back(alloc::ByteBuffer& buffer, uint16_t& slab) noexcept;
    void pause_accept() noexcept;
    void resume_accept() noexcept;
    void start_linger(Connection* c) noexcept;
    void close_connection(Connection* c) noexcept;
    void maybe_release(Connection* c) noexcept;

    // Frames the worker's Response (or an engine-generated one) into `c->out`.
    void write_response(Connection* c, const http::Response& res, bool head_only, bool keep_alive,
                        bool http10) noexcept;
    void frame(alloc::ByteBuffer& out, const http::Response& res, bool head_only, bool keep_alive,
               bool http10) noexcept;
    void write_error(Connection* c, int status, bool head_only) noexcept;
    // The worker's response, reset to `status` with its reason phrase as a text/plain body.
    http::Response& canned(int status) noexcept;
    // A handler failed (`what`): logged (bounded), and the response becomes that 500.
    void answer_handler_error(std::string_view what) noexcept;
    [[gnu::cold]] void report_handler_error(std::string_view what) noexcept;

    // A connection's deadlines. Each rule that applies to its state gives one; the earliest is
    // what its timer waits for (rules and defaults: ServerConfig).
    enum class Due : uint8_t { kNone, kIdle, kHead, kBody, kSend, kLinger, kHandler };
    struct Deadline {
        Due due = Due::kNone;
        int64_t in_ms = INT64_MAX;  // from now; <= 0 when passed
    };
    Deadline next_deadline(const Connection* c) const noexcept;
    void schedule_deadline(Connection* c) noexcept;
    uint32_t now_ms() const noexcept { return static_cast<uint32_t>(worker_.now_ns() / 1'000'000); }
    // Notes where the connection's request in progress stands after a read.
    void track_request(Connection* c, bool was_mid, bool was_body, size_t len) noexcept;
    static void on_connection_timer(void* arg) noexcept;
    static void on_accept_retry(void* arg) noexcept;
    static void on_date_tick(void* arg) noexcept;
    void schedule_date_tick() noexcept;

    engine::Worker& worker_;
    const SharedState& shared_;
    const ServerConfig& config_;
    int listen_fd_;
    bool send_timeout_first_;        // the send timeout is shorter than the idle timeout
    uint16_t max_unsent_responses_;  // config_.max_unsent_responses, clamped
    bool accept_armed_ = false;
    bool accept_paused_ = false;  // at the connection cap: accept resumes when one closes
    bool stopping_ = false;

    alloc::BufferRing buffers_;
    alloc::SendBuffers send_;
    http::ParseContext parse_;
    http::Response response_;
    http::DateCache date_;
    engine::Timer date_timer_;
    engine::Timer accept_retry_timer_;

    // Connection pool, capped at max_connections_per_worker; index == Connection::slot.
    alloc::Pool<Connection> connections_;
    // Sockets accepted at the cap, before the accept cancellation took effect: they wait here,
    // unread, and are opened in arrival order as places free up (closed if this is full).
    static constexpr uint32_t kMaxParked = 256;
    std::array<int, kMaxParked> parked_{};
    uint32_t parked_head_ = 0;
    uint32_t parked_count_ = 0;
    // Drained heap output buffers (output that outgrew its send slab or found none), for reuse.
    std::vector<alloc::ByteBuffer> spare_buffers_;
    std::vector<Connection*> flush_list_;  // connections with output queued this turn
    std::vector<Connection*> rearm_list_;  // connections whose multishot recv ended
    struct HeldInput {
        const Connection* connection;
        alloc::ByteBuffer bytes;
        size_t parsed = 0;
    };
    std::vector<HeldInput> held_;    // few: only connections whose reading is paused
    Connection* current_ = nullptr;  // the connection being parsed (for on_request)
    uint32_t answered_in_feed_ = 0;  // requests on_request() answered in this feed()
    unsigned handler_errors_reported_ = 0;

    std::unique_ptr<Handoff> handoff_;  // null when the server has no handoff routes
    bool handed_off_in_feed_ = false;   // the feed in progress handed a request off
    // Connections whose reading paused because the handoff was saturated, with their generation.
    std::vector<std::pair<Connection*, uint32_t>> handoff_paused_;
    std::vector<std::pair<Connection*, uint32_t>> resume_scratch_;
    std::vector<Deferred*> spare_deferred_;  // freed Deferred objects, for reuse
    unsigned handler_timeouts_reported_ = 0;
};

}  // namespace nexure::net::detail
