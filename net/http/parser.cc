#include "net/http/parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#if defined(__SSSE3__)
#include <tmmintrin.h>
#endif

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

// A set of printable ASCII characters, as a lookup table and, for SSSE3, as two 16-byte tables for
// PSHUFB: a byte is in the set when the entry for its low nibble and the entry for its high
// nibble share a bit. Rows 0x20..0x70 get one bit each and the other rows (control characters,
// non-ASCII) none, so that any set of printable characters is exact.
struct ByteClass {
    std::array<bool, 256> table{};
    std::array<uint8_t, 16> low{};
    std::array<uint8_t, 16> high{};

    constexpr explicit ByteClass(std::string_view others) {
        for (int c = '0'; c <= '9'; ++c)
            table[c] = true;
        for (int c = 'a'; c <= 'z'; ++c)
            table[c] = true;
        for (int c = 'A'; c <= 'Z'; ++c)
            table[c] = true;
        for (char c : others)
            table[static_cast<unsigned char>(c)] = true;
        for (int row = 2; row <= 7; ++row) {
            high[row] = static_cast<uint8_t>(1u << (row - 2));
            for (int n = 0; n < 16; ++n) {
                if (table[row * 16 + n]) low[n] |= high[row];
            }
        }
    }
};

// RFC 9110 5.6.2 token characters, the only ones allowed in a field name.
constexpr ByteClass kToken("!#$%&'*+-.^_`|~");
// RFC 3986 3.2.2: the characters of a reg-name or an IPv4address (unreserved, pct-encoded,
// sub-delims), and of what an IP-literal holds between its brackets (the same and ':').
constexpr ByteClass kRegName("-._~%!$&'()*+,;=");
constexpr ByteClass kIpLiteral("-._~%!$&'()*+,;=:");

#if defined(__SSSE3__)
// Bit i set: byte i of `x` is not in `set`.
[[gnu::always_inline]] inline unsigned bytes_outside(__m128i x, const ByteClass& set) noexcept {
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i low =
        _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(set.low.data())),
                         _mm_and_si128(x, nibble));
    const __m128i high =
        _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(set.high.data())),
                         _mm_and_si128(_mm_srli_epi16(x, 4), nibble));
    return static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(low, high), _mm_setzero_si128())));
}
#endif

// Every byte of `v` is in `set`, one at a time.
bool all_in_bytewise(std::string_view v, const ByteClass& set) noexcept {
    bool ok = true;
    for (unsigned char ch : v)
        ok &= set.table[ch];
    return ok;
}

// Every byte of `v` is in `set`. Runs for every field name and every Host value, so with SSSE3 it
// takes 16 bytes at a time, the last (or only) block being the 16 bytes that end with `v`.
// Precondition: those 16 bytes are readable. They are for a Host value and nearly every field
// name: a message's bytes are contiguous from its first one (in one receive buffer, or in the
// stitch buffer), and a field name ends at least 16 bytes into it, after a request line with a
// version ("GET / HTTP/1.1" CRLF) and at least one byte of name — but for a one-letter name after
// a one-letter method llhttp does not know ("X / HTTP/1.1" CRLF "N"), which
// on_header_field_complete checks bytewise. on_header_field refuses fields after an HTTP/0.9
// request line, which may have no version ("GET /").
[[gnu::always_inline]] inline bool all_in(std::string_view v, const ByteClass& set) noexcept {
#if defined(__SSSE3__)
    if (v.empty()) return true;
    const char* p = v.data();
    const char* end = p + v.size();
    for (; end - p > 16; p += 16) {
        if (bytes_outside(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), set) != 0) {
            return false;
        }
    }
    const unsigned lanes = (0xffffu << (16 - (end - p))) & 0xffffu;  // the bytes of `v`
    return (bytes_outside(_mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16)), set) &
            lanes) == 0;
#else
    return all_in_bytewise(v, set);
#endif
}

// RFC 9110 7.2 / RFC 9112 3.2: Host = uri-host [ ":" port ], port = *DIGIT, where uri-host is
// a reg-name, an IPv4address or a bracketed IP-literal (RFC 3986 3.2.2), and not empty: an
// empty Host is only for a target without authority, which the engine never serves (nginx
// refuses it too). The common value, a name or an IPv4 address with an optional numeric port, is
// checked by plain_host(); a value it does not pass goes to valid_host(), which decides.
#if defined(__SSSE3__)
// Like ByteClass, but the AND of the two table entries says more than "in the set": 0 for a
// byte that is neither a reg-name character nor ':', bit 7 for ':' and bit 6 for a digit (both
// in row 0x30, which therefore has three bits), so one PSHUFB pair yields all three masks.
struct HostBytes {
    std::array<uint8_t, 16> low{};
    std::array<uint8_t, 16> high{};

    constexpr HostBytes() {
        for (int row = 2; row <= 7; ++row) {
            high[row] = static_cast<uint8_t>(1u << (row - 2));
            for (int n = 0; n < 16; ++n) {
                if (kRegName.table[row * 16 + n]) low[n] |= high[row];
            }
        }
        high[3] |= 0xc0;
        for (int n = 0; n <= 9; ++n)
            low[n] |= 0x40;
        low[':' & 0x0f] |= 0x80;
    }
};
constexpr HostBytes kHostBytes;

[[gnu::always_inline]] inline __m128i host_bytes(__m128i x) noexcept {
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i low =
        _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kHostBytes.low.data())),
                         _mm_and_si128(x, nibble));
    const __m128i high =
        _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kHostBytes.high.data())),
                         _mm_and_si128(_mm_srli_epi16(x, 4), nibble));
    return _mm_and_si128(low, high);
}
#endif

// 16 bytes at a time, the last (or only) block being the 16 bytes that end with `v`.
// Precondition (all_in's): those 16 bytes are readable.
[[gnu::always_inline]] inline bool plain_host(std::string_view v) noexcept {
    if (v.empty() || v[0] == ':') return false;
#if defined(__SSSE3__)
    const char* p = v.data();
    const char* end = p + v.size();
    for (; end - p > 16; p += 16) {
        const __m128i c = host_bytes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        // No byte outside reg-name: no ':' (bit 7) and none that is 0.
        if ((_mm_movemask_epi8(c) | _mm_movemask_epi8(_mm_cmpeq_epi8(c, _mm_setzero_si128()))) !=
            0) {
            return false;
        }
    }
    const __m128i c = host_bytes(_mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16)));
    const unsigned lanes = (0xffffu << (16 - (end - p))) & 0xffffu;  // the bytes not yet checked
    const auto mask = [lanes](__m128i m) {
        return static_cast<unsigned>(_mm_movemask_epi8(m)) & lanes;
    };
    const unsigned outside = mask(_mm_cmpeq_epi8(c, _mm_setzero_si128()));
    const unsigned colons = mask(c);
    const unsigned non_digits =
        ~static_cast<unsigned>(_mm_movemask_epi8(_mm_add_epi8(c, c))) & lanes;
    // The first ':' ends the host and only digits follow it (so no second ':'): no non-digit
    // above the lowest colon bit. Without a colon the bound is UINT_MAX.
    return outside == 0 && non_digits <= ((colons & (0u - colons)) << 1) - 1;
#else
    size_t i = v.size();
    while (i > 0 && static_cast<unsigned char>(v[i - 1] - '0') < 10)
        --i;
    const std::string_view host = i > 0 && v[i - 1] == ':' ? v.substr(0, i - 1) : v;
    return all_in(host, kRegName);
#endif
}

[[gnu::cold, gnu::noinline]] bool valid_host(std::string_view v) noexcept {
    if (v.empty()) return false;
    size_t i = 0;
    if (v[0] == '[') {
        const size_t close = v.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (i = 1; i < close; ++i) {
            if (!kIpLiteral.table[static_cast<unsigned char>(v[i])]) return false;
        }
        ++i;
    } else {
        while (i < v.size() && kRegName.table[static_cast<unsigned char>(v[i])])
            ++i;
        if (i == 0) return false;
    }
    if (i == v.size()) return true;
    if (v[i] != ':') return false;
    for (++i; i < v.size(); ++i) {
        if (static_cast<unsigned char>(v[i] - '0') >= 10) return false;
    }
    return true;
}

// The authority of an absolute-form target (RFC 9112 3.2.2: scheme "://" authority, then the
// path and query, the fragment having been refused already): the view into `target`, or false
// when the target is no such URI.
[[gnu::cold, gnu::noinline]] bool absolute_authority(std::string_view target,
                                                     std::string_view* authority) noexcept {
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1)
    auto scheme_char = [](char ch, bool first) {
        const auto lower = static_cast<unsigned char>(ch | 0x20);
        if (lower >= 'a' && lower <= 'z') return true;
        return !first && ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.');
    };
    size_t i = 0;
    while (i < target.size() && scheme_char(target[i], i == 0))
        ++i;
    if (i == 0) return false;
    if (target.substr(i, 3) != "://") return false;
    const std::string_view rest = target.substr(i + 3);
    *authority = rest.substr(0, rest.find_first_of("/?"));
    return true;
}

std::string_view trim_trailing_ows(std::string_view v) noexcept {
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}

// llhttp (in its default, non-strict build) lets through, inside the request-target, a
// horizontal tab and a form feed (no control character belongs there, RFC 9112 3.2, and
// whitespace inside the target is how request lines get split differently by different
// parsers), bytes of 0x80 and above (a target is ASCII, RFC 3986 2: anything else is
// percent-encoded) and '#' (a fragment is not part of a request-target, RFC 9112 3.2).
//
// Eight bytes at a time, with no branch per byte: a byte below 0x20 sets the top bit of x - 0x20..,
// a byte of 0x80 or more has it set in x, and '#' sets it in (x ^ 0x23..) - 0x01.. (it becomes
// 0x00). A borrow out of a byte only happens where one of these already matched, so nothing else
// sets a top bit. The last word may run up to 7 bytes past the target: into " HTTP/1", which
// llhttp has checked and the caller has seen begin, none of it matching.
bool target_has_invalid_byte(std::string_view target) noexcept {
    constexpr uint64_t kOnes = 0x0101010101010101u;
    uint64_t found = 0;
    for (size_t i = 0; i < target.size(); i += 8) {
        uint64_t x;
        std::memcpy(&x, target.data() + i, 8);
        found |= (x - 0x20 * kOnes) | x | ((x ^ (0x23 * kOnes)) - kOnes);
    }
    return (found & (0x80 * kOnes)) != 0;
}

// "host", ASCII case-insensitive, for a name already known to be 4 bytes long. OR-ing 0x20 into
// each byte maps only 'H', 'O', 'S' and 'T' onto these letters, so the comparison is exact.
bool is_host_name(std::string_view name) noexcept {
    uint32_t word;
    std::memcpy(&word, name.data(), 4);
    uint32_t host;
    std::memcpy(&host, "host", 4);
    return (word | 0x20202020u) == host;
}

// The bytes just before `p` are a CRLF: how every line of a head ends (RFC 9112 2.1). llhttp's
// non-strict build also takes a bare LF, and after the CR that ends the head or a chunk-size
// line it consumes any byte at all in place of the LF, which would let "\r\r" or "\rX" end a
// head here and not in the server in front of us.
bool crlf_before(const char* p) noexcept {
    return p[-1] == '\n' && p[-2] == '\r';
}

// A head (and a chunked message's trailer section) ends with an empty line: CRLF CRLF.
bool empty_line_before(const char* p) noexcept {
    return std::memcmp(p - 4, "\r\n\r\n", 4) == 0;
}

bool is_ows(char ch) noexcept {
    return ch == ' ' || ch == '\t';
}

// Transfer-Encoding (RFC 9112 6.1 and 6.3, RFC 9110 10.1.4), read when llhttp saw the header:
// 0 when the codings are exactly "chunked" (empty list elements and OWS aside), 400 when chunked
// is absent, applied twice, not the final coding, given parameters, or the list is malformed, and
// 501 when chunked is final but another coding precedes it: the engine decodes none of them.
// Multiple Transfer-Encoding lines form one list, in order (RFC 9110 5.3).
[[gnu::cold, gnu::noinline]] int transfer_coding_status(const Header* headers, uint32_t count,
                                                        uint16_t llhttp_flags) noexcept {
    unsigned chunked = 0;
    bool chunked_last = false;
    bool other = false;
    for (uint32_t h = 0; h < count; ++h) {
        if (!iequals(headers[h].name, "transfer-encoding")) continue;
        const std::string_view v = headers[h].value;
        const size_t n = v.size();
        size_t i = 0;
        auto skip_ows = [&] {
            while (i < n && is_ows(v[i]))
                ++i;
        };
        auto token = [&] {
            const size_t start = i;
            while (i < n && kToken.table[static_cast<unsigned char>(v[i])])
                ++i;
            return v.substr(start, i - start);
        };
        for (;;) {
            skip_ows();
            if (i == n) break;
            if (v[i] == ',') {  // an empty list element (RFC 9110 5.6.1)
                ++i;
                continue;
            }
            const std::string_view coding = token();
            if (coding.empty()) return 400;
            bool parameters = false;
            skip_ows();
            while (i < n && v[i] == ';') {  // transfer-parameter: token BWS "=" BWS value
                parameters = true;
                ++i;
                skip_ows();
                if (token().empty()) return 400;
                skip_ows();
                if (i == n || v[i] != '=') return 400;
                ++i;
                skip_ows();
                if (i < n && v[i] == '"') {  // quoted-string
                    for (++i;; ++i) {
                        if (i == n) return 400;
                        if (v[i] == '"') break;
                        if (v[i] == '\\' && ++i == n) return 400;
                    }
                    ++i;
                } else if (token().empty()) {
                    return 400;
                }
                skip_ows();
            }
            if (i < n && v[i] != ',') return 400;
            if (iequals(coding, "chunked")) {
                // Chunked takes no parameters, and may be applied only once (RFC 9112 6.1).
                if (parameters || ++chunked > 1) return 400;
                chunked_last = true;
            } else {
                other = true;
                chunked_last = false;
            }
        }
    }
    if (!chunked_last || (llhttp_flags & F_CHUNKED) == 0) return 400;
    return other ? 501 : 0;
}

// RFC 9112 3.2.2: an absolute-form target ("http://host:8080/a?b") is routed by its path and
// query like the origin-form "/a?b"; an empty path is "/". Authority-form (CONNECT's
// "host:443") has no "://" and stays as it is.
[[gnu::cold, gnu::noinline]] std::string_view origin_part(std::string_view target) noexcept {
    const size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return target;
    const size_t path = target.find_first_of("/?", scheme_end + 3);
    return path == std::string_view::npos ? std::string_view{} : target.substr(path);
}
}  // namespace

// The llhttp callbacks. Each reads the worker's ParseContext through parser->data.
struct ParserCallbacks {
    static ParseContext& ctx(llhttp_t* p) noexcept { return *static_cast<ParseContext*>(p->data); }

    // `reason`: static text, for ParseContext::error_reason().
    static int fail(ParseContext& c, int status, const char* reason) noexcept {
        c.state_.error_status = status;
        c.failing_ = reason;
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

    // The message starts at its request-line: empty lines before it (RFC 9112 2.2) count towards
    // no limit and are not stitched, wherever the reads that carry them were cut.
    static int on_method(llhttp_t* p, const char* at, size_t) noexcept {
        ParseContext& c = ctx(p);
        if (!c.state_.method_seen) {
            c.state_.method_seen = true;
            c.msg_start_ = at;
        }
        return 0;
    }

    static int on_url(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        if (c.target_.empty())
            c.target_ = std::string_view(at, len);
        else if (!extend(&c.target_, at, len))
            return fail(c, 400, "malformed request-target");
        if (c.target_.size() > c.limits_.max_target_size)
            return fail(c, 414, "request-target longer than max_target_size");
        if (head_too_large(c, at, len)) return fail(c, 431, "head larger than max_head_size");
        return 0;
    }

    static int on_header_field(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        ParseContext::State& s = c.state_;
        if (s.head_done) return on_trailer_field(c, at, len);
        if (s.last == ParseContext::Last::kField) {
            Header& h = c.headers_[s.header_count - 1];
            if (!extend(&h.name, at, len)) return fail(c, 400, "malformed header field name");
        } else {
            // HTTP/0.9 requests ("GET /" CRLF, or an explicit HTTP/0.x version) have no header
            // fields: this is not a request at all, 400 (all_in also relies on a request line
            // with a version before any field). The same 400 whichever read a field starts in.
            if (p->http_major == 0) return fail(c, 400, "no HTTP version (HTTP/0.9)");
            // The line before (request line or field line) must have ended with CRLF. The bytes
            // of a message are contiguous from its first one, so at[-2] is always readable.
            if (!crlf_before(at)) return fail(c, 400, "a line not ended by CRLF");
            if (s.header_count == c.limits_.max_header_count)
                return fail(c, 431, "more header fields than max_header_count");
            c.headers_[s.header_count++] = Header{std::string_view(at, len), {}};
            s.last = ParseContext::Last::kField;
        }
        if (head_too_large(c, at, len)) return fail(c, 431, "head larger than max_head_size");
        return 0;
    }

    static int on_header_field_complete(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        ParseContext::State& s = c.state_;
        s.last = ParseContext::Last::kFieldDone;
        if (s.head_done) return s.item_bytes ? 0 : fail(c, 400, "empty trailer field name");
        // llhttp's lenient default lets e.g. a space through inside a name, and an empty name;
        // a field name is a token: one or more token characters (RFC 9110 5.1).
        const std::string_view name = c.headers_[s.header_count - 1].name;
        // (all_in's 16 bytes are the message's unless the name ends closer to its start.)
        const bool token = name.data() + name.size() - c.msg_start_ >= 16
                               ? all_in(name, kToken)
                               : all_in_bytewise(name, kToken);
        if (name.empty() || !token) return fail(c, 400, "header field name is not a token");
        return name.size() == 14 ? content_length_field(c, name) : 0;
    }

    // RFC 9110 5.5: OWS (SP or HTAB) may surround a field value; llhttp 8.1 refuses a tab after
    // the digits of Content-Length. When the value (up to the end of the bytes at hand) has a
    // tab, or does not end within them, llhttp is paused after the ':' and feed() reads the value
    // (RequestParser::content_length_line).
    [[gnu::cold, gnu::noinline]] static int content_length_field(ParseContext& c,
                                                                 std::string_view name) noexcept {
        if (!iequals(name, "content-length")) return 0;
        const char* value = name.data() + name.size() + 1;  // after the ':'
        const auto n = static_cast<size_t>(c.feed_end_ - value);
        const auto* cr = static_cast<const char*>(std::memchr(value, '\r', n));
        if (cr != nullptr && std::memchr(value, '\t', static_cast<size_t>(cr - value)) == nullptr) {
            return 0;
        }
        ParseContext::State& s = c.state_;
        s.line = ParseContext::Line::kContentLength;
        s.line_scanned = 0;
        s.pause = ParseContext::Pause::kLine;
        return kPaused;
    }

    static int on_header_value(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        ParseContext::State& s = c.state_;
        if (s.head_done) return on_trailer_bytes(c, len);
        Header& h = c.headers_[s.header_count - 1];
        if (s.last == ParseContext::Last::kValue) {
            if (!extend(&h.value, at, len)) return fail(c, 400, "malformed header field value");
        } else if (s.last == ParseContext::Last::kValueFixed) [[unlikely]] {
            return 0;
        } else {
            h.value = std::string_view(at, len);
            s.last = ParseContext::Last::kValue;
        }
        if (head_too_large(c, at, len)) return fail(c, 431, "head larger than max_head_size");
        return 0;
    }

    static int on_header_value_complete(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        if (c.state_.header_count > 0 && !c.state_.head_done) {
            Header& h = c.headers_[c.state_.header_count - 1];
            h.value = trim_trailing_ows(h.value);
        }
        c.state_.last = ParseContext::Last::kValueDone;
        return 0;
    }

    // Trailer fields (after a chunked body) are checked like header fields but not kept: a
    // recipient must not merge them into the header section it hands on (RFC 9110 6.5.1), and
    // none of them means anything to the engine. They have a budget of their own, as many fields
    // and bytes as the head may have, so that a long body does not count against the head limit.
    [[gnu::cold, gnu::noinline]] static int on_trailer_field(ParseContext& c, const char* at,
                                                             size_t len) noexcept {
        ParseContext::State& s = c.state_;
        if (s.last != ParseContext::Last::kField) {
            if (!crlf_before(at)) return fail(c, 400, "a line not ended by CRLF");
            if (s.trailer_count == c.limits_.max_header_count)
                return fail(c, 431, "more trailer fields than max_header_count");
            ++s.trailer_count;
            s.item_bytes = false;
            s.last = ParseContext::Last::kField;
        }
        // Piece by piece (a name split by a read has a piece that starts the read's bytes).
        for (size_t i = 0; i < len; ++i) {
            if (!kToken.table[static_cast<unsigned char>(at[i])])
                return fail(c, 400, "trailer field name is not a token");
        }
        if (len > 0) s.item_bytes = true;
        return on_trailer_bytes(c, len);
    }

    static int on_trailer_bytes(ParseContext& c, size_t len) noexcept {
        c.state_.trailer_bytes += len;
        return c.state_.trailer_bytes > c.limits_.max_head_size
                   ? fail(c, 431, "trailer section larger than max_head_size")
                   : 0;
    }

    // The request line is method SP target SP version (RFC 9112 3): llhttp skips any run of
    // spaces between the three, which other parsers read differently, and lets a tab or a form
    // feed through inside the target. (The request line is in the message's contiguous bytes, so
    // the bytes around the target are readable.)
    static bool clean_request_line(std::string_view target) noexcept {
        return !target.empty() && target.data()[-2] != ' ' &&
               target.data()[target.size() + 1] == 'H' && !target_has_invalid_byte(target);
    }

    static bool has_body(const llhttp_t* p) noexcept {
        return (p->flags & F_CHUNKED) != 0 ||
               ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0);
    }

    // Pauses llhttp at the end of the head of a request with a body, so that feed() can check
    // that the head ended with CRLF CRLF before the body is read (a request without a body is
    // checked when it completes).
    static int head_complete(ParseContext& c, const llhttp_t* p) noexcept {
        if (!has_body(p)) return 0;
        c.state_.pause = ParseContext::Pause::kHead;
        return kPaused;
    }

    // The common request (HTTP/1.x, a clean request line, exactly one valid Host or none in
    // HTTP/1.0, no Transfer-Encoding, no Expect, a body within the limit) is checked here in one
    // pass; anything else goes to on_headers_complete_slow, which finds its status in order.
    static int on_headers_complete(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        ParseContext::State& s = c.state_;
        s.head_done = true;
        bool plain =
            p->http_major == 1 && (p->flags & F_TRANSFER_ENCODING) == 0 &&
            ((p->flags & F_CONTENT_LENGTH) == 0 || p->content_length <= c.limits_.max_body_size ||
             c.head_hook_) &&
            clean_request_line(c.target_) && c.target_[0] == '/' && p->method != HTTP_CONNECT;
        uint32_t hosts = 0;
        for (uint32_t i = 0; plain && i < s.header_count; ++i) {
            const Header& h = c.headers_[i];
            switch (h.name.size()) {
                case 4:
                    if (is_host_name(h.name)) {
                        ++hosts;
                        plain = plain_host(h.value);
                    }
                    break;
                case 6:
                    plain = !iequals(h.name, "expect");
                    break;
                case 17:  // llhttp ignores a Transfer-Encoding line with an empty value
                    plain = !iequals(h.name, "transfer-encoding");
                    break;
                default:
                    break;
            }
        }
        if (!plain || hosts > 1 || (hosts == 0 && p->http_minor != 0)) {
            return on_headers_complete_slow(c, p);
        }
        return head_complete(c, p);
    }

    [[gnu::cold, gnu::noinline]] static int on_headers_complete_slow(ParseContext& c,
                                                                     llhttp_t* p) noexcept {
        ParseContext::State& s = c.state_;
        // RFC 9110 2.5: a minor version above 1 is handled as HTTP/1.1 (llhttp is told to let
        // any digit through); another major version is not HTTP/1.x at all.
        if (p->http_major != 1) return fail(c, 505, "HTTP major version other than 1");
        if (!clean_request_line(c.target_)) return fail(c, 400, "malformed request-line");
        // RFC 9112 3.2: the forms of request-target. CONNECT's authority-form asks for a tunnel,
        // which the engine does not offer: 501, before anything is routed (RFC 9110 9.3.6). The
        // asterisk-form is for OPTIONS only (3.2.4). Any other target that is not origin-form
        // must be absolute-form, whose authority is the request's host (3.2.2).
        if (p->method == HTTP_CONNECT) return fail(c, 501, "CONNECT (tunnels are not offered)");
        std::string_view authority;
        bool absolute = false;
        if (c.target_[0] != '/') {
            if (c.target_ == "*") {
                if (p->method != HTTP_OPTIONS)
                    return fail(c, 400, "asterisk-form target for a method other than OPTIONS");
            } else {
                absolute = absolute_authority(c.target_, &authority);
                if (!absolute || !valid_host(authority))
                    return fail(c, 400, "request-target neither origin-form nor absolute-form");
            }
        }
        uint32_t hosts = 0;
        Header* host = nullptr;
        bool host_ok = true;
        bool expect_ok = true;
        bool transfer_encoding = (p->flags & F_TRANSFER_ENCODING) != 0;
        for (uint32_t i = 0; i < s.header_count; ++i) {
            Header& h = c.headers_[i];
            if (h.name.size() == 4 && is_host_name(h.name)) {
                if (++hosts == 1) host = &h;
                host_ok &= plain_host(h.value) || valid_host(h.value);
            } else if (iequals(h.name, "expect")) {
                if (!iequals(h.value, "100-continue")) expect_ok = false;
                s.expect_continue = has_body(p) && p->http_minor >= 1;
            } else if (iequals(h.name, "transfer-encoding")) {
                transfer_encoding = true;
            }
        }
        // RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, for more than one Host, and for
        // a Host value that is not a host.
        if (hosts > 1 || (hosts == 0 && p->http_minor >= 1) || !host_ok)
            return fail(c, 400, "Host missing, repeated or invalid");
        // RFC 9112 3.2.2: "an origin server MUST ignore the received Host header field (if any)
        // and instead use the host information of the request-target": the Host the handler
        // reads is the target's authority (a view into the target, like the Host it replaces).
        if (absolute && host != nullptr) host->value = authority;
        if (transfer_encoding) {
            // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing.
            const int status =
                p->http_minor == 0
                    ? 400
                    : transfer_coding_status(c.headers_.data(), s.header_count, p->flags);
            if (status != 0) {
                return fail(c, status,
                            p->http_minor == 0 ? "Transfer-Encoding in an HTTP/1.0 request"
                            : status == 501    ? "a transfer coding other than chunked"
                                               : "invalid Transfer-Encoding");
            }
        }
        // (With the head hook on, the limit is the route's: the sink applies it at the head.)
        if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > c.limits_.max_body_size &&
            !c.head_hook_) {
            return fail(c, 413, "Content-Length over max_body_size");
        }
        if (!expect_ok) return fail(c, 417, "an expectation other than 100-continue");
        return head_complete(c, p);
    }

    // Each chunk-size line: the chunk must fit in the body limit (413 before its data arrives),
    // and its data must follow a CRLF (checked by on_body).
    static int on_chunk_header(llhttp_t* p) noexcept {
        ParseContext& c = ctx(p);
        if (c.state_.streaming) {
            const uint64_t limit = c.state_.stream_limit;
            if (limit != 0 && p->content_length > limit - c.state_.streamed)
                return fail(c, 413, "body over the route's max_body_size");
        } else if (p->content_length > c.limits_.max_body_size - c.body_.size()) {
            return fail(c, 413, "body over max_body_size");
        }
        c.state_.chunk_start = true;
        return 0;
    }

    // After a chunk's data and its CRLF: the next chunk-size line is read by feed()
    // (RequestParser::chunk_size_line), so pause llhttp in front of it. Not after the trailer
    // section of the last chunk (F_TRAILING): the message is complete then.
    static int on_chunk_complete(llhttp_t* p) noexcept {
        if ((p->flags & F_TRAILING) != 0) return 0;
        ctx(p).state_.pause = ParseContext::Pause::kLine;
        begin_chunk_line(ctx(p).state_);
        return kPaused;
    }

    static void begin_chunk_line(ParseContext::State& s) noexcept {
        s.line = ParseContext::Line::kChunkSize;
        s.line_state = 0;
        s.line_scanned = 0;
        s.chunk_digits = 0;
    }

    static int on_body(llhttp_t* p, const char* at, size_t len) noexcept {
        ParseContext& c = ctx(p);
        if (c.state_.chunk_start) {
            // The first data of a chunk: its size line (and extensions) ended with CRLF.
            c.state_.chunk_start = false;
            if (!crlf_before(at)) return fail(c, 400, "chunk-size line not ended by CRLF");
        }
        if (c.state_.streaming) {
            // Straight to the sink, never collected (its limit was checked by length or chunk).
            c.state_.streamed += len;
            c.sink_->on_body_data(std::string_view(at, len));
            return 0;
        }
        if (c.body_.size() + len > c.limits_.max_body_size)
            return fail(c, 413, "body over max_body_size");
        if (c.body_.empty() && !c.state_.body_in_buffer) {
            c.body_ = std::string_view(at, len);
        } else if (!c.state_.body_in_buffer && c.body_.data() + c.body_.size() == at) {
            c.body_ = std::string_view(c.body_.data(), c.body_.size() + len);
        } else {
            ParseContext::Block& b = c.body_block_;
            if (!c.state_.body_in_buffer) {
                b.reserve(c.body_.size() + len + Request::kBodyReadAhead);
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
            v.on_method = on_method;
            v.on_url = on_url;
            v.on_header_field = on_header_field;
            v.on_header_field_complete = on_header_field_complete;
            v.on_header_value = on_header_value;
            v.on_header_value_complete = on_header_value_complete;
            v.on_headers_complete = on_headers_complete;
            v.on_body = on_body;
            v.on_message_complete = on_message_complete;
            v.on_chunk_header = on_chunk_header;
            v.on_chunk_complete = on_chunk_complete;
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

void ParseContext::Block::append(const char* p, size_t n) noexcept {
    // (The room after the bytes is what Request::body_padding() counts for a body in here.)
    const size_t need = size + n + Request::kBodyReadAhead;
    if (need > capacity) reserve(need > 2 * capacity ? need : 2 * capacity);
    std::memcpy(data + size, p, n);
    size += n;
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
// Bytes a stitched request may hold beyond its head and twice its body (chunk framing).
constexpr size_t kStitchFramingSlack = 64 * 1024;
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
    if (state_.method_length != 0) [[unlikely]] {
        r.method_name_ = std::string_view(msg_start_, state_.method_length);
    }
    r.target_ = target_;
    std::string_view rest = target_;
    if (!rest.empty() && rest[0] != '/' && rest[0] != '*') rest = origin_part(rest);
    const size_t q = rest.find('?');
    r.path_ = q == 0 || rest.empty() ? std::string_view("/") : rest.substr(0, q);
    r.query_ = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
    r.version_major_ = parser.http_major;
    r.version_minor_ = parser.http_minor;
    r.keep_alive_ = llhttp_should_keep_alive(&parser) != 0;
    r.headers_ = headers_.data();
    r.header_count_ = state_.header_count;
    r.body_ = body_;
    // A de-chunked body lies in its block; any other in the bytes being parsed.
    r.body_limit_ = state_.body_in_buffer ? body_block_.data + body_block_.capacity : feed_limit_;
    r.param_count_ = 0;
    return r;
}

Request& ParseContext::head_message(llhttp_t& parser) noexcept {
    Request& r = finish_message(parser);
    r.body_ = {};
    return r;
}

RequestParser::RequestParser() noexcept {
    init_llhttp();
}

RequestParser::~RequestParser() = default;

void RequestParser::init_llhttp() noexcept {
    llhttp_init(&parser_, HTTP_REQUEST, ParserCallbacks::settings());
    // Let any single-digit version through: on_headers_complete answers a major version other
    // than 1 with 505 rather than 400, and handles HTTP/1.2 and up as HTTP/1.1 (RFC 9110 2.5).
    // llhttp 8.1 has the flag but no setter for it.
    parser_.lenient_flags |= LENIENT_VERSION;
}

void RequestParser::reset(ParseContext& ctx) noexcept {
    init_llhttp();
    drop_partial(ctx);
}

void RequestParser::drop_partial(ParseContext& ctx) noexcept {
    if (partial_ != nullptr) ctx.give_back(std::exchange(partial_, nullptr));
}

size_t RequestParser::buffered_bytes() const noexcept {
    return partial_ ? partial_->bytes.size : 0;
}

size_t RequestParser::max_stitched_bytes(const Limits& limits) noexcept {
    return limits.max_head_size + 2 * limits.max_body_size + kStitchFramingSlack;
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

bool RequestParser::park(ParseContext& ctx, const char* end, const char* resume_at) noexcept {
    const char* start = ctx.msg_start_;
    size_t due = body_bytes_due(ctx);
    if (ctx.state_.streaming) {
        // A streamed body: what was parsed is gone to the sink and the head was handled, so only
        // the unparsed tail is kept, with up to 3 bytes before it (the CRLF checks look back).
        start = resume_at - std::min<size_t>(3, static_cast<size_t>(resume_at - ctx.feed_begin_));
        ctx.msg_start_ = start;
        ctx.target_ = {};
        ctx.state_.header_count = 0;
        due = 0;
    }
    const bool in_place = partial_ != nullptr && start == partial_->bytes.data;
    if (partial_ == nullptr) partial_ = ctx.take_partial();
    if (partial_ == nullptr) return false;
    PartialMessage& p = *partial_;
    const size_t n = static_cast<size_t>(end - start);

    if (in_place) {
        // The message began before this read and is still incomplete: its bytes, header spans and
        // de-chunked body are where they were; make room for the announced body once.
        p.bytes.reserve(p.bytes.size + due + Request::kBodyReadAhead);
        if (ctx.state_.body_in_buffer) p.body_block = ctx.body_block_;
    } else {
        // A message begins in this read (in a receive buffer, or after a message that completed
        // inside the stitched bytes): copy it once into a clean region, with room for the rest.
        alloc::Region& to = p.spare();
        p.headers = to.make_array<PartialMessage::HeaderSpan>(ctx.headers_.size());
        p.bytes = ParseContext::Block{.region = &to};
        p.bytes.reserve(n + (ctx.state_.head_done ? due : std::max(n, kStitchHeadRoom)) +
                        Request::kBodyReadAhead);
        p.bytes.append(start, n);
        p.body_region.reset();
        p.body_block = ParseContext::Block{.region = &p.body_region};
        if (ctx.state_.body_in_buffer) {
            p.body_block.reserve(ctx.body_block_.size + due + Request::kBodyReadAhead);
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
    p.parsed = static_cast<size_t>(resume_at - start);
    return true;
}

const char* RequestParser::read_line(ParseContext& ctx, const char* line, const char* end,
                                     int* status) noexcept {
    const char* next = line;
    const char* reason = nullptr;  // when the line is refused and no callback said why
    switch (ctx.state_.line) {
        case ParseContext::Line::kChunkSize:
            next = chunk_size_line(ctx, line, end, status);
            reason = "malformed chunk-size line";
            break;
        case ParseContext::Line::kContentLength:
            next = content_length_line(ctx, line, end, status);
            reason = *status == 431 ? "head larger than max_head_size" : "invalid Content-Length";
            break;
        case ParseContext::Line::kMethod:
            next = method_line(ctx, line, end, status);
            reason = *status == 501 ? "method longer than 255 bytes" : "malformed request-line";
            break;
        case ParseContext::Line::kNone:
            break;
    }
    if (*status != 0 && ctx.failing_ == nullptr) {
        // llhttp's own verdict on what it was handed of the line ("Duplicate Content-Length"),
        // or the line's.
        ctx.failing_ =
            llhttp_get_errno(&parser_) != HPE_OK ? llhttp_get_error_reason(&parser_) : reason;
    }
    return next;
}

namespace {
// The states of the chunk-size line scanner (ParseContext::State::line_state).
enum ChunkLineState : uint8_t {
    kSize,           // 1*HEXDIG
    kAfterItem,      // after the size, an extension's name or its value
    kBwsBeforeSemi,  // BWS that must be followed by ';'
    kBeforeName,     // after ';', BWS then a token
    kName,
    kAfterName,  // BWS after a name: '=' or ';' follows
    kBeforeValue,
    kTokenValue,
    kQuoted,
    kQuotedPair,
    kLf,  // after the CR
};

int hex_digit(unsigned char ch) noexcept {
    if (ch >= '0' && ch <= '9') return ch - '0';
    const unsigned lower = ch | 0x20u;
    if (lower >= 'a' && lower <= 'f') return static_cast<int>(lower - 'a' + 10);
    return -1;
}

// RFC 9110 5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
bool is_qdtext(unsigned char ch) noexcept {
    return ch == '\t' || (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f);
}

// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
bool is_quoted_pair_char(unsigned char ch) noexcept {
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}
}  // namespace

// RFC 9112 7.1 and 7.1.1, which llhttp 8.1 reads more narrowly (no BWS around ';' and '=', no
// quoted-pair, no extension after a token value):
//   chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG,
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
//   chunk-ext-name = token, chunk-ext-val = token / quoted-string.
// Extensions are checked and ignored. Their bytes (and leading zeros of the size) count towards
// a budget as large as the head's, for all chunk lines of a request together (7.1.1 asks for a
// limit); beyond it, and for a size of more than 16 significant hex digits, 400: a malformed
// line, not a large body. llhttp is then given the line as "<hex size>" CRLF, which it reads
// like any chunk-size line (on_chunk_header checks the size against the body limit).
[[gnu::cold, gnu::noinline]] const char* RequestParser::chunk_size_line(ParseContext& ctx,
                                                                        const char* line,
                                                                        const char* end,
                                                                        int* status) noexcept {
    ParseContext::State& s = ctx.state_;
    const uint32_t budget =
        static_cast<uint32_t>(std::min<size_t>(ctx.limits_.max_head_size, UINT32_MAX));
    const char* p = line + s.line_scanned;
    const char* next = nullptr;
    for (; p < end && next == nullptr; ++p) {
#if defined(__SSSE3__)
        if (s.line_state == kName || s.line_state == kTokenValue) {
            // A long name or value (extensions are where a peer pads a line): 16 bytes a step.
            const char* run = p;
            while (end - p >= 16 &&
                   bytes_outside(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), kToken) ==
                       0) {
                p += 16;
            }
            if (static_cast<size_t>(p - run) > budget - s.extension_bytes) {
                *status = 400;
                return nullptr;
            }
            s.extension_bytes += static_cast<uint32_t>(p - run);
            if (p == end) break;
        }
#endif
        const auto ch = static_cast<unsigned char>(*p);
        const bool ows = ch == ' ' || ch == '\t';
        const bool tchar = kToken.table[ch];
        bool counted = true;
        switch (s.line_state) {
            case kSize: {
                const int digit = hex_digit(ch);
                if (digit >= 0) {
                    if (s.chunk_digits != 0 || digit != 0) {  // not a leading zero
                        if (++s.chunk_digits > 16) return *status = 400, nullptr;
                        counted = false;
                    }
                    break;
                }
                if (p == line) return *status = 400, nullptr;  // no digit at all
                s.line_state = kAfterItem;
                [[fallthrough]];
            }
            case kAfterItem:
                if (ch == ';') {
                    s.line_state = kBeforeName;
                } else if (ows) {
                    s.line_state = kBwsBeforeSemi;
                } else if (ch == '\r') {
                    s.line_state = kLf;
                } else {
                    return *status = 400, nullptr;
                }
                break;
            case kBwsBeforeSemi:
                if (ch == ';') {
                    s.line_state = kBeforeName;
                } else if (!ows) {
                    return *status = 400, nullptr;
                }
                break;
            case kBeforeName:
                if (tchar) {
                    s.line_state = kName;
                } else if (!ows) {
                    return *status = 400, nullptr;  // no name: ";=v", ";;", ";" CRLF
                }
                break;
            case kName:
                if (tchar) break;
                if (ch == '=') {
                    s.line_state = kBeforeValue;
                } else if (ows) {
                    s.line_state = kAfterName;
                } else if (ch == ';') {
                    s.line_state = kBeforeName;
                } else if (ch == '\r') {
                    s.line_state = kLf;
                } else {
                    return *status = 400, nullptr;
                }
                break;
            case kAfterName:
                if (ch == '=') {
                    s.line_state = kBeforeValue;
                } else if (ch == ';') {
                    s.line_state = kBeforeName;
                } else if (!ows) {
                    return *status = 400, nullptr;
                }
                break;
            case kBeforeValue:
                if (ch == '"') {
                    s.line_state = kQuoted;
                } else if (tchar) {
                    s.line_state = kTokenValue;
                } else if (!ows) {
                    return *status = 400, nullptr;  // no value: ";n=" CRLF
                }
                break;
            case kTokenValue:
                if (tchar) break;
                if (ch == ';') {
                    s.line_state = kBeforeName;
                } else if (ows) {
                    s.line_state = kBwsBeforeSemi;
                } else if (ch == '\r') {
                    s.line_state = kLf;
                } else {
                    return *status = 400, nullptr;
                }
                break;
            case kQuoted:
                if (ch == '"') {
                    s.line_state = kAfterItem;
                } else if (ch == '\\') {
                    s.line_state = kQuotedPair;
                } else if (!is_qdtext(ch)) {
                    return *status = 400, nullptr;
                }
                break;
            case kQuotedPair:
                if (!is_quoted_pair_char(ch)) return *status = 400, nullptr;
                s.line_state = kQuoted;
                break;
            case kLf:
                // CRLF, never a bare CR (RFC 9112 2.2 and 7.1).
                if (ch != '\n') return *status = 400, nullptr;
                next = p + 1;
                counted = false;
                break;
            default:
                return *status = 400, nullptr;
        }
        if (counted && s.line_state != kLf && ++s.extension_bytes > budget) {
            return *status = 400, nullptr;
        }
    }
    if (next == nullptr) {
        s.line_scanned = static_cast<uint32_t>(p - line);
        return nullptr;
    }

    // "<hex size>" CRLF for llhttp, which waits at a chunk-size line: the size's significant
    // digits (the line is contiguous from its start, in one buffer or the stitched bytes).
    char canonical[20];
    char* out = canonical;
    const char* digit = line;
    while (*digit == '0' && hex_digit(static_cast<unsigned char>(digit[1])) >= 0)
        ++digit;
    for (; hex_digit(static_cast<unsigned char>(*digit)) >= 0; ++digit)
        *out++ = *digit;
    *out++ = '\r';
    *out++ = '\n';
    s.line = ParseContext::Line::kNone;
    const llhttp_errno_t err =
        llhttp_execute(&parser_, canonical, static_cast<size_t>(out - canonical));
    if (err != HPE_OK) {
        *status = s.error_status != 0 ? s.error_status : 400;
        return nullptr;
    }
    return next;
}

// The value of a Content-Length field with a tab in its OWS (see content_length_field): `line`
// is the byte after the ':'. When the value is digits, llhttp gets them alone (leading zeros
// aside) and goes on at the CR; the field's value is the digits in the received bytes. Anything
// else llhttp reads as it is, and gives its own verdict (a tab after the digits: 400).
[[gnu::cold, gnu::noinline]] const char* RequestParser::content_length_line(ParseContext& ctx,
                                                                            const char* line,
                                                                            const char* end,
                                                                            int* status) noexcept {
    ParseContext::State& s = ctx.state_;
    const char* from = line + s.line_scanned;
    const auto* cr =
        static_cast<const char*>(std::memchr(from, '\r', static_cast<size_t>(end - from)));
    const char* last = cr != nullptr ? cr : end;
    if (static_cast<size_t>(last - ctx.msg_start_) > ctx.limits_.max_head_size) {
        *status = 431;
        return nullptr;
    }
    if (cr == nullptr) {
        s.line_scanned = static_cast<uint32_t>(end - line);
        return nullptr;
    }
    s.line = ParseContext::Line::kNone;
    std::string_view value(line, static_cast<size_t>(cr - line));
    while (!value.empty() && is_ows(value.front()))
        value.remove_prefix(1);
    while (!value.empty() && is_ows(value.back()))
        value.remove_suffix(1);
    std::string_view digits = value;
    while (digits.size() > 1 && digits.front() == '0')
        digits.remove_prefix(1);
    const bool all_digits =
        !digits.empty() &&
        std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!all_digits || digits.size() > 20) return line;  // llhttp's to judge
    Header& h = ctx.headers_[s.header_count - 1];
    s.last = ParseContext::Last::kValueFixed;
    if (llhttp_execute(&parser_, digits.data(), digits.size()) != HPE_OK) {
        *status = s.error_status != 0 ? s.error_status : 400;
        return nullptr;
    }
    h.value = value;
    return cr;
}

namespace {
// The longest method read by method_line(): registered methods are far shorter.
constexpr size_t kMaxUnknownMethod = 255;
}  // namespace

// A request-line whose method llhttp 8.1 does not know (it knows the registered ones): a method
// is any token (RFC 9110 9.1), and one the server does not implement gets 501 (RFC 9110 9.1,
// 15.6.2) like the methods llhttp knows and the router does not route. `line` is the first byte
// of the method. Once the token and its SP are here, llhttp gets a method it knows and routes
// nowhere ("PROPFIND ") and goes on with the target; the request's method name is the token.
// Not a token followed by SP: 400. Longer than kMaxUnknownMethod: 501 at once.
[[gnu::cold, gnu::noinline]] const char* RequestParser::method_line(ParseContext& ctx,
                                                                    const char* line,
                                                                    const char* end,
                                                                    int* status) noexcept {
    ParseContext::State& s = ctx.state_;
    const char* p = line + s.line_scanned;
    while (p < end && kToken.table[static_cast<unsigned char>(*p)])
        ++p;
    if (static_cast<size_t>(p - line) > kMaxUnknownMethod) {
        *status = 501;
        return nullptr;
    }
    if (p == end) {
        s.line_scanned = static_cast<uint32_t>(p - line);
        return nullptr;
    }
    if (*p != ' ' || p == line) {
        *status = 400;
        return nullptr;
    }
    const auto length = static_cast<uint8_t>(p - line);
    init_llhttp();
    parser_.data = &ctx;
    static constexpr std::string_view kStandIn = "PROPFIND ";
    if (llhttp_execute(&parser_, kStandIn.data(), kStandIn.size()) != HPE_OK) {
        *status = 400;
        return nullptr;
    }
    // on_message_begin and on_method ran again, for the stand-in.
    ctx.msg_start_ = line;
    s.method_length = length;
    return p + 1;
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

int RequestParser::decide_body(ParseContext& ctx, RequestSink& sink) noexcept {
    const BodyDecision d = sink.on_head(ctx.head_message(parser_));
    switch (d.action) {
        case BodyDecision::Action::kStop:
            return -1;
        case BodyDecision::Action::kStream: {
            ctx.state_.streaming = true;
            ctx.state_.stream_limit = d.limit;
            const bool by_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
            if (by_length && d.limit != 0 && parser_.content_length > d.limit) {
                ctx.failing_ = "Content-Length over the route's max_body_size";
                return 413;
            }
            break;
        }
        case BodyDecision::Action::kBuffer:
            // The limit on_headers_complete left to the sink when the head hook is on.
            if ((parser_.flags & F_CONTENT_LENGTH) != 0 &&
                parser_.content_length > ctx.limits_.max_body_size) {
                ctx.failing_ = "Content-Length over max_body_size";
                return 413;
            }
            break;
    }
    return 0;
}

RequestParser::FeedResult RequestParser::reject(ParseContext& ctx, int status,
                                                const char* reason) noexcept {
    if (status == 413 && ctx.head_hook_ && ctx.state_.head_done && !ctx.state_.streaming &&
        ctx.sink_ != nullptr && ctx.sink_->on_body_refused(ctx.head_message(parser_), status))
        [[unlikely]] {
        // A collected (chunked) body went over the limit after its head was routed: the sink
        // answered the request instead (its head is still where the views point).
        ctx.failing_ = nullptr;
        drop_partial(ctx);
        ctx.scratch_.reset();
        FeedResult result;
        result.outcome = Outcome::kStopped;
        return result;
    }
    if (reason == nullptr) reason = ctx.failing_;
    ctx.error_reason_ = reason != nullptr ? reason : "";
    ctx.failing_ = nullptr;
    drop_partial(ctx);
    ctx.scratch_.reset();  // a de-chunked body of the rejected request
    FeedResult result;
    result.outcome = Outcome::kError;
    result.error_status = status;
    // Errors found once the head was parsed (413, 417, 505) know the method for sure.
    result.head_request = ctx.state_.head_done && parser_.method == HTTP_HEAD;
    return result;
}

RequestParser::FeedResult RequestParser::feed(ParseContext& ctx, const char* data, size_t len,
                                              RequestSink& sink, size_t readable_after) noexcept {
    parser_.data = &ctx;
    ctx.sink_ = &sink;
    const char* pos;
    const char* end;
    if (partial_) {
        // Continue a stitched message: append, then parse only the new bytes. What one request
        // may hold is bounded whatever its framing (a chunk-size line of endless leading zeros,
        // one-byte chunks): its head, its body, and as much again for chunk framing.
        if (partial_->bytes.size + len > max_stitched_bytes(ctx.limits_)) {
            drop_partial(ctx);
            llhttp_init(&parser_, HTTP_REQUEST, ParserCallbacks::settings());
            ctx.scratch_.reset();
            FeedResult result;
            result.outcome = Outcome::kError;
            result.error_status = 413;
            ctx.error_reason_ = "request larger than one spanning reads may be";
            return result;
        }
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

    ctx.feed_end_ = end;
    ctx.feed_begin_ = partial_ ? partial_->bytes.data : data;
    // Stitched bytes are followed by their block's room (at least Request::kBodyReadAhead once a
    // body is due), a read by what the caller says follows it.
    ctx.feed_limit_ =
        partial_ ? partial_->bytes.data + partial_->bytes.capacity : data + len + readable_after;
    if (ctx.state_.line != ParseContext::Line::kNone) [[unlikely]] {
        // The read before ended inside a line feed() reads itself.
        int status = 0;
        const char* next = read_line(ctx, pos, end, &status);
        if (status != 0) return reject(ctx, status);
        if (next == nullptr) return hold(ctx, end, pos);
        pos = next;
    }
    for (;;) {
        const llhttp_errno_t err = llhttp_execute(&parser_, pos, static_cast<size_t>(end - pos));
        if (err == HPE_OK) break;
        if (err == HPE_PAUSED) {
            const char* next = llhttp_get_error_pos(&parser_);
            llhttp_resume(&parser_);
            if (ctx.state_.pause != ParseContext::Pause::kNone) [[unlikely]] {
                const ParseContext::Pause why = ctx.state_.pause;
                ctx.state_.pause = ParseContext::Pause::kNone;
                pos = next;
                if (why == ParseContext::Pause::kHead) {
                    // The end of the head of a request with a body.
                    if (!empty_line_before(next)) {
                        return reject(ctx, 400, "head not ended by an empty line (CRLF)");
                    }
                    if (ctx.head_hook_ || ctx.state_.expect_continue) [[unlikely]] {
                        const int status = decide_body(ctx, sink);
                        if (status < 0) {
                            drop_partial(ctx);
                            FeedResult result;
                            result.outcome = Outcome::kStopped;
                            return result;
                        }
                        if (status != 0) return reject(ctx, status);
                    }
                    if ((parser_.flags & F_CHUNKED) == 0) continue;
                    ParserCallbacks::begin_chunk_line(ctx.state_);
                }
                // A line follows that is read here, not by llhttp.
                int status = 0;
                next = read_line(ctx, pos, end, &status);
                if (status != 0) return reject(ctx, status);
                // Incomplete: the line again, from its start (the scan so far is kept).
                if (next == nullptr) return hold(ctx, end, pos);
                pos = next;
                continue;
            }
            // The message is complete. One without a body ends with its head, a chunked one
            // with its trailer section: either way with an empty line, which llhttp does not
            // check (see crlf_before). The message's bytes are contiguous, so next[-4] is its.
            const bool streamed = ctx.state_.streaming;
            if (((ctx.body_.empty() && !streamed) || (parser_.flags & F_CHUNKED) != 0) &&
                !empty_line_before(next)) {
                return reject(ctx, 400,
                              "head or trailer section not ended by an empty line (CRLF)");
            }
            const bool go_on =
                streamed ? sink.on_body_end() : sink.on_request(ctx.finish_message(parser_));
            ctx.scratch_.reset();  // the response is queued: the handler's scratch goes, in O(1)
            ctx.clear_message();
            ctx.msg_start_ = next;
            pos = next;
            if (!go_on) {
                sink.on_unparsed(std::string_view(next, static_cast<size_t>(end - next)));
                drop_partial(ctx);
                FeedResult result;
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
        if (err == HPE_INVALID_METHOD) [[unlikely]] {
            // A method llhttp does not know: from its first byte (after any empty lines), the
            // request-line is read by method_line() until llhttp can go on with the target.
            const char* method = ctx.msg_start_;
            while (method < end && (*method == '\r' || *method == '\n'))
                ++method;
            ctx.msg_start_ = method;
            ctx.state_.line = ParseContext::Line::kMethod;
            ctx.state_.line_scanned = 0;
            pos = method;
            int status = 0;
            const char* next = read_line(ctx, pos, end, &status);
            if (status != 0) return reject(ctx, status);
            if (next == nullptr) return hold(ctx, end, pos);
            pos = next;
            continue;
        }
        if (err == HPE_PAUSED_H2_UPGRADE) {
            // The HTTP/2 connection preface ("PRI * HTTP/2.0 ... SM"): not HTTP/1.x.
            return reject(ctx, 505, "HTTP/2 connection preface");
        }
        // (A callback said why, or llhttp did: its reasons are static text too.)
        return reject(ctx, ctx.state_.error_status != 0 ? ctx.state_.error_status : 400,
                      ctx.failing_ != nullptr ? ctx.failing_ : llhttp_get_error_reason(&parser_));
    }
    return hold(ctx, end, end);
}

RequestParser::FeedResult RequestParser::hold(ParseContext& ctx, const char* end,
                                              const char* resume_at) noexcept {
    FeedResult result;
    if (!ctx.state_.in_message) {
        drop_partial(ctx);
        return result;
    }
    if (ctx.state_.expect_continue && ctx.state_.head_done && !ctx.state_.continue_reported) {
        ctx.state_.continue_reported = true;
        result.send_continue = true;
    }
    const bool parked = park(ctx, end, resume_at);
    ctx.scratch_.reset();  // a de-chunked body begun in this read now has its copy in the stitch
    if (!parked) {
        // No stitch state could be had (the pool is at its cap or out of memory): this request
        // cannot be continued. Tell the client, and close.
        init_llhttp();
        result.outcome = Outcome::kError;
        result.error_status = 503;
        ctx.error_reason_ = "no memory to hold a request spanning reads";
        result.send_continue = false;
    }
    return result;
}

}  // namespace nexure::net::http
