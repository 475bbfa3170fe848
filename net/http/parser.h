// RequestParser: llhttp over a connection's byte stream, yielding Requests whose fields are views
// into the received bytes.
//
// Zero copy in the common case: when a request lies wholly inside one receive buffer, its target,
// headers and body are views into that buffer. Only a request that spans reads is stitched: its
// bytes so far are kept in the connection's own buffer (once), the following bytes are appended,
// and parsing continues from there. Chunked bodies with more than one chunk are copied into one
// contiguous buffer.
//
// Split into two parts: a ParseContext per worker (the message being assembled; scratch reused
// for every connection of that worker) and a RequestParser per connection (llhttp's state and the
// stitched bytes). Both belong to one worker thread.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "alloc/byte_buffer.h"
#include "alloc/pool.h"
#include "alloc/region.h"
#include "net/http/limits.h"
#include "net/http/request.h"

namespace nexure::net::http {

// The bytes and fields of a request that spans reads (defined in parser.cc).
struct PartialMessage;

// Receives each complete request, in order. Returns false to stop parsing (the connection is
// closing); the bytes after that request are then ignored.
class RequestSink {
  public:
    virtual bool on_request(Request& request) noexcept = 0;

  protected:
    ~RequestSink() = default;
};

class ParseContext {
  public:
    // `node`: the NUMA node for the scratch region and the stitch-state pool (-1: the kernel's
    // default policy). `max_partials`: the most requests that may span reads at once (one per
    // connection at most, so the worker's connection cap).
    explicit ParseContext(const Limits& limits, int node = -1, uint32_t max_partials = 65536);
    ~ParseContext();
    ParseContext(const ParseContext&) = delete;
    ParseContext& operator=(const ParseContext&) = delete;

    const Limits& limits() const noexcept { return limits_; }
    // Unmaps scratch chunks cached beyond the cap; call once per loop turn, off the hot path.
    void trim() noexcept { scratch_chunks_.trim(); }

  private:
    friend class RequestParser;
    friend struct ParserCallbacks;
    friend struct PartialMessage;

    enum class Last : uint8_t { kNone, kField, kFieldDone, kValue, kValueDone };

    // Everything about the message in progress that is not a pointer (copied whole when a
    // message is parked between reads).
    struct State {
        bool in_message = false;
        bool head_done = false;
        bool body_in_buffer = false;
        bool expect_continue = false;
        bool continue_reported = false;
        Last last = Last::kNone;
        uint32_t header_count = 0;
        int error_status = 0;
    };

    void clear_message() noexcept;
    Request& finish_message(llhttp_t& parser) noexcept;

    Limits limits_;
    const char* msg_start_ = nullptr;  // first byte of the message in progress
    State state_;
    std::string_view target_;
    std::string_view body_;
    std::vector<Header> headers_;    // max_header_count entries, reused
    alloc::ByteBuffer body_buffer_;  // de-chunked body when it came in several pieces
    // Request::scratch(): reset as soon as the sink has handled each request.
    alloc::ChunkCache scratch_chunks_;
    alloc::Region scratch_;
    Request request_;
    // Stitch states of requests that span reads, in a pool so that they stop allocating once the
    // worker has warmed up. Free ones keep their buffers up to a byte budget (see parser.cc).
    std::unique_ptr<alloc::Pool<PartialMessage>> partials_;
    size_t retained_bytes_ = 0;  // buffer capacity held by free stitch states
    PartialMessage* take_partial() noexcept;
    void give_back(PartialMessage* partial) noexcept;
};

class RequestParser {
  public:
    enum class Outcome : uint8_t {
        kNeedMore,  // all bytes consumed; maybe a request is partly received
        kStopped,   // the sink asked to stop
        kError,     // malformed or over a limit: answer `error_status` and close
    };
    struct FeedResult {
        Outcome outcome = Outcome::kNeedMore;
        int error_status = 0;
        // The request in progress asked for "Expect: 100-continue" and its body has not
        // arrived yet: the caller should send "100 Continue" now (reported once per request).
        bool send_continue = false;
        // kError for a request known to be HEAD: the error response must carry no body.
        bool head_request = false;
    };

    RequestParser() noexcept;
    ~RequestParser();
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    // Parses `data` (borrowed for this call only) and calls `sink` for each complete request.
    FeedResult feed(ParseContext& ctx, const char* data, size_t len, RequestSink& sink) noexcept;

    // True while a request has been partly received.
    bool mid_request() const noexcept { return partial_ != nullptr; }
    // Bytes held for a partly received request.
    size_t buffered_bytes() const noexcept;

    // Forget all state (for connection reuse); a partly received request's stitch state goes
    // back to `ctx`.
    void reset(ParseContext& ctx) noexcept;

  private:
    // Keeps the request in progress for the next read; false if no stitch state was available.
    bool park(ParseContext& ctx, const char* end) noexcept;
    void resume(ParseContext& ctx) noexcept;
    void drop_partial(ParseContext& ctx) noexcept;

    llhttp_t parser_{};
    PartialMessage* partial_ = nullptr;  // from ctx's pool while a request spans reads
};

}  // namespace nexure::net::http
