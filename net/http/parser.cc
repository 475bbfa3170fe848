#include "net/http/parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace nexure::net::http {

namespace {
constexpr int kPaused = HPE_PAUSED;

// Appends a piece to a field. Pieces split by a read boundary are contiguous (one buffer, or the
// stitch buffer); llhttp also reports an obs-fold continuation line as a second piece, which is
// not — such a request is rejected (RFC 9112 5.2 allows a 400), so a value never holds CR/LF.
bool extend(std::string_view* view, const char* at, size_t len) noexcept {
    if (view->data() + view->size() != at) return false;
    *view = std::string_view(view->data(), view->size() + len);
    return true;
}

// RFC 9110 5.6.2 token characters, the only ones allowed in a field name, as a lookup table.
constexpr std::array<bool, 256> kTokenChars = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c)
        t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c)
        t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c)
        t[c] = true;
    for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~"))
        t[c] = true;
    return t;
}();

std::string_view trim_trailing_ows(std::string_view v) noexcept {
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}
}  // namespace

// The llhttp callbacks. Each reads the worker's ParseContext through parser->data.
struct ParserCallbacks {
    static ParseContext& ctx(llhttp_t* p) noexcept { return *static_cast<ParseContext*>(p->data); }

    static int fail(ParseContext& c, int status) noexcept {
        c.state_.error_status = status;
        return -1;
    }

    // Request line and header section together may not exceed max_head_size.
    static bool head_too_large(const ParseContext& c, const char* at, size_t len) noexcept {
        return static_cast<size_t>(at + len - c.msg_start_) > c.limits_.max_head_size;
    }

    static int on_message_begin(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        c.clear_message();
        c.state_.in_message = true;
        return 0;
    }

    static int on_url(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        if (c.target_.empty())
            c.target_ = std::string_view(at, len);
        else if (!extend(&c.target_, at, len))
            return fail(c, 400);
        if (c.target_.size() > c.limits_.max_target_size) return fail(c, 414);
        if (head_too_large(c, at, len)) return fail(c, 431);
        return 0;
    }

    static int on_header_field(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        ParseContext::State& s = c.state_;
        if (s.last == ParseContext::Last::kField) {
            Header& h = c.headers_[s.header_count - 1];
            if (!extend(&h.name, at, len)) return fail(c, 400);
        } else {
            if (s.header_count == c.limits_.max_header_count) return fail(c, 431);
            c.headers_[s.header_count++] = Header{std::string_view(at, len), {}};
            s.last = ParseContext::Last::kField;
        }
        if (head_too_large(c, at, len)) return fail(c, 431);
        return 0;
    }

    static int on_header_field_complete(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        c.state_.last = ParseContext::Last::kFieldDone;
        // llhttp's lenient default lets e.g. a space through inside a name; names are tokens.
        for (unsigned char ch : c.headers_[c.state_.header_count - 1].name) {
            if (!kTokenChars[ch]) return fail(c, 400);
        }
        return 0;
    }

    static int on_header_value(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        ParseContext::State& s = c.state_;
        Header& h = c.headers_[s.header_count - 1];
        if (s.last == ParseContext::Last::kValue) {
            if (!extend(&h.value, at, len)) return fail(c, 400);
        } else {
            h.value = std::string_view(at, len);
            s.last = ParseContext::Last::kValue;
        }
        if (head_too_large(c, at, len)) return fail(c, 431);
        return 0;
    }

    static int on_header_value_complete(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        if (c.state_.header_count > 0) {
            Header& h = c.headers_[c.state_.header_count - 1];
            h.value = trim_trailing_ows(h.value);
        }
        c.state_.last = ParseContext::Last::kValueDone;
        return 0;
    }

    static int on_headers_complete(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        c.state_.head_done = true;
        if (p->http_major != 1) return fail(c, 505);
        const bool has_body = (p->flags & F_CHUNKED) != 0 ||
                              ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0);
        if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > c.limits_.max_body_size) {
            return fail(c, 413);
        }
        for (uint32_t i = 0; i < c.state_.header_count; ++i) {
            const Header& h = c.headers_[i];
            if (h.name.size() != 6 || !iequals(h.name, "expect")) continue;
            if (!iequals(h.value, "100-continue")) return fail(c, 417);
            c.state_.expect_continue = has_body && p->http_minor >= 1;
        }
        return 0;
    }

    static int on_body(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        if (c.body_.size() + len > c.limits_.max_body_size) return fail(c, 413);
        if (c.body_.empty() && !c.state_.body_in_buffer) {
            c.body_ = std::string_view(at, len);
        } else if (!c.state_.body_in_buffer && c.body_.data() + c.body_.size() == at) {
            c.body_ = std::string_view(c.body_.data(), c.body_.size() + len);
        } else {
            ParseContext::Block& b = c.body_block_;
            if (!c.state_.body_in_buffer) {
                b.reserve(c.body_.size() + len);
                b.append(c.body_.data(), c.body_.size());
                c.state_.body_in_buffer = true;
            }
            b.append(at, len);
            c.body_ = b.view();
        }
        return 0;
    }

    // Pausing at the end of every message gives control back to feed(), which knows where the
    // next message starts (llhttp_get_error_pos) and hands the request to the sink.
    static int on_message_complete(llhttp_t*) noexcept { return kPaused; }

    static const llhttp_settings_t* settings() noexcept {
        static const llhttp_settings_t s = [] {
            llhttp_settings_t v;
            llhttp_settings_init(&v);
            v.on_message_begin = on_message_begin;
            v.on_url = on_url;
            v.on_header_field = on_header_field;
            v.on_header_field_complete = on_header_field_complete;
            v.on_header_value = on_header_value;
            v.on_header_value_complete = on_header_value_complete;
            v.on_headers_complete = on_headers_complete;
            v.on_body = on_body;
            v.on_message_complete = on_message_complete;
            return v;
        }();
        return &s;
    }
};

// Blocks start on a cache line: copies into them (each read appended to a stitched request) run
// several times faster on this machine's CPUs than into a block at an arbitrary offset
// (nexure-bench-micro, BM_ParseBodySpanningReads/524288: 22 µs instead of 226 µs).
constexpr size_t kBlockAlign = 64;

void ParseContext::Block::reserve(size_t n) noexcept {
    if (n <= capacity) return;
    data = static_cast<char*>(region->extend(data, capacity, n, kBlockAlign));
    capacity = n;
}

// A message that spans reads: its bytes from the first one (and whatever followed them), and its
// fields as offsets into them. The bytes and header spans live in one of two regions; the other
// one is used to start afresh when a message completes inside the stitched bytes and the next one
// is incomplete again, so that a connection that never stops mid-request does not grow a region
// forever. A de-chunked body has a region of its own, so that both blocks grow in place.
struct PartialMessage {
    struct Span {  // trivial, so that arrays of them can live in a region
        uint32_t offset;
        uint32_t length;
    };
    struct HeaderSpan {
        Span name;
        Span value;
    };

    explicit PartialMessage(alloc::ChunkCache& cache) noexcept
        : stitch{alloc::Region(cache), alloc::Region(cache)}, body_region(cache) {}

    std::array<alloc::Region, 2> stitch;
    alloc::Region* live = &stitch[0];  // holds `bytes` and `headers`
    alloc::Region body_region;         // holds `body_block`
    ParseContext::Block bytes;
    size_t parsed = 0;  // how many of `bytes` llhttp has seen
    ParseContext::State state;
    Span target{};
    Span body{};                     // in `bytes`, while the body has not been de-chunked
    ParseContext::Block body_block;  // the de-chunked body so far
    HeaderSpan* headers = nullptr;   // max_header_count entries in *live
    uint32_t index = 0;              // in the context's pool

    alloc::Region& spare() noexcept { return live == &stitch[0] ? stitch[1] : stitch[0]; }
    void clear() noexcept {
        stitch[0].release();
        stitch[1].release();
        body_region.release();
        bytes = {};
        body_block = {};
        headers = nullptr;
    }
};

namespace {
// Handlers' scratch memory rarely needs more than a few decoded strings; one 16 KiB chunk is
// kept, a few more are cached for the odd request that needs them.
constexpr size_t kScratchChunkBytes = 16 * 1024;
constexpr size_t kScratchCachedChunks = 4;
// Stitch regions: a chunk holds a request of up to 64 KiB; larger ones get a mapping of their own
// (alloc/region.h). The worker keeps at most 16 chunks and 4 MiB of such mappings for reuse.
constexpr size_t kStitchChunkBytes = 256 * 1024;
constexpr size_t kStitchCachedChunks = 16;
constexpr size_t kCachedLargeBytes = 4 * 1024 * 1024;
// Stitch states per pool block.
constexpr uint32_t kPartialsPerBlock = 64;
// Room kept for the rest of a request head that spans reads (it grows as needed).
constexpr size_t kStitchHeadRoom = 2 * 1024;
}  // namespace

ParseContext::ParseContext(const Limits& limits, int node, uint32_t max_partials)
    : limits_(limits),
      scratch_chunks_(alloc::ChunkCache::Options{.chunk_bytes = kScratchChunkBytes,
                                                 .max_cached = kScratchCachedChunks,
                                                 .node = node,
                                                 .max_cached_oversize_bytes = kCachedLargeBytes}),
      scratch_(scratch_chunks_),
      stitch_chunks_(alloc::ChunkCache::Options{.chunk_bytes = kStitchChunkBytes,
                                                .max_cached = kStitchCachedChunks,
                                                .node = node,
                                                .max_cached_oversize_bytes = kCachedLargeBytes}) {
    request_.scratch_ = &scratch_;
    body_block_.region = &scratch_;
    partials_ = std::make_unique<alloc::Pool<PartialMessage>>(
        alloc::PoolOptions{
            .objects_per_block = kPartialsPerBlock, .max_objects = max_partials, .node = node},
        [this](void* where, uint32_t index) {
            (::new (where) PartialMessage(stitch_chunks_))->index = index;
        });
    headers_.resize(limits.max_header_count == 0 ? 1 : limits.max_header_count);
}

ParseContext::~ParseContext() = default;  // after every RequestParser that used it

PartialMessage* ParseContext::take_partial() noexcept {
    return partials_->acquire();
}

void ParseContext::give_back(PartialMessage* p) noexcept {
    p->clear();
    partials_->release(p->index);
}

void ParseContext::clear_message() noexcept {
    state_ = State{};
    target_ = {};
    body_ = {};
    body_block_ = Block{.region = &scratch_};
}

Request& ParseContext::finish_message(llhttp_t& parser) noexcept {
    Request& r = request_;
    r.method_ = method_from_llhttp(parser.method);
    r.method_name_ = llhttp_method_name(static_cast<llhttp_method_t>(parser.method));
    r.target_ = target_;
    const size_t q = target_.find('?');
    r.path_ = target_.substr(0, q);
    r.query_ = q == std::string_view::npos ? std::string_view{} : target_.substr(q + 1);
    r.version_major_ = parser.http_major;
    r.version_minor_ = parser.http_minor;
    r.keep_alive_ = llhttp_should_keep_alive(&parser) != 0;
    r.headers_ = headers_.data();
    r.header_count_ = state_.header_count;
    r.body_ = body_;
    r.param_count_ = 0;
    return r;
}

RequestParser::RequestParser() noexcept {
    llhttp_init(&parser_, HTTP_REQUEST, ParserCallbacks::settings());
}

RequestParser::~RequestParser() = default;

void RequestParser::reset(ParseContext& ctx) noexcept {
    llhttp_init(&parser_, HTTP_REQUEST, ParserCallbacks::settings());
    drop_partial(ctx);
}

void RequestParser::drop_partial(ParseContext& ctx) noexcept {
    if (partial_ != nullptr) ctx.give_back(std::exchange(partial_, nullptr));
}

size_t RequestParser::buffered_bytes() const noexcept {
    return partial_ ? partial_->bytes.size : 0;
}

bool RequestParser::receiving_body() const noexcept {
    return partial_ != nullptr && partial_->state.head_done;
}

size_t RequestParser::body_bytes_due(const ParseContext& ctx) const noexcept {
    const bool by_length =
        (parser_.flags & F_CONTENT_LENGTH) != 0 && (parser_.flags & F_CHUNKED) == 0;
    // llhttp counts content_length down as the body is consumed; on_headers_complete has already
    // refused anything over max_body_size.
    return ctx.state_.head_done && by_length ? static_cast<size_t>(parser_.content_length) : 0;
}

bool RequestParser::park(ParseContext& ctx, const char* end) noexcept {
    const char* start = ctx.msg_start_;
    const size_t due = body_bytes_due(ctx);
    const bool in_place = partial_ != nullptr && start == partial_->bytes.data;
    if (partial_ == nullptr) partial_ = ctx.take_partial();
    if (partial_ == nullptr) return false;
    PartialMessage& p = *partial_;
    const size_t n = static_cast<size_t>(end - start);

    if (in_place) {
        // The message began before this read and is still incomplete: its bytes, header spans and
        // de-chunked body are where they were; make room for the announced body once.
        p.bytes.reserve(p.bytes.size + due);
        if (ctx.state_.body_in_buffer) p.body_block = ctx.body_block_;
    } else {
        // A message begins in this read (in a receive buffer, or after a message that completed
        // inside the stitched bytes): copy it once into a clean region, with room for the rest.
        alloc::Region& to = p.spare();
        p.headers = to.make_array<PartialMessage::HeaderSpan>(ctx.headers_.size());
        p.bytes = ParseContext::Block{.region = &to};
        p.bytes.reserve(n + (ctx.state_.head_done ? due : std::max(n, kStitchHeadRoom)));
        p.bytes.append(start, n);
        p.body_region.reset();
        p.body_block = ParseContext::Block{.region = &p.body_region};
        if (ctx.state_.body_in_buffer) {
            p.body_block.reserve(ctx.body_block_.size + due);
            p.body_block.append(ctx.body_block_.data, ctx.body_block_.size);
        }
        p.live->release();  // whatever an earlier message left there (nothing points into it now)
        p.live = &to;
    }

    auto span = [start](std::string_view v) {
        return PartialMessage::Span{static_cast<uint32_t>(v.empty() ? 0 : v.data() - start),
                                    static_cast<uint32_t>(v.size())};
    };
    p.state = ctx.state_;
    p.target = span(ctx.target_);
    p.body = ctx.state_.body_in_buffer ? PartialMessage::Span{} : span(ctx.body_);
    for (uint32_t i = 0; i < ctx.state_.header_count; ++i) {
        p.headers[i] = {span(ctx.headers_[i].name), span(ctx.headers_[i].value)};
    }
    p.parsed = p.bytes.size;
    return true;
}

void RequestParser::resume(ParseContext& ctx) noexcept {
    PartialMessage& p = *partial_;
    const char* base = p.bytes.data;
    auto view = [base](PartialMessage::Span s) {
        return std::string_view(base + s.offset, s.length);
    };
    ctx.state_ = p.state;
    ctx.msg_start_ = base;
    ctx.target_ = p.target.length ? view(p.target) : std::string_view{};
    for (uint32_t i = 0; i < p.state.header_count; ++i) {
        ctx.headers_[i] = Header{view(p.headers[i].name), view(p.headers[i].value)};
    }
    ctx.body_block_ = p.body_block;  // a body de-chunked from here on grows in the body region
    if (p.state.body_in_buffer) {
        ctx.body_ = ctx.body_block_.view();
    } else {
        ctx.body_ = p.body.length ? view(p.body) : std::string_view{};
    }
}

RequestParser::FeedResult RequestParser::feed(ParseContext& ctx, const char* data, size_t len,
                                              RequestSink& sink) noexcept {
    parser_.data = &ctx;
    const char* pos;
    const char* end;
    if (partial_) {
        // Continue a stitched message: append, then parse only the new bytes.
        partial_->bytes.append(data, len);
        resume(ctx);
        pos = partial_->bytes.data + partial_->parsed;
        end = partial_->bytes.data + partial_->bytes.size;
    } else {
        ctx.clear_message();
        ctx.msg_start_ = data;
        pos = data;
        end = data + len;
    }

    FeedResult result;
    for (;;) {
        const llhttp_errno_t err = llhttp_execute(&parser_, pos, static_cast<size_t>(end - pos));
        if (err == HPE_OK) break;
        if (err == HPE_PAUSED) {
            const char* next = llhttp_get_error_pos(&parser_);
            llhttp_resume(&parser_);
            const bool go_on = sink.on_request(ctx.finish_message(parser_));
            ctx.scratch_.reset();  // the response is queued: the handler's scratch goes, in O(1)
            ctx.clear_message();
            ctx.msg_start_ = next;
            pos = next;
            if (!go_on) {
                drop_partial(ctx);
                result.outcome = Outcome::kStopped;
                return result;
            }
            continue;
        }
        if (err == HPE_PAUSED_UPGRADE) {
            // Upgrade is not supported: the request was answered like any other, and whatever
            // follows is parsed as HTTP again.
            const char* next = llhttp_get_error_pos(&parser_);
            llhttp_resume_after_upgrade(&parser_);
            ctx.msg_start_ = next;
            pos = next;
            continue;
        }
        drop_partial(ctx);
        ctx.scratch_.reset();  // a de-chunked body of the rejected request
        result.outcome = Outcome::kError;
        result.error_status = ctx.state_.error_status != 0 ? ctx.state_.error_status : 400;
        // Errors found once the head was parsed (413, 417, 505) know the method for sure.
        result.head_request = ctx.state_.head_done && parser_.method == HTTP_HEAD;
        return result;
    }

    if (!ctx.state_.in_message) {
        drop_partial(ctx);
        return result;
    }
    if (ctx.state_.expect_continue && ctx.state_.head_done && !ctx.state_.continue_reported) {
        ctx.state_.continue_reported = true;
        result.send_continue = true;
    }
    const bool parked = park(ctx, end);
    ctx.scratch_.reset();  // a de-chunked body begun in this read now has its copy in the stitch
    if (!parked) {
        // No stitch state could be had (the pool is at its cap or out of memory): this request
        // cannot be continued. Tell the client, and close.
        llhttp_init(&parser_, HTTP_REQUEST, ParserCallbacks::settings());
        result.outcome = Outcome::kError;
        result.error_status = 503;
        result.send_continue = false;
    }
    return result;
}

}  // namespace nexure::net::http
