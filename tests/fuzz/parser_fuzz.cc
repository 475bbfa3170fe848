// Fuzz target: the HTTP/1.1 request parser (net/http/parser.h) fed arbitrary byte streams.
//
// One input is one byte stream that up to three connections of one worker receive, each cut into
// reads at different places, their reads interleaved over one ParseContext (as a worker's
// connections share it). Each read is a heap copy freed as soon as feed() returns, so a view the
// parser kept into a buffer it was only lent is a heap-use-after-free; the sink reads every byte
// of every field of each request, so a stale view into a stitch region or the request region is
// reported by AddressSanitizer (regions poison what they take back). A connection may also be
// reset mid-stream and start over, as when a worker reuses the connection.
//
// Besides not crashing or leaking, every outcome is checked (NEXURE_CHECK aborts with the
// condition): error statuses are ones the parser may answer with, a connection that errs or stops
// holds nothing, a delivered request respects the limits and its fields are consistent. And the
// cuts must not matter: every connection, and a reference connection fed the stream in one read,
// must deliver the same requests and end the same way.
//
// Input layout (8 header bytes, then the stream):
//   [0] flags: bits 0-1 connections (0: 1, 1: 2, 2: 3, 3: 1); bit 2 small limits from [1..4];
//       bit 3 the sink stops after request ([7] & 7) + 1; bit 4 connections may be reset and
//       start over
//   [1] max_target_size - 1   [2] (max_head_size - 8) / 4   [3] max_header_count (mod 16)
//   [4] max_body_size / 4     [5..7] seed for the read sizes and the interleaving
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "alloc/result.h"
#include "net/http/limits.h"
#include "net/http/method.h"
#include "net/http/parser.h"
#include "net/http/request.h"

namespace nexure::net::http {
namespace {

using Outcome = RequestParser::Outcome;

constexpr size_t kHeaderBytes = 8;
constexpr uint32_t kMaxRestarts = 2;

// xorshift64*: cheap and deterministic; all the randomness comes from the input.
class Rng {
  public:
    explicit Rng(uint64_t seed) noexcept : state_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
    uint64_t next() noexcept {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545F4914F6CDD1DULL;
    }
    // Uniform enough in [lo, hi].
    size_t between(size_t lo, size_t hi) noexcept { return lo + next() % (hi - lo + 1); }

  private:
    uint64_t state_;
};

// FNV-1a over the bytes, then the length (so that "ab"+"c" and "a"+"bc" differ).
uint64_t mix(uint64_t h, std::string_view s) noexcept {
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001B3ULL;
    }
    h ^= s.size();
    h *= 0x100000001B3ULL;
    return h;
}

uint64_t mix(uint64_t h, uint64_t v) noexcept {
    h ^= v;
    h *= 0x100000001B3ULL;
    return h;
}

bool token_char(unsigned char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool contains(std::string_view outer, std::string_view inner) noexcept {
    return inner.empty() || (inner.data() >= outer.data() &&
                             inner.data() + inner.size() <= outer.data() + outer.size());
}

// Content-Length as digits only (what the parser must have used for the body), or nullopt.
std::optional<uint64_t> plain_length(std::string_view v) noexcept {
    if (v.empty() || v.size() > 15) return std::nullopt;
    uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    return n;
}

// Reads every field of each request, checks it, and keeps a digest of it per request.
class CheckingSink final : public RequestSink {
  public:
    CheckingSink(const Limits& limits, size_t stop_after) noexcept
        : limits_(limits), stop_after_(stop_after) {}

    std::vector<uint64_t> digests;  // one per delivered request, since the last restart

    bool on_request(Request& r) noexcept override {
        uint64_t h = 0xCBF29CE484222325ULL;
        touched_ = 0;

        // Request line.
        const std::string_view name = r.method_name();
        NEXURE_CHECK(!name.empty());
        if (r.method() != Method::kOther) NEXURE_CHECK(name == method_name(r.method()));
        NEXURE_CHECK(r.version_major() == 1);  // others are answered 505
        const std::string_view target = r.target();
        NEXURE_CHECK(!target.empty());
        NEXURE_CHECK(target.size() <= limits_.max_target_size);
        // Path and query are views of the target: in origin form "/path?query"; an absolute-form
        // target ("http://host/path?query") is routed by its path ("/" when it has none).
        const std::string_view path = r.path();
        const std::string_view query = r.query();
        NEXURE_CHECK(!path.empty() && path.find('?') == std::string_view::npos);
        NEXURE_CHECK(contains(target, path) || path == "/");
        NEXURE_CHECK(contains(target, query));
        if (!query.empty()) {
            NEXURE_CHECK(query.data() + query.size() == target.data() + target.size());
            NEXURE_CHECK(query.data() > target.data() && query.data()[-1] == '?');
        }
        if (target.front() == '/') {
            const size_t q = target.find('?');
            NEXURE_CHECK(path == target.substr(0, q));
            NEXURE_CHECK(path.data() == target.data());
            NEXURE_CHECK(q == std::string_view::npos ? query.empty()
                                                     : query == target.substr(q + 1));
        }
        h = mix(h, name);
        h = mix(h, target);
        h = mix(h, r.version_minor());
        h = mix(h, r.keep_alive() ? 1 : 0);
        touch(path);
        touch(query);

        // Query lookups: each key's value is a view into the query.
        std::string_view rest = r.query();
        for (int i = 0; i < 8 && !rest.empty(); ++i) {
            const size_t amp = rest.find('&');
            const std::string_view pair = rest.substr(0, amp);
            rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
            const std::optional<std::string_view> v = r.query_param(pair.substr(0, pair.find('=')));
            NEXURE_CHECK(v.has_value());
            NEXURE_CHECK(contains(r.query(), *v));
            touch(*v);
        }

        // Header fields: tokens for names, no CR/LF and no surrounding whitespace in values.
        const auto headers = r.headers();
        NEXURE_CHECK(headers.size() <= limits_.max_header_count);
        size_t head_bytes = target.size();
        const Header* content_length = nullptr;
        bool several_lengths = false;
        bool transfer_encoding = false;
        for (const Header& f : headers) {
            NEXURE_CHECK(!f.name.empty());
            for (unsigned char c : f.name)
                NEXURE_CHECK(token_char(c));
            for (char c : f.value)
                NEXURE_CHECK(c != '\r' && c != '\n');
            if (!f.value.empty()) {
                NEXURE_CHECK(f.value.front() != ' ' && f.value.front() != '\t');
                NEXURE_CHECK(f.value.back() != ' ' && f.value.back() != '\t');
            }
            // (A Host that an absolute-form target replaced is a view into the target.)
            head_bytes += f.name.size() + (contains(target, f.value) ? 0 : f.value.size());
            h = mix(h, f.name);
            h = mix(h, f.value);
            // header() finds the first field of that name.
            const std::optional<std::string_view> first = r.header(f.name);
            NEXURE_CHECK(first.has_value());
            for (const Header& g : headers) {
                if (iequals(g.name, f.name)) {
                    NEXURE_CHECK(first->data() == g.value.data() &&
                                 first->size() == g.value.size());
                    break;
                }
            }
            if (iequals(f.name, "content-length")) {
                several_lengths = content_length != nullptr;
                content_length = &f;
            }
            if (iequals(f.name, "transfer-encoding")) transfer_encoding = true;
        }
        NEXURE_CHECK(head_bytes <= limits_.max_head_size);
        touch(r.header("host").value_or(""));
        touch(r.header("Content-Type").value_or(""));
        NEXURE_CHECK(!r.header("").has_value());

        // Body: within the limit, and as long as a plain Content-Length says (CONNECT and
        // Upgrade requests aside: the bytes after their head are not theirs).
        const std::string_view body = r.body();
        NEXURE_CHECK(body.size() <= limits_.max_body_size);
        h = mix(h, body);
        if (content_length != nullptr && !several_lengths && !transfer_encoding &&
            r.method() != Method::kConnect && !r.header("upgrade").has_value()) {
            if (const std::optional<uint64_t> n = plain_length(content_length->value)) {
                NEXURE_CHECK(body.size() == *n);
            }
        }

        // The bytes after the body that body_padding() promises are readable (every read is a
        // heap copy of its exact size, so ASan reports a promise that goes past it).
        touch(std::string_view(body.data() + body.size(), r.body_padding()));

        // No route ran: no parameters.
        NEXURE_CHECK(r.params().empty());
        NEXURE_CHECK(r.param("id").empty());
        NEXURE_CHECK(!r.param_decoded("id").has_value());

        // Scratch memory: a small block, sometimes one large enough for its own mapping, and a
        // copy of the target; all written and read back.
        alloc::Region& scratch = r.scratch();
        const size_t n = 1 + (h % 2048);
        auto* block = static_cast<unsigned char*>(scratch.allocate(n, size_t{1} << (h % 7)));
        std::memset(block, 0xA5, n);
        touched_ += block[n - 1];
        if ((h >> 11) % 8 == 0) {
            const size_t big = size_t{8} * 1024 + (h >> 20) % 4096;
            auto* large = static_cast<unsigned char*>(scratch.allocate(big, 64));
            std::memset(large, 0x5A, big);
            touched_ += large[0] + large[big - 1];
        }
        const std::string_view copy = scratch.copy(target);
        NEXURE_CHECK(copy == target);

        digests.push_back(h);
        reads_ += touched_;  // a member the parser could see: the reads above must happen
        return digests.size() != stop_after_;
    }

  private:
    void touch(std::string_view s) noexcept {
        for (unsigned char c : s)
            touched_ += c;
    }

    Limits limits_;
    size_t stop_after_;
    uint64_t touched_ = 0;
    uint64_t reads_ = 0;
};

// How a connection's stream ended.
struct Ending {
    Outcome outcome = Outcome::kNeedMore;
    int status = 0;
    bool mid_request = false;  // at the end of the stream (kNeedMore only)
    size_t buffered = 0;       // likewise
};

bool valid_error_status(int status) noexcept {
    switch (status) {
        case 400:  // malformed
        case 413:  // body over max_body_size
        case 414:  // target over max_target_size
        case 417:  // an Expect other than 100-continue
        case 431:  // head over max_head_size or max_header_count
        case 501:  // an unknown transfer coding
        case 503:  // no stitch state left for a request that spans reads
        case 505:  // HTTP major version other than 1
            return true;
        default:
            return false;
    }
}

// Limit checks may fire on a part of a field that a read cut off, before a byte later in the same
// field is found malformed; fed in one read, the malformed byte comes first. So these statuses
// may stand for one another across cuts; the others may not.
bool cut_dependent(int status) noexcept {
    return status == 400 || status == 413 || status == 414 || status == 431;
}

void check_reset(RequestParser& parser, ParseContext& ctx) noexcept {
    parser.reset(ctx);
    NEXURE_CHECK(!parser.mid_request());
    NEXURE_CHECK(parser.buffered_bytes() == 0);
}

// Checks one feed() result; returns true when the connection is finished (error or stop).
bool check_result(const RequestParser::FeedResult& r, const RequestParser& parser) noexcept {
    switch (r.outcome) {
        case Outcome::kError:
            NEXURE_CHECK(valid_error_status(r.error_status));
            NEXURE_CHECK(!r.send_continue);
            NEXURE_CHECK(!parser.mid_request());
            NEXURE_CHECK(parser.buffered_bytes() == 0);
            return true;
        case Outcome::kStopped:
            NEXURE_CHECK(r.error_status == 0 && !r.send_continue && !r.head_request);
            NEXURE_CHECK(!parser.mid_request());
            return true;
        case Outcome::kNeedMore:
            NEXURE_CHECK(r.error_status == 0 && !r.head_request);
            // "100 Continue" is for a request whose body is still to come.
            if (r.send_continue) NEXURE_CHECK(parser.mid_request());
            NEXURE_CHECK(parser.mid_request() == (parser.buffered_bytes() > 0));
            return false;
    }
    NEXURE_CHECK(false && "unknown outcome");
    return true;
}

// Feeds `len` bytes from a heap copy that is freed as soon as feed() returns.
RequestParser::FeedResult feed_copy(RequestParser& parser, ParseContext& ctx, const char* data,
                                    size_t len, RequestSink& sink) noexcept {
    const std::vector<char> copy(data, data + len);
    return parser.feed(ctx, copy.data(), len, sink);
}

struct Connection {
    Connection(const Limits& limits, size_t stop_after, uint64_t seed) noexcept
        : sink(limits, stop_after), rng(seed) {}

    RequestParser parser;
    CheckingSink sink;
    Rng rng;
    size_t pos = 0;  // next byte of the stream to feed
    uint32_t restarts = 0;
    bool done = false;
    Ending ending;

    // A read size: often tiny (every boundary inside a token gets exercised), sometimes the rest.
    size_t next_read(size_t left) noexcept {
        size_t n;
        switch (rng.next() % 8) {
            case 0:
            case 1:
                n = 1;
                break;
            case 2:
            case 3:
                n = rng.between(1, 8);
                break;
            case 4:
            case 5:
                n = rng.between(1, 64);
                break;
            case 6:
                n = rng.between(1, 512);
                break;
            default:
                n = left;
                break;
        }
        return n < left ? n : left;
    }
};

void check_same(const Connection& a, const Connection& b) noexcept {
    NEXURE_CHECK(a.sink.digests == b.sink.digests);
    NEXURE_CHECK(a.ending.outcome == b.ending.outcome);
    if (a.ending.outcome == Outcome::kError) {
        NEXURE_CHECK(a.ending.status == b.ending.status ||
                     (cut_dependent(a.ending.status) && cut_dependent(b.ending.status)));
    }
    if (a.ending.outcome == Outcome::kNeedMore) {
        NEXURE_CHECK(a.ending.mid_request == b.ending.mid_request);
        NEXURE_CHECK(a.ending.buffered == b.ending.buffered);
    }
}

}  // namespace
}  // namespace nexure::net::http

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace nexure::net::http;
    if (size < kHeaderBytes) return 0;
    const uint8_t flags = data[0];
    const size_t connections = (flags & 3) == 3 ? 1 : (flags & 3) + 1;
    const bool small_limits = (flags & 4) != 0;
    const size_t stop_after = (flags & 8) != 0 ? (data[7] & 7) + 1 : 0;
    const bool restarts = (flags & 16) != 0;
    const uint64_t seed = data[5] | (data[6] << 8) | (uint64_t{data[7]} << 16);
    const std::string_view stream(reinterpret_cast<const char*>(data) + kHeaderBytes,
                                  size - kHeaderBytes);

    Limits limits;
    if (small_limits) {
        limits.max_target_size = size_t{data[1]} + 1;
        limits.max_head_size = 8 + size_t{data[2]} * 4;
        limits.max_header_count = data[3] % 16;
        limits.max_body_size = size_t{data[4]} * 4;
    }

    // Declared before the connections: a context outlives every parser that uses it.
    ParseContext ctx(limits);
    std::vector<std::unique_ptr<Connection>> conns;
    for (size_t i = 0; i < connections; ++i) {
        conns.push_back(std::make_unique<Connection>(limits, stop_after, seed * 4 + i));
    }

    Rng schedule(seed ^ 0x5EED);
    size_t active = connections;
    while (active > 0) {
        size_t i = schedule.next() % connections;
        while (conns[i]->done)
            i = (i + 1) % connections;
        Connection& c = *conns[i];

        if (c.pos < stream.size()) {
            const size_t n = c.next_read(stream.size() - c.pos);
            const RequestParser::FeedResult r =
                feed_copy(c.parser, ctx, stream.data() + c.pos, n, c.sink);
            c.pos += n;
            // What a connection holds comes from what it was sent.
            NEXURE_CHECK(c.parser.buffered_bytes() <= c.pos);
            if (check_result(r, c.parser)) {
                c.ending = Ending{r.outcome, r.error_status, false, 0};
                c.done = true;
            }
        } else {
            // The whole stream arrived and the client closes: whatever is buffered goes.
            c.ending =
                Ending{Outcome::kNeedMore, 0, c.parser.mid_request(), c.parser.buffered_bytes()};
            c.done = true;
        }
        if (c.done) {
            check_reset(c.parser, ctx);
            --active;
            continue;
        }
        // Sometimes the connection goes away mid-stream and its slot serves a new client that
        // sends the same stream again.
        if (restarts && c.restarts < kMaxRestarts && schedule.next() % 16 == 0) {
            check_reset(c.parser, ctx);
            c.pos = 0;
            c.sink.digests.clear();
            ++c.restarts;
        }
    }

    // The reference: the same stream in one read, through the same context.
    Connection whole(limits, stop_after, 0);
    const RequestParser::FeedResult r =
        stream.empty() ? RequestParser::FeedResult{}
                       : feed_copy(whole.parser, ctx, stream.data(), stream.size(), whole.sink);
    check_result(r, whole.parser);
    NEXURE_CHECK(whole.parser.buffered_bytes() <= stream.size());
    whole.ending = Ending{r.outcome, r.error_status,
                          r.outcome == Outcome::kNeedMore && whole.parser.mid_request(),
                          r.outcome == Outcome::kNeedMore ? whole.parser.buffered_bytes() : 0};
    check_reset(whole.parser, ctx);

    // No stitch state could be had (503) only when the pool ran out, which takes more
    // connections than these: then the cuts did matter, and there is nothing to compare.
    if (whole.ending.status != 503) {
        for (const auto& c : conns) {
            if (c->ending.status != 503) check_same(*c, whole);
        }
    }
    return 0;
}
