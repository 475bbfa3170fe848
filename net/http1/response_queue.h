// ResponseQueue: a connection's responses still to be written in request order, from its oldest
// request whose answer is not written yet (net/http1/connection.h). One place per request: a
// place waits for its answer (handed off, deferred), holds an answer that came early (framed, it
// waits for the places before it), or is answered: then it is written straight to the
// connection's output, with the answered places behind it. Worker thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/byte_buffer.h"
#include "net/compress/encoder.h"
#include "net/handoff.h"
#include "net/hooks.h"
#include "net/http/method.h"
#include "net/http/response.h"
#include "net/unique_function.h"
#include "net/upgrade.h"

namespace nexure::net::http1 {

// How a request is to be answered (kept with its place until the answer is framed).
enum RequestFlags : uint8_t {
    kHeadOnly = 1,   // HEAD: the head only
    kKeepAlive = 2,  // the connection may stay open after the answer
    kHttp10 = 4,     // an HTTP/1.0 client
    kUpgrade = 8,    // a 101 that hands the connection over (net/upgrade.h)
    // The route compresses (net/http/compression.h): the answer may be encoded, with the coding
    // in the two bits at kCodingShift (an http::ContentCoding; kIdentity: the client accepts
    // none, the answer only gets Vary).
    kCompress = 16,
    kCodingMask = 32 | 64,
};
inline constexpr unsigned kCodingShift = 5;

struct ResponseQueue {
    struct Place {
        uint32_t start_ms = 0;  // when the request began to wait (its handler timeout)
        uint8_t flags = 0;      // RequestFlags
        bool ready = false;     // answered in full: `bytes` is its framed response
        // A streamed response (net/stream.h): its head is written, its body comes in pieces.
        // Behind earlier places its bytes collect in `bytes`; at the front they go straight to
        // the connection's output. Ready once ended.
        bool streaming = false;
        bool wants_writable = false;  // a write found the output full: on_writable is due
        // A handed-off request's place (net/handoff.h): the handoff is told when its answer can
        // no longer be given (once: cleared then) and when its stream's output drained.
        bool handed_off = false;
        http::BodyFraming body = http::BodyFraming::kNone;
        uint64_t remaining = 0;  // body bytes still announced (BodyFraming::kLength)
        // An encoded stream's encoder (net/http/compression.h), from the worker's pool; given
        // back when the stream ends.
        std::unique_ptr<compress::Encoder> encoder;
        // Where the head of a ready keep-alive HTTP/1.1 answer ends in `bytes`, for
        // ResponseWriter::insert_close() (UINT32_MAX: not patchable).
        uint32_t head_end = UINT32_MAX;
        alloc::ByteBuffer bytes;
        Task on_abort;     // the answer can no longer be given (once)
        Task on_writable;  // a stream's output has drained
        // For the after-response hooks (net/hooks.h), which are told of answers in request
        // order, when they go to the output: when the request was dispatched (the worker's
        // clock), a stream's status and body bytes so far, and — kept only when the server has
        // such hooks — the request's method and target (at `request_at` in `requests`) and, for
        // an answer framed here behind earlier places, what they will be told of it (status,
        // cause, detail at `detail_at`, body bytes).
        uint64_t dispatched_ns = 0;
        uint64_t body_bytes = 0;
        uint32_t request_at = 0;
        uint32_t target_length = 0;
        uint32_t detail_at = 0;
        uint16_t detail_length = 0;
        uint16_t status = 0;
        uint8_t method_length = 0;
        http::Method method = http::Method::kOther;
        AnswerCause cause = AnswerCause::kHandler;
        bool complete = true;  // false: a stream cut short
    };
    // The request body being streamed to a handler (net/body.h), if any: one at a time.
    struct IncomingBody {
        bool active = false;  // between the head and the end of a streamed body
        // The connection ends after this request (not keep-alive): reading stops at the end
        // of the body, not before (the body is still to be read).
        bool last = false;
        bool paused = false;  // the handler asked to stop reading (BodyReader::pause)
        uint32_t seq = 0;     // names it in BodyReader's ticket
        // Places that waited before this request's own: with none, its 100 Continue overtakes
        // nothing (its own deferred answer waits for the body anyway).
        size_t places_before = 0;
        UniqueFunction<void(std::string_view)> on_data;
        Task on_end;
        Task on_abort;
        // A handed-off request's body (Handoff::body_data), named by its place's ticket, under
        // a credit window (kBodyWindow) instead of pause()/resume().
        bool handoff = false;
        bool discard = false;        // its answer came, or the other side reads no more: dropped
        bool continue_held = false;  // 100-continue waits for BodyControl::kStart
        bool continue_due = false;   // ... and the parser asked for it meanwhile
        uint32_t in_flight = 0;      // bytes sent to the handoff, not yet credited back
        Ticket ticket{};
    };
    IncomingBody incoming;
    uint32_t bodies = 0;  // streamed bodies so far (their seqs)

    // An accepted upgrade (net/upgrade.h): after its 101 is sent, the connection is handed over.
    // An upgrade request whose answer was deferred (Response::defer(), then Response::upgrade()
    // in Later::respond): `awaiting` until it is given; nothing after the request is parsed
    // meanwhile (it may be the new protocol's), it waits in `received`. Accepted: as above;
    // answered otherwise: `received` is parsed as HTTP again.
    struct PendingUpgrade {
        bool pending = false;
        bool awaiting = false;
        uint32_t seq = 0;  // the awaited place's
        UniqueFunction<void(Upgraded)> take;
        std::string received;  // bytes after the upgrade request, read by the parser
    };
    PendingUpgrade upgrade;

    uint32_t first_seq = 0;    // seq of places[head]
    std::vector<Place> places;  // [head, size): the waiting places; a ring would save moves
    size_t head = 0;
    // The method names and targets of places' requests, in place order (Place::request_at), and
    // the details of answers framed in places (Place::detail_at); written only when the server
    // has after-response hooks. Reclaimed with the places, so it holds at most what the waiting
    // places' requests held; its capacity is kept for reuse up to kKeepRequests.
    std::string requests;
    static constexpr size_t kKeepRequests = 64 * 1024;

    size_t waiting() const noexcept { return places.size() - head; }
    Place& front() noexcept { return places[head]; }
    Place& at(size_t index) noexcept { return places[head + index]; }

    // Starts a new run of places at `seq` when none is waiting.
    void restart_at(uint32_t seq) noexcept {
        if (waiting() != 0) return;
        places.clear();
        head = 0;
        first_seq = seq;
        // (Freed here, never in reset(): an after-response hook may still be reading it then.)
        if (requests.capacity() > kKeepRequests) std::string().swap(requests);
        requests.clear();
    }
    // Appends a place (the caller numbers it: first_seq + its index).
    Place& push(uint32_t start_ms, uint8_t flags, bool ready) {
        if (places.size() == places.capacity() && head > 0) {
            // Reclaim the answered prefix instead of growing (and its requests' text).
            const uint32_t cut = head < places.size() ? places[head].request_at
                                                      : static_cast<uint32_t>(requests.size());
            places.erase(places.begin(), places.begin() + static_cast<ptrdiff_t>(head));
            head = 0;
            if (cut != 0) {
                // (A place's detail was written after its request: never before the cut.)
                requests.erase(0, cut);
                for (Place& p : places) {
                    p.request_at -= cut;
                    if (p.detail_length != 0) p.detail_at -= cut;
                }
            }
        }
        Place& p = places.emplace_back();
        p.start_ms = start_ms;
        p.flags = flags;
        p.ready = ready;
        p.request_at = static_cast<uint32_t>(requests.size());
        return p;
    }
    // Keeps the method and target of the request of `p`, the place just pushed.
    void remember(Place& p, http::Method method, std::string_view name, std::string_view target) {
        p.method = method;
        p.method_length = static_cast<uint8_t>(name.size());  // at most 255 (the parser's cap)
        p.target_length = static_cast<uint32_t>(target.size());
        p.request_at = static_cast<uint32_t>(requests.size());
        requests.append(name).append(target);
    }
    // Keeps what the hooks will be told of the answer framed in `p` when it goes out.
    void note_answer(Place& p, int status, AnswerCause cause, std::string_view detail,
                     uint64_t body_bytes) {
        p.status = static_cast<uint16_t>(status);
        p.cause = cause;
        p.body_bytes = body_bytes;
        detail = detail.substr(0, UINT16_MAX);
        p.detail_at = static_cast<uint32_t>(requests.size());
        p.detail_length = static_cast<uint16_t>(detail.size());
        requests.append(detail);
    }
    std::string_view detail(const Place& p) const noexcept {
        return text(p.detail_at, p.detail_length);
    }
    // What remember() kept for `p` ("" when nothing was).
    std::string_view method_name(const Place& p) const noexcept {
        return text(p.request_at, p.method_length);
    }
    std::string_view target(const Place& p) const noexcept {
        return text(p.request_at + p.method_length, p.target_length);
    }
    std::string_view text(size_t at, size_t length) const noexcept {
        return at + length <= requests.size() ? std::string_view(requests.data() + at, length)
                                              : std::string_view{};
    }
    // The front place is written: the next one becomes the front.
    void pop() noexcept {
        ++head;
        ++first_seq;
    }
    // Drops the places after `index` (their requests will not be answered: the connection
    // closes); their abort callbacks are moved to `aborts`.
    void truncate_after(size_t index, std::vector<Task>& aborts) {
        for (size_t i = head + index + 1; i < places.size(); ++i) {
            if (places[i].on_abort) aborts.push_back(std::move(places[i].on_abort));
        }
        places.resize(head + index + 1);
    }
    // The place of `seq`, or null when it is not waiting (answered and written, or never issued).
    Place* find(uint32_t seq) noexcept {
        const uint32_t index = seq - first_seq;  // wraps for seqs before the front: too big
        return index < waiting() ? &places[head + index] : nullptr;
    }
    size_t index_of(const Place& p) const noexcept {
        return static_cast<size_t>(&p - places.data()) - head;
    }
    // Empty, keeping the vector's capacity for the next connection that uses it.
    void reset() noexcept {
        places.clear();
        head = 0;
        incoming = IncomingBody{};
        upgrade = PendingUpgrade{};
        requests.clear();
    }
};

}  // namespace nexure::net::http1
