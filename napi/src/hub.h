// Hub: one server's requests shared out to several JavaScript threads (createApp's `jsThreads`,
// napi/PROTOCOL.md "JavaScript threads").
//
// The engine's request and response rings stay single-producer, single-consumer: the server's
// own JS thread (the one that called start()) keeps the JsSide and is their only consumer and
// producer. With a hub, that thread runs no handlers: pump() moves every record it pulls into a
// lane, one per JavaScript thread, and every response record the threads post into the response
// rings. A JavaScript thread drives its lane through a ThreadSide (thread_side.h).
//
//   - A request goes to the lane with the fewest requests assigned and not answered yet (its
//     load), ties taken in turn. Its events (abort, writable, body pieces) follow it to the
//     lane that owns it.
//   - A lane takes at most one request per take(): a thread busy in a handler holds no request
//     that another thread could run. A thread that finds its own lane empty steals the oldest
//     waiting request of the most loaded lane (with the events queued behind it).
//   - Answers may come back in any order: the engine's Completions keep each connection's order.
//   - The lanes hold at most kQueueBytes of records: above that pump() stops pulling, the
//     engine's rings fill and the workers stop reading (the bridge's usual backpressure).
//   - A thread that goes away (detach()) leaves its waiting requests to the other lanes; the
//     requests it had taken are answered 500 and their connections closed.
//
// Every member is guarded by one mutex, except pump(), which runs on the server's JS thread
// only (it is the JsSide's thread). No N-API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "napi/src/ref_counted.h"

namespace nexure::napi {

class JsSide;

class Hub final : public RefCounted {
  public:
    static constexpr size_t kQueueBytes = 8u << 20;

    // A body a thread stashed (kind-1 record): malloc'd, owned by whoever holds the record.
    struct Stashed {
        uint32_t at = 0;  // offset of its record in the posted bytes
        void* data = nullptr;
        uint32_t size = 0;
    };

    // `lanes` JavaScript threads; `main_fd`: the server's JS doorbell (an eventfd), rung when
    // threads post answers or room opens in the lanes.
    Hub(uint32_t lanes, int main_fd, uint32_t worker_count, size_t largest_record) noexcept;

    const uint32_t workers;     // the engine's workers (the records' worker indexes)
    const size_t record_bytes;  // the largest record: a request ring's capacity

    uint32_t lanes() const noexcept { return static_cast<uint32_t>(lanes_.size()); }

    // ---- a JavaScript thread (ThreadSide) ----

    // The thread of lane `lane` is there, `fd` its doorbell (an eventfd rung when its lane gets
    // records while it sleeps). False when the lane is taken or out of range.
    bool attach(uint32_t lane, int fd) noexcept;
    // The thread leaves: its doorbell is forgotten, its waiting requests move to other lanes,
    // the requests it took are answered 500 (their connections close).
    void detach(uint32_t lane) noexcept;
    // Appends response records (`size` bytes, validated by the caller) to the answers pump()
    // forwards; `stashed` are their stashed bodies, whose ownership moves here.
    void post(uint32_t lane, const char* bytes, uint32_t size,
              const std::vector<Stashed>& stashed) noexcept;
    // Copies the lane's next records into `inbox` (8-byte aligned, from offset 0; `capacity`
    // bytes) and their (worker, offset, size) into `index`, at most `max`, at most one request.
    // Steals when the lane is empty. Returns how many; 0 means the thread sleeps: its doorbell
    // rings when records come.
    uint32_t take(uint32_t lane, char* inbox, size_t capacity, uint32_t* index,
                  uint32_t max) noexcept;
    // Every engine worker has ended and pump() has forwarded all it could: nothing more comes.
    bool finished() const noexcept;

    // ---- the server's JS thread ----

    // Forwards the threads' answers into the response rings and the engine's requests and
    // events into the lanes, for at most `rounds` pulls. Returns true when it stopped because
    // of the limit (more may wait: call again after the loop's other work).
    bool pump(JsSide& js, uint32_t rounds) noexcept;
    // The engine has ended: drop what waits, wake every thread so that it sees finished().
    void finish() noexcept;
    // The server is being destroyed and its doorbell closes: finish(), and never write it again.
    void forget_main() noexcept;

  private:
    struct Key {
        uint32_t worker, slot, generation, seq;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& k) const noexcept {
            uint64_t h = (uint64_t{k.worker} << 32 | k.slot) * 0x9E3779B97F4A7C15ull;
            h ^= (uint64_t{k.generation} << 32 | k.seq) + 0x632BE59BD9B4E019ull + (h << 6);
            return static_cast<size_t>(h ^ (h >> 29));
        }
    };
    struct Parcel {
        std::unique_ptr<char[]> bytes;
        uint32_t size = 0;
        uint16_t worker = 0;
        bool request = false;
        Key key{};
    };
    // A request given to a lane and not finished yet.
    struct Owner {
        uint32_t lane = 0;
        uint32_t ticket_flags = 0;
        bool answered = false;   // its last response record went through (or it was aborted)
        bool body_open = false;  // a streamed body whose end or error has not come yet
        bool streaming = false;  // a streamed answer has begun
    };
    struct Lane {
        std::deque<Parcel> queue;
        uint32_t load = 0;  // requests assigned and not answered
        int fd = -1;
        bool attached = false;
        bool armed = false;  // the thread sleeps: ring fd when records come
        bool ring = false;   // records came during this pump
    };

    static Key key_of(uint16_t worker, const char* ticket) noexcept;
    // pump()'s halves (lock held).
    void route(uint16_t worker, const char* record, uint32_t size) noexcept;
    uint32_t pick_lane() noexcept;
    void ring_lanes() noexcept;
    // A request's accounting ends (answered or aborted): `it` may be erased.
    void settle(std::unordered_map<Key, Owner, KeyHash>::iterator it, bool aborted) noexcept;
    void account_answer(const char* record) noexcept;
    bool steal_for(uint32_t lane) noexcept;
    // Moves the request at `at` in lane `from`'s queue, with the events behind it, to `to`.
    void move_request(uint32_t from, size_t at, uint32_t to) noexcept;
    void answer_500(const Key& key, const Owner& owner) noexcept;
    void ring_main() noexcept;
    // Moves the posted answers into the JsSide's staging and hands them over.
    uint32_t stage_answers(JsSide& js) noexcept;
    void drop_outbox() noexcept;
    void finish_locked() noexcept;

    mutable std::mutex mutex_;
    std::vector<Lane> lanes_;
    std::unordered_map<Key, Owner, KeyHash> owners_;
    size_t queued_bytes_ = 0;
    uint32_t next_lane_ = 0;
    // The threads' answers, waiting for pump().
    std::vector<char> outbox_;
    std::vector<Stashed> outbox_stashed_;
    int main_fd_;
    bool main_armed_ = false;
    bool throttled_ = false;  // pump() stopped pulling at kQueueBytes
    bool finished_ = false;
    // pump()'s own copies (JS thread only).
    std::vector<char> answers_;
    std::vector<Stashed> answers_stashed_;
};

}  // namespace nexure::napi
