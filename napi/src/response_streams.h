// ResponseStreams: the streamed answers of one worker's bridge (napi/PROTOCOL.md, "Streamed
// responses") — reply.send(stream) and reply.sse() in JavaScript.
//
// JavaScript sends a stream as response records with flag bits 1 (open: the head and the first
// bytes), 2 (more bytes) and 3 (end), and keeps at most a window of bytes unacknowledged. This
// class hands the pieces to the worker (net::Completions::open_stream/write/end) and gives the
// window back with **writable** event records: at the end of each loop turn for what the
// connection took while under its high-water mark, and — for a stream whose output was full —
// only once the worker reports that the output drained (net::Handoff::writable). So a slow
// reader stops the JavaScript source: what one stream holds is bounded by the window plus the
// connection's max_pending_output. A stream that is gone (the client left, the handler timeout,
// a head refused) is reported once with an **abort** event.
//
// Worker thread only, owned by the WorkerBridge. Allocates only per stream (its entry), never
// for ordinary answers.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/handoff.h"

namespace nexure::napi {

// Where the events go: the bridge's request ring, in order with request records.
class EventSink {
  public:
    virtual void post_event(const net::Ticket& ticket, uint8_t type,
                            std::string_view data) noexcept = 0;

  protected:
    ~EventSink() = default;
};

class ResponseStreams {
  public:
    explicit ResponseStreams(EventSink& sink) noexcept : sink_(sink) {}

    // A record with the stream-open flag: done.response() holds its status and headers (without
    // Content-Length: `length` says it, or Completions::kUnknownLength). Then as data().
    void open(const net::Ticket& ticket, net::Completions& done, uint64_t length,
              std::string_view bytes, bool end, bool failed) noexcept;
    // A record with the stream-data flag: `bytes` for the open stream; then, with `end`, the
    // stream ends, or with `failed` (the close flag without end) it is cut.
    void data(const net::Ticket& ticket, net::Completions& done, std::string_view bytes, bool end,
              bool failed) noexcept;
    // net::Handoff::aborted / writable, for a handed-off request.
    void aborted(const net::Ticket& ticket) noexcept;
    void writable(const net::Ticket& ticket) noexcept;
    // After a turn's response records: the credits of streams that are not waiting for room.
    void turn_end() noexcept;

    size_t open_count() const noexcept { return streams_.size(); }

  private:
    struct Key {
        uint32_t slot, generation, seq;
        bool operator==(const Key&) const noexcept = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept {
            return (uint64_t{k.slot} * 0x9E3779B97F4A7C15ull) ^
                   (uint64_t{k.seq} << 20 | k.generation);
        }
    };
    struct Entry {
        net::Ticket ticket;
        uint64_t unacked = 0;  // bytes taken since the last credit
        bool blocked = false;  // the output was full: credit only after writable()
        bool listed = false;   // in credited_ for this turn
    };
    static Key key(const net::Ticket& t) noexcept { return Key{t.slot, t.generation, t.seq}; }
    void post_credit(Entry& e) noexcept;
    // The stream is gone: forget it and say so (once).
    void gone(const net::Ticket& ticket) noexcept;

    EventSink& sink_;
    std::unordered_map<Key, Entry, KeyHash> streams_;
    std::vector<Key> credited_;  // streams that took bytes this turn
};

}  // namespace nexure::napi
