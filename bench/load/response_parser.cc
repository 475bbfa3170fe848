#include "bench/load/response_parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace nexure::load {

namespace {

// Byte classes for the head: token characters (field names, RFC 9110 5.6.2) and bytes a field
// value may not hold (controls other than HTAB, and DEL).
constexpr uint8_t kToken = 1;
constexpr uint8_t kBadInValue = 2;
constexpr std::array<uint8_t, 256> kClass = [] {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        const bool alnum =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (alnum || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                         std::string_view::npos) {
            t[c] |= kToken;
        }
        if ((c < ' ' && c != '\t') || c == 127) t[c] |= kBadInValue;
    }
    return t;
}();

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const auto x = static_cast<unsigned char>(a[i]);
        const auto y = static_cast<unsigned char>(b[i]);
        if ((x | 0x20) != (y | 0x20) || ((x | 0x20) < 'a' && x != y)) return false;
    }
    return true;
}

std::string_view trim(std::string_view v) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}

// Decimal digits only, no sign, no overflow.
bool parse_decimal(std::string_view v, uint64_t* out) noexcept {
    if (v.empty() || v.size() > 19) return false;
    uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = n;
    return true;
}

// A chunk size: hex digits, then optionally ";" and extensions (not checked further here).
bool parse_chunk_size(std::string_view line, uint64_t* out) noexcept {
    const size_t semi = line.find(';');
    std::string_view digits = line.substr(0, semi);
    while (!digits.empty() && (digits.back() == ' ' || digits.back() == '\t'))
        digits.remove_suffix(1);
    if (digits.empty() || digits.size() > 15) return false;
    uint64_t n = 0;
    for (char c : digits) {
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (c | 0x20) - 'a' + 10;
        } else {
            return false;
        }
        n = n * 16 + static_cast<uint64_t>(d);
    }
    *out = n;
    return true;
}

constexpr std::string_view kEndOfHead = "\r\n\r\n";

// The first byte in [p, end) that a field value cannot hold (a control other than HTAB, or DEL,
// which includes the CR that ends the value), or `end`. Values are most of a head's bytes (dates,
// types, the reason phrase), so this looks at 16 at a time where it can.
const char* find_value_end(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
    const __m128i max_control = _mm_set1_epi8(0x1f);
    const __m128i tab = _mm_set1_epi8('\t');
    const __m128i del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(x, max_control), x);  // x <= 0x1f
        const __m128i special =
            _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(x, tab), control), _mm_cmpeq_epi8(x, del));
        if (const int mask = _mm_movemask_epi8(special); mask != 0) {
            return p + __builtin_ctz(static_cast<unsigned>(mask));
        }
        p += 16;
    }
#endif
    while (p < end && !(kClass[static_cast<unsigned char>(*p)] & kBadInValue))
        ++p;
    return p;
}

}  // namespace

bool ResponseParser::fail(std::string why) {
    error_ = std::move(why);
    return false;
}

void ResponseParser::complete(ResponseSink& sink) {
    sink.on_response(status_, bytes_);
    bytes_ = 0;
    state_ = State::kHead;
}

size_t ResponseParser::parse_head(const char* p, const char* end) {
    // One pass over the bytes: each line is checked as it is found, so that a complete head costs
    // one look at each byte. Nothing is kept until the head is complete.
    const char* q = p;
    auto need = [&q, end](size_t n) { return static_cast<size_t>(end - q) < n; };
    // Scans a value (or reason) up to its CR; false when the bytes run out. Sets *bad for a
    // control byte or a CR not followed by LF.
    auto scan_to_crlf = [&q, end](bool* bad) {
        q = find_value_end(q, end);
        if (q == end) return false;
        if (*q != '\r') {
            *bad = true;
            return true;
        }
        if (q + 1 == end) return false;
        *bad = q[1] != '\n';
        q += 2;
        return true;
    };

    // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF.
    if (need(13)) return 0;
    if (std::memcmp(q, "HTTP/1.", 7) != 0 || q[7] < '0' || q[7] > '9' || q[8] != ' ' ||
        q[9] < '1' || q[9] > '9' || q[10] < '0' || q[10] > '9' || q[11] < '0' || q[11] > '9' ||
        (q[12] != ' ' && q[12] != '\r')) {
        fail("malformed status line: '" + std::string(q, std::min<size_t>(80, end - q)) + "'");
        return 0;
    }
    const int status = (q[9] - '0') * 100 + (q[10] - '0') * 10 + (q[11] - '0');
    const bool http10 = q[7] == '0';
    q += 12;
    bool bad = false;
    if (!scan_to_crlf(&bad)) return 0;
    if (bad) {
        fail("malformed status line (a control byte, or CR without LF)");
        return 0;
    }

    bool has_length = false;
    bool chunked = false;
    bool close = false;
    bool keep_alive = false;
    uint64_t length = 0;
    for (;;) {
        if (need(2)) return 0;
        if (q[0] == '\r') {
            if (q[1] != '\n') {
                fail("CR without LF at the end of the response head");
                return 0;
            }
            q += 2;
            break;
        }
        const char* name = q;
        while (q < end && (kClass[static_cast<unsigned char>(*q)] & kToken))
            ++q;
        if (q == end) return 0;
        if (q == name || *q != ':') {
            fail("malformed header field: '" + std::string(name, std::min<size_t>(80, end - name)) +
                 "'");
            return 0;
        }
        const std::string_view field_name(name, static_cast<size_t>(q - name));
        const char* value = ++q;
        if (!scan_to_crlf(&bad)) return 0;
        if (bad) {
            fail("malformed value of " + std::string(field_name) +
                 " (a control byte, or CR without LF)");
            return 0;
        }
        // Only two names matter for framing; most fields are ruled out by their length.
        if (field_name.size() == 14 && iequals(field_name, "content-length")) {
            const std::string_view v =
                trim(std::string_view(value, static_cast<size_t>(q - 2 - value)));
            uint64_t n = 0;
            if (!parse_decimal(v, &n) || (has_length && n != length)) {
                fail("invalid Content-Length: '" + std::string(v) + "'");
                return 0;
            }
            has_length = true;
            length = n;
        } else if (field_name.size() == 17 && iequals(field_name, "transfer-encoding")) {
            const std::string_view v =
                trim(std::string_view(value, static_cast<size_t>(q - 2 - value)));
            const size_t comma = v.rfind(',');
            if (!iequals(trim(comma == std::string_view::npos ? v : v.substr(comma + 1)),
                         "chunked")) {
                fail("Transfer-Encoding without chunked last: '" + std::string(v) + "'");
                return 0;
            }
            chunked = true;
        } else if (field_name.size() == 10 && iequals(field_name, "connection")) {
            // A comma-separated list of options: only close and keep-alive matter here.
            std::string_view v(value, static_cast<size_t>(q - 2 - value));
            while (!v.empty()) {
                const size_t comma = v.find(',');
                const std::string_view option = trim(v.substr(0, comma));
                if (iequals(option, "close")) close = true;
                if (iequals(option, "keep-alive")) keep_alive = true;
                v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
            }
        }
    }
    if (chunked && has_length) {
        fail("both Content-Length and Transfer-Encoding");
        return 0;
    }

    // RFC 9112 6.3: no body for HEAD, 1xx, 204 and 304; then chunked; then Content-Length; then
    // until the connection closes.
    status_ = status;
    closes_ = close || (http10 && !keep_alive);
    if (head_ || status < 200 || status == 204 || status == 304) {
        remaining_ = 0;
        state_ = State::kBody;
    } else if (chunked) {
        state_ = State::kChunkSize;
    } else if (has_length) {
        remaining_ = length;
        state_ = State::kBody;
    } else {
        state_ = State::kUntilEof;
    }
    return static_cast<size_t>(q - p);
}

bool ResponseParser::take_line(const char** p, const char* end, std::string_view* line, bool* ok) {
    *ok = true;
    const char* nl = static_cast<const char*>(std::memchr(*p, '\n', static_cast<size_t>(end - *p)));
    if (nl == nullptr) {
        partial_.append(*p, end);
        bytes_ += static_cast<uint64_t>(end - *p);
        *p = end;
        if (partial_.size() > kMaxLine) *ok = fail("a chunk-size or trailer line is too long");
        return false;
    }
    const auto n = static_cast<size_t>(nl + 1 - *p);
    bytes_ += n;
    if (partial_.empty()) {
        *line = std::string_view(*p, n);
    } else {
        partial_.append(*p, n);
        *line = partial_;
    }
    *p = nl + 1;
    if (line->size() < 2 || (*line)[line->size() - 2] != '\r') {
        *ok = fail("a line does not end in CRLF");
        return false;
    }
    *line = line->substr(0, line->size() - 2);
    return true;
}

bool ResponseParser::feed(const char* data, size_t len, ResponseSink& sink) {
    if (!error_.empty()) return false;
    const char* p = data;
    const char* const end = data + len;
    while (p < end) {
        switch (state_) {
            case State::kHead: {
                if (partial_.empty()) {
                    // The common case: the whole head is in this read, parsed in place.
                    const size_t n = parse_head(p, end);
                    if (!error_.empty()) return false;
                    if (n == 0) {
                        if (static_cast<size_t>(end - p) > kMaxHead) {
                            return fail("response head too long");
                        }
                        partial_.assign(p, end);
                        p = end;
                        break;
                    }
                    if (n > kMaxHead) return fail("response head too long");
                    bytes_ = n;
                    p += n;
                } else {
                    // The head began in an earlier read: join, and parse once its end is here
                    // (looking for the end only where it can be).
                    const size_t before = partial_.size();
                    const size_t take =
                        std::min(static_cast<size_t>(end - p), kMaxHead + 4 - before);
                    partial_.append(p, take);
                    const size_t from = before >= 3 ? before - 3 : 0;
                    const size_t at = partial_.find(kEndOfHead, from);
                    if (at == std::string::npos) {
                        if (partial_.size() > kMaxHead) return fail("response head too long");
                        p += take;
                        break;
                    }
                    const size_t n = parse_head(partial_.data(), partial_.data() + at + 4);
                    if (!error_.empty()) return false;
                    if (n != at + kEndOfHead.size()) {
                        return fail("a malformed response head");
                    }
                    bytes_ = n;
                    p += n - before;
                    partial_.clear();
                }
                if (state_ == State::kBody && remaining_ == 0) complete(sink);
                break;
            }
            case State::kBody:
            case State::kChunkData: {
                const uint64_t n = std::min<uint64_t>(remaining_, static_cast<uint64_t>(end - p));
                p += n;
                remaining_ -= n;
                bytes_ += n;
                if (remaining_ == 0) {
                    if (state_ == State::kBody) {
                        complete(sink);
                    } else {
                        state_ = State::kChunkEnd;
                        remaining_ = 2;
                    }
                }
                break;
            }
            case State::kChunkEnd: {
                // The CRLF after a chunk's data, possibly split across reads.
                const char expected = remaining_ == 2 ? '\r' : '\n';
                if (*p != expected) return fail("chunk data not followed by CRLF");
                ++p;
                ++bytes_;
                if (--remaining_ == 0) state_ = State::kChunkSize;
                break;
            }
            case State::kChunkSize: {
                std::string_view line;
                bool ok = true;
                if (!take_line(&p, end, &line, &ok)) {
                    if (!ok) return false;
                    break;
                }
                uint64_t size = 0;
                if (!parse_chunk_size(line, &size)) {
                    return fail("malformed chunk size: '" + std::string(line.substr(0, 40)) + "'");
                }
                partial_.clear();
                if (size == 0) {
                    state_ = State::kTrailers;
                } else {
                    remaining_ = size;
                    state_ = State::kChunkData;
                }
                break;
            }
            case State::kTrailers: {
                std::string_view line;
                bool ok = true;
                if (!take_line(&p, end, &line, &ok)) {
                    if (!ok) return false;
                    break;
                }
                const bool last = line.empty();
                partial_.clear();
                if (last) complete(sink);
                break;
            }
            case State::kUntilEof:
                bytes_ += static_cast<uint64_t>(end - p);
                p = end;
                break;
        }
    }
    return true;
}

bool ResponseParser::finish(ResponseSink& sink) {
    if (!error_.empty()) return false;
    if (state_ == State::kUntilEof) {
        complete(sink);
        return true;
    }
    if (idle()) return true;
    return fail("the connection closed inside a response");
}

}  // namespace nexure::load
