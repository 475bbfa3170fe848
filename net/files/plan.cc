#include "net/files/plan.h"

#include <cstdio>
#include <ctime>

#include "net/http/conditional.h"
#include "net/http/field_syntax.h"

namespace nexure::files {

namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool digits(std::string_view s, int* out) noexcept {
    int v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return !s.empty();
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// A decimal number of at most 19 digits (no overflow of uint64_t).
bool number(std::string_view s, uint64_t* out) noexcept {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
}

}  // namespace

std::string strong_etag(const FileFacts& f) {
    char buf[80];
    const uint64_t mtime_ns = static_cast<uint64_t>(f.mtime_sec) * 1'000'000'000ull + f.mtime_nsec;
    const int n = std::snprintf(
        buf, sizeof(buf), "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(f.ino),
        static_cast<unsigned long long>(f.size), static_cast<unsigned long long>(mtime_ns));
    return std::string(buf, static_cast<size_t>(n));
}

std::string http_date(int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const int n = std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return std::string(buf, static_cast<size_t>(n));
}

std::optional<int64_t> parse_http_date(std::string_view s) noexcept {
    s = net::http::trim_ows(s);
    // "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes, fixed positions.
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
        return std::nullopt;
    bool day_ok = false;
    for (const char* d : kDays)
        day_ok = day_ok || s.substr(0, 3) == d;
    int month = -1;
    for (int i = 0; i < 12; ++i)
        if (s.substr(8, 3) == kMonths[i]) month = i + 1;
    int day, year, hour, minute, second;
    if (!day_ok || month < 0 || !digits(s.substr(5, 2), &day) || !digits(s.substr(12, 4), &year) ||
        !digits(s.substr(17, 2), &hour) || !digits(s.substr(20, 2), &minute) ||
        !digits(s.substr(23, 2), &second))
        return std::nullopt;
    if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
           hour * 3600 + minute * 60 + second;
}

RangeResult parse_range(std::string_view value, uint64_t size) noexcept {
    value = net::http::trim_ows(value);
    // The unit is case-insensitive (RFC 9110 14.1).
    if (value.size() < 6) return {};
    for (size_t i = 0; i < 5; ++i) {
        const char c = value[i];
        const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != "bytes"[i]) return {};
    }
    std::string_view spec = net::http::trim_ows(value.substr(5));
    if (spec.empty() || spec.front() != '=') return {};
    spec = net::http::trim_ows(spec.substr(1));
    if (spec.find(',') != std::string_view::npos) return {};  // several ranges: the whole file
    const size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return {};
    const std::string_view a = net::http::trim_ows(spec.substr(0, dash));
    const std::string_view b = net::http::trim_ows(spec.substr(dash + 1));
    RangeResult r;
    if (a.empty()) {  // suffix: the last n bytes
        uint64_t n;
        if (!number(b, &n)) return {};
        if (n == 0 || size == 0) return {RangeResult::kUnsatisfiable, 0, 0};
        r.first = n >= size ? 0 : size - n;
        r.last = size - 1;
    } else {
        uint64_t first;
        if (!number(a, &first)) return {};
        uint64_t last = UINT64_MAX;
        if (!b.empty()) {
            if (!number(b, &last)) return {};
            if (last < first) return {};  // invalid: ignored (RFC 9110 14.1.1)
        }
        if (first >= size) return {RangeResult::kUnsatisfiable, 0, 0};
        r.first = first;
        r.last = last >= size ? size - 1 : last;
    }
    r.kind = RangeResult::kSatisfiable;
    return r;
}

Plan plan(const FileFacts& facts, std::string_view etag, const Conditions& c) noexcept {
    Plan p;
    p.length = facts.size;
    if (!c.if_none_match.empty()) {
        if (net::http::none_match(c.if_none_match, etag)) return {304, 0, 0};
    } else if (!c.if_modified_since.empty()) {
        const std::optional<int64_t> since = parse_http_date(c.if_modified_since);
        if (since && facts.mtime_sec <= *since) return {304, 0, 0};
    }
    if (!c.get || c.range.empty()) return p;
    if (!c.if_range.empty()) {
        const std::string_view v = net::http::trim_ows(c.if_range);
        if (v.starts_with('"') || v.starts_with("W/")) {
            if (v != etag) return p;  // strong comparison: a weak tag never matches
        } else {
            const std::optional<int64_t> date = parse_http_date(v);
            if (!date || *date != facts.mtime_sec) return p;
        }
    }
    const RangeResult r = parse_range(c.range, facts.size);
    if (r.kind == RangeResult::kUnsatisfiable) return {416, 0, 0};
    if (r.kind == RangeResult::kSatisfiable) return {206, r.first, r.last - r.first + 1};
    return p;
}

}  // namespace nexure::files
