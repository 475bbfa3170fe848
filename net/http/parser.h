// RequestParser: llhttp over a connection's byte stream, yielding Requests whose fields are views
// into the received bytes.
//
// Zero copy in the common case: when a request lies wholly inside one receive buffer, its target,
// headers and body are views into that buffer. Only a request that spans reads is stitched: its
// bytes so far are copied into a region that the connection holds while the request is
// incomplete, with room for the rest (the whole body when Content-Length says how long it is), so
// that the following reads are appended in place and each byte is copied once. Chunked bodies
// with more than one chunk are copied into one contiguous block of the request's region.
//
// Strict on purpose (RFC 9110/9112, and wherever the RFC leaves a choice, the reading that no
// other parser on the path can take differently): llhttp does the grammar, and the callbacks add
// what its non-strict build lets through or does not check — CRLF line ends, single spaces in the
// request line, Host, Transfer-Encoding, chunk extensions, the empty line that ends a head or a
// trailer section. Every rejection is an error status and a close. The cases, and the decisions
// where the RFC allows a choice, are in tests/conformance/ (README.md there).
//
// Split into two parts: a ParseContext per worker (the message being assembled; scratch reused
// for every connection of that worker) and a RequestParser per connection (llhttp's state and the
// stitch state, taken from the worker's pool only while a request spans reads). Both belong to
// one worker thread.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "alloc/pool.h"
#include "alloc/region.h"
#include "net/http/limits.h"
#include "net/http/request.h"

namespace nexure::net::http {

// The bytes and fields of a request that spans reads (defined in parser.cc).
struct PartialMessage;

// What becomes of a request's body, decided when its head is complete (RequestSink::on_head).
struct BodyDecision {
    enum class Action : uint8_t {
        kBuffer,  // the default: the body is collected and the request goes to on_request()
        kStream,  // each piece goes to on_body_data() as it arrives, then on_body_end()
        kStop,    // the request was answered without its body: stop parsing (close)
    };
    Action action = Action::kBuffer;
    uint64_t limit = 0;  // kStream: the most body bytes (413 beyond), 0 for no limit
};

// Receives each complete request, in order. Returns false to stop parsing (the connection is
// closing); the bytes after that request are then ignored.
class RequestSink {
  public:
    virtual bool on_request(Request& request) noexcept = 0;

    // The head of a request with a body is complete (its target and headers are views; its
    // body is not there yet). Asked when the context's head hook is on, and for a request that
    // expects 100-continue; the default buffers the body as usual.
    virtual BodyDecision on_head(Request& head) noexcept {
        (void)head;
        return {};
    }
    // A streamed body (BodyDecision::kStream): its bytes as they arrive, borrowed for the call.
    virtual void on_body_data(std::string_view bytes) noexcept { (void)bytes; }
    // The streamed body is complete (trailer fields checked, never merged). False stops parsing.
    virtual bool on_body_end() noexcept { return true; }
    // A body being collected went over the limit (413) after its head was routed (the head hook
    // is on): the sink may answer the request itself (the head again, its body empty). True:
    // answered; the parsing stops (no 413 is reported). The default lets the parser refuse it.
    virtual bool on_body_refused(Request& head, int status) noexcept {
        (void)head;
        (void)status;
        return false;
    }
    // The sink stopped the parsing: the bytes after the last request, which will not be parsed
    // (a protocol upgrade's first bytes), borrowed for the call.
    virtual void on_unparsed(std::string_view rest) noexcept { (void)rest; }

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
    // Unmaps region chunks cached beyond the caps; call once per loop turn, off the hot path.
    void trim() noexcept {
        scratch_chunks_.trim();
        stitch_chunks_.trim();
    }
    // Standard chunks mapped for stitching (held by requests spanning reads, or cached).
    size_t stitch_chunks_mapped() const noexcept { return stitch_chunks_.mapped(); }
    // On: the sink's on_head() is asked about every request with a body (a server with routes
    // that stream their bodies), and the body limit is the sink's to apply. Off (the default):
    // only requests that expect 100-continue are asked.
    void set_head_hook(bool on) noexcept { head_hook_ = on; }
    // Why the last request that feed() refused (Outcome::kError) was refused ("Host missing,
    // repeated or invalid", or llhttp's own words), for logs and the after-response hooks
    // (net/hooks.h): static text, "" when nothing more than the status is known. Kept until the
    // next refusal; read on the error path only, so the request path never touches it.
    std::string_view error_reason() const noexcept { return error_reason_; }

  private:
    friend class RequestParser;
    friend struct ParserCallbacks;
    friend struct PartialMessage;

    // kValueFixed: feed() set the value of the field in progress itself (a Content-Length that
    // llhttp was given in canonical form): the pieces llhttp reports are not the field's bytes.
    enum class Last : uint8_t { kNone, kField, kFieldDone, kValue, kValueDone, kValueFixed };
    // A line that feed() reads itself before llhttp sees it, because llhttp 8.1 reads it
    // differently from RFC 9112: a chunk-size line (chunk extensions with BWS, quoted-pairs, or
    // a second extension after a token value), or the value of a Content-Length field with a tab
    // in its OWS (llhttp 8.1 refuses one after the digits).
    // A method that llhttp does not know is read here too (a token is a method, RFC 9110 9.1).
    enum class Line : uint8_t { kNone, kChunkSize, kContentLength, kMethod };
    enum class Pause : uint8_t {
        kNone,
        kHead,  // on_headers_complete: feed() checks how the head ended
        kLine,  // a line follows that feed() reads itself (State::line)
    };

    // A growable byte block in a region: grows in place while it is the region's most recent
    // allocation, otherwise moves (the old block is reclaimed when the region is reset). It keeps
    // Request::kBodyReadAhead bytes of room after its bytes, so that a body in it can be read in
    // place by a reader that loads past its end (Request::body_padding()).
    struct Block {
        alloc::Region* region = nullptr;
        char* data = nullptr;
        size_t size = 0;
        size_t capacity = 0;

        void reserve(size_t n) noexcept;
        void append(const char* p, size_t n) noexcept;
        std::string_view view() const noexcept { return {data, size}; }
    };

    // Everything about the message in progress that is not a pointer (copied whole when a
    // message is parked between reads).
    struct State {
        bool in_message = false;
        bool head_done = false;
        bool body_in_buffer = false;
        bool expect_continue = false;
        bool continue_reported = false;
        // The body goes to the sink piece by piece (BodyDecision::kStream), not into the body.
        bool streaming = false;
        uint64_t stream_limit = 0;  // 0: none
        uint64_t streamed = 0;      // body bytes delivered so far
        // The request-line has begun: msg_start_ is its first byte.
        bool method_seen = false;
        // Why a callback paused llhttp (other than at the end of a message).
        Pause pause = Pause::kNone;
        // A chunk-size line has been parsed and its chunk's data not yet begun.
        bool chunk_start = false;
        // The trailer field name in progress has bytes.
        bool item_bytes = false;
        Last last = Last::kNone;
        // The line feed() reads next, from the byte llhttp is waiting at, and how far it got
        // (the line may span reads: it is scanned once, not again from its start).
        Line line = Line::kNone;
        uint8_t line_state = 0;
        uint8_t chunk_digits = 0;  // significant hex digits of the chunk size so far
        // The length of a method llhttp does not know (at msg_start_), 0 for the others.
        uint8_t method_length = 0;
        uint32_t line_scanned = 0;
        uint32_t header_count = 0;
        uint32_t trailer_count = 0;  // trailer fields are checked and counted, not kept
        uint32_t trailer_bytes = 0;
        // Chunk-size line bytes beyond the size's significant digits (extensions, leading zeros),
        // all chunks together.
        uint32_t extension_bytes = 0;
        int error_status = 0;
    };

    void clear_message() noexcept;
    Request& finish_message(llhttp_t& parser) noexcept;
    // The request so far (head only: no body), for RequestSink::on_head().
    Request& head_message(llhttp_t& parser) noexcept;

    Limits limits_;
    const char* msg_start_ = nullptr;  // first byte of the message in progress
    const char* feed_end_ = nullptr;   // the end of the bytes llhttp is parsing
    const char* feed_begin_ = nullptr;  // the start of the contiguous bytes being parsed
    // The end of the readable memory those bytes lie in (feed_end_ or beyond): where a body's
    // Request::body_padding() ends.
    const char* feed_limit_ = nullptr;
    RequestSink* sink_ = nullptr;       // during feed(): where a streamed body goes
    bool head_hook_ = false;
    // A check's reason for the error it is returning, until RequestParser::reject() takes it.
    const char* failing_ = nullptr;
    std::string_view error_reason_;
    State state_;
    std::string_view target_;
    std::string_view body_;
    std::vector<Header> headers_;  // max_header_count entries, reused
    // The request's region: Request::scratch() and de-chunked bodies; reset as soon as the sink
    // has handled each request.
    alloc::ChunkCache scratch_chunks_;
    alloc::Region scratch_;
    Block body_block_;  // de-chunked body when it came in several pieces
    Request request_;
    // Stitch states of requests that span reads, in a pool; their regions draw on stitch_chunks_
    // and give everything back when the request is complete.
    alloc::ChunkCache stitch_chunks_;
    std::unique_ptr<alloc::Pool<PartialMessage>> partials_;
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
    // `readable_after`: how many bytes after data + len are readable memory of the same buffer
    // for as long as the call (a receive buffer's unused rest), which a request's
    // body_padding() may count.
    FeedResult feed(ParseContext& ctx, const char* data, size_t len, RequestSink& sink,
                    size_t readable_after = 0) noexcept;

    // True while a request has been partly received.
    bool mid_request() const noexcept { return partial_ != nullptr; }
    // Bytes held for a partly received request.
    size_t buffered_bytes() const noexcept;
    // True while a partly received request has its whole head and awaits (more of) its body.
    bool receiving_body() const noexcept;
    // The most bytes a request spanning reads may hold (head, body and chunk framing together):
    // max_head_size + 2 * max_body_size + 64 KiB. Beyond it the request gets 413.
    static size_t max_stitched_bytes(const Limits& limits) noexcept;

    // Forget all state (for connection reuse); a partly received request's stitch state goes
    // back to `ctx`.
    void reset(ParseContext& ctx) noexcept;

  private:
    // llhttp_init with the lenient flags this parser relies on.
    void init_llhttp() noexcept;
    // Gives up on the request in progress: the kError result for `status`, and `reason` (or the
    // one a check gave) as the context's error_reason().
    FeedResult reject(ParseContext& ctx, int status, const char* reason = nullptr) noexcept;
    // All bytes up to `end` are used: keeps the request in progress, if any, for the next read.
    FeedResult hold(ParseContext& ctx, const char* end, const char* resume_at) noexcept;
    // Asks the sink what becomes of the body of the request whose head just completed: 0 to go
    // on, a status to answer (413), or -1 when the sink stopped the parsing.
    int decide_body(ParseContext& ctx, RequestSink& sink) noexcept;
    // Keeps the request in progress for the next read, which parsing resumes at `resume_at`
    // (where llhttp stopped, or the start of a line feed() reads itself); false if no stitch
    // state was available.
    bool park(ParseContext& ctx, const char* end, const char* resume_at) noexcept;
    // Reads the line ctx's state names (State::line), which starts at `line`, as far as `end`
    // goes, and hands llhttp what it needs of it. Returns the first byte after the line, nullptr
    // when the line is not complete yet, or nullptr with `*status` set when it is malformed.
    const char* read_line(ParseContext& ctx, const char* line, const char* end,
                          int* status) noexcept;
    const char* chunk_size_line(ParseContext& ctx, const char* line, const char* end,
                                int* status) noexcept;
    const char* content_length_line(ParseContext& ctx, const char* line, const char* end,
                                    int* status) noexcept;
    const char* method_line(ParseContext& ctx, const char* line, const char* end,
                            int* status) noexcept;
    // The request's body bytes still to come, when Content-Length says (0 otherwise).
    size_t body_bytes_due(const ParseContext& ctx) const noexcept;
    void resume(ParseContext& ctx) noexcept;
    void drop_partial(ParseContext& ctx) noexcept;

    llhttp_t parser_{};
    PartialMessage* partial_ = nullptr;  // from ctx's pool while a request spans reads
};

}  // namespace nexure::net::http
