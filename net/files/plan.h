// What a request for a file gets, decided from the file's identity and the request's conditional
// and Range fields (RFC 9110 13 and 14): 200, 206 with one range, 304 or 416 — and the validators
// that go with it (a strong ETag, Last-Modified). Pure functions, any thread: the same rules serve
// the engine's static routes and the JavaScript bridge's file answers (and inject(), through the
// binding).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nexure::files {

// What identifies one version of a file (from statx).
struct FileFacts {
    uint64_t size = 0;
    int64_t mtime_sec = 0;
    uint32_t mtime_nsec = 0;
    uint64_t ino = 0;
};

// The request fields that decide the answer, copied out of the request (they outlive its views).
// Several fields of one name are joined with ", ".
struct Conditions {
    bool get = true;  // GET (Range applies); false for HEAD
    std::string if_none_match;
    std::string if_modified_since;
    std::string range;
    std::string if_range;
};

struct Plan {
    int status = 200;     // 200, 206, 304 or 416
    uint64_t offset = 0;  // the first byte sent (206)
    uint64_t length = 0;  // bytes of body (the file's size for 200; 0 for 304 and 416)
};

// A strong entity-tag from inode, size and modification time (nanoseconds): "\"<ino>-<size>-<mtime>\""
// in hex. Any change of content through a write changes mtime; a replaced file changes the inode.
std::string strong_etag(const FileFacts& facts);

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for `seconds` since the epoch.
std::string http_date(int64_t seconds);
// The seconds an IMF-fixdate names; nullopt for anything else (the obsolete RFC 850 and asctime
// forms included: a date that cannot be read is ignored, RFC 9110 13.1.3).
std::optional<int64_t> parse_http_date(std::string_view text) noexcept;

// One byte range of a `size`-byte file, from a Range field's value.
struct RangeResult {
    enum Kind {
        kIgnored,        // no Range, another unit, a malformed value or several ranges: send it all
        kSatisfiable,    // bytes first..last (inclusive)
        kUnsatisfiable,  // 416 with "Content-Range: bytes */<size>"
    } kind = kIgnored;
    uint64_t first = 0;
    uint64_t last = 0;
};
// "bytes=a-b", "bytes=a-" (to the end), "bytes=-n" (the last n bytes); `last` beyond the end is
// cut to the end. Several ranges ("bytes=0-1,5-6") are ignored (200 with the whole file: a
// multipart/byteranges answer is not made); a first byte at or past the end, or a suffix of 0,
// is unsatisfiable (as is every range of an empty file).
RangeResult parse_range(std::string_view value, uint64_t size) noexcept;

// The answer, in RFC 9110's order: If-None-Match (304 for GET/HEAD when it matches; when present,
// If-Modified-Since is not looked at), else If-Modified-Since (304 when the file is not newer),
// then for GET a Range — honoured only when If-Range (if any) still names this version (the
// strong ETag, or exactly the Last-Modified date) — 206 or 416; otherwise 200.
Plan plan(const FileFacts& facts, std::string_view etag, const Conditions& conditions) noexcept;

}  // namespace nexure::files
