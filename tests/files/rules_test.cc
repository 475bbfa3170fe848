// The pure rules of net/files/: request paths, content types, validators, conditional requests
// and byte ranges.
#include <gtest/gtest.h>

#include "net/files/mime.h"
#include "net/files/path.h"
#include "net/files/plan.h"

namespace nexure::files {
namespace {

PathVerdict rel(std::string_view raw, std::string* out = nullptr, bool* slash = nullptr) {
    RelativePath r;
    const PathVerdict v = relative_path(raw, &r);
    if (out) *out = r.path;
    if (slash) *slash = r.trailing_slash;
    return v;
}

TEST(FilesPath, DecodesOnceAndNormalises) {
    std::string p;
    bool slash = false;
    EXPECT_EQ(rel("/a/b.txt", &p), PathVerdict::kOk);
    EXPECT_EQ(p, "a/b.txt");
    EXPECT_EQ(rel("a//./b%20c.txt", &p), PathVerdict::kOk);
    EXPECT_EQ(p, "a/b c.txt");
    EXPECT_EQ(rel("", &p, &slash), PathVerdict::kOk);
    EXPECT_EQ(p, "");
    EXPECT_EQ(rel("dir/", &p, &slash), PathVerdict::kOk);
    EXPECT_EQ(p, "dir");
    EXPECT_TRUE(slash);
    // Double-encoded: decoded once, "%2e%2e" stays a file name of six characters.
    EXPECT_EQ(rel("%252e%252e/etc/passwd", &p), PathVerdict::kOk);
    EXPECT_EQ(p, "%2e%2e/etc/passwd");
}

TEST(FilesPath, RefusesTraversalAndNul) {
    EXPECT_EQ(rel("../etc/passwd"), PathVerdict::kRefused);
    EXPECT_EQ(rel("a/../../etc/passwd"), PathVerdict::kRefused);
    EXPECT_EQ(rel("a/.."), PathVerdict::kRefused);
    EXPECT_EQ(rel("%2e%2e/etc/passwd"), PathVerdict::kRefused);
    EXPECT_EQ(rel("%2E%2E%2Fetc%2Fpasswd"), PathVerdict::kRefused);
    EXPECT_EQ(rel("..%2f..%2fetc/passwd"), PathVerdict::kRefused);
    EXPECT_EQ(rel(".%2e/x"), PathVerdict::kRefused);
    EXPECT_EQ(rel("a.txt%00.png"), PathVerdict::kRefused);
    EXPECT_EQ(rel("a%"), PathVerdict::kMalformed);
    EXPECT_EQ(rel("a%zz"), PathVerdict::kMalformed);
}

TEST(FilesMime, TypesByExtension) {
    EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(content_type_for("a/b/APP.JS"), "text/javascript; charset=utf-8");
    EXPECT_EQ(content_type_for("x.css"), "text/css; charset=utf-8");
    EXPECT_EQ(content_type_for("logo.png"), "image/png");
    EXPECT_EQ(content_type_for("f.woff2"), "font/woff2");
    EXPECT_EQ(content_type_for("m.wasm"), "application/wasm");
    EXPECT_EQ(content_type_for("data.json"), "application/json; charset=utf-8");
    EXPECT_EQ(content_type_for("README"), "application/octet-stream");
    EXPECT_EQ(content_type_for("a.unknownext"), "application/octet-stream");
    EXPECT_EQ(content_type_for("dir.d/file"), "application/octet-stream");
    EXPECT_EQ(content_type_for("trailing."), "application/octet-stream");
}

TEST(FilesPlan, HttpDatesRoundTrip) {
    EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date(http_date(1'800'000'000)), 1'800'000'000);
    EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));  // RFC 850: ignored
    EXPECT_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994"));        // asctime: ignored
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"));
    EXPECT_FALSE(parse_http_date("garbage"));
}

TEST(FilesPlan, StrongEtagChangesWithEachPart) {
    const FileFacts f{100, 1000, 5, 42};
    const std::string e = strong_etag(f);
    EXPECT_EQ(e.front(), '"');
    EXPECT_EQ(e.back(), '"');
    EXPECT_NE(e, strong_etag({101, 1000, 5, 42}));
    EXPECT_NE(e, strong_etag({100, 1000, 6, 42}));
    EXPECT_NE(e, strong_etag({100, 1000, 5, 43}));
}

TEST(FilesPlan, Ranges) {
    using K = RangeResult;
    auto r = parse_range("bytes=0-9", 100);
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.last, 9u);
    r = parse_range("bytes=90-", 100);  // open
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.first, 90u);
    EXPECT_EQ(r.last, 99u);
    r = parse_range("bytes=-10", 100);  // suffix
    EXPECT_EQ(r.first, 90u);
    EXPECT_EQ(r.last, 99u);
    r = parse_range("bytes=-1000", 100);  // suffix longer than the file: all of it
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(r.first, 0u);
    r = parse_range("bytes=50-5000", 100);  // last byte past the end: cut
    EXPECT_EQ(r.last, 99u);
    r = parse_range("Bytes = 1-2", 100);
    EXPECT_EQ(r.kind, K::kSatisfiable);
    EXPECT_EQ(parse_range("bytes=100-", 100).kind, K::kUnsatisfiable);  // past the end
    EXPECT_EQ(parse_range("bytes=-0", 100).kind, K::kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=0-0", 0).kind, K::kUnsatisfiable);  // an empty file
    EXPECT_EQ(parse_range("bytes=0-1,5-6", 100).kind, K::kIgnored);  // several: whole file
    EXPECT_EQ(parse_range("bytes=5-1", 100).kind, K::kIgnored);      // invalid
    EXPECT_EQ(parse_range("items=0-1", 100).kind, K::kIgnored);
    EXPECT_EQ(parse_range("bytes=a-b", 100).kind, K::kIgnored);
    EXPECT_EQ(parse_range("bytes=99999999999999999999-", 100).kind, K::kIgnored);
}

TEST(FilesPlan, ConditionalOrder) {
    const FileFacts f{100, 1'800'000'000, 0, 7};
    const std::string etag = strong_etag(f);
    Conditions c;
    EXPECT_EQ(plan(f, etag, c).status, 200);
    EXPECT_EQ(plan(f, etag, c).length, 100u);

    c.if_none_match = etag;
    EXPECT_EQ(plan(f, etag, c).status, 304);
    c.if_none_match = "W/" + etag;  // weak comparison
    EXPECT_EQ(plan(f, etag, c).status, 304);
    c.if_none_match = "\"other\", " + etag;
    EXPECT_EQ(plan(f, etag, c).status, 304);
    c.if_none_match = "*";
    EXPECT_EQ(plan(f, etag, c).status, 304);

    // If-None-Match present and not matching: If-Modified-Since is not looked at.
    c.if_none_match = "\"other\"";
    c.if_modified_since = http_date(f.mtime_sec + 10);
    EXPECT_EQ(plan(f, etag, c).status, 200);
    c.if_none_match.clear();
    EXPECT_EQ(plan(f, etag, c).status, 304);
    c.if_modified_since = http_date(f.mtime_sec);
    EXPECT_EQ(plan(f, etag, c).status, 304);
    c.if_modified_since = http_date(f.mtime_sec - 1);
    EXPECT_EQ(plan(f, etag, c).status, 200);
    c.if_modified_since = "not a date";
    EXPECT_EQ(plan(f, etag, c).status, 200);
}

TEST(FilesPlan, RangeWithIfRange) {
    const FileFacts f{100, 1'800'000'000, 0, 7};
    const std::string etag = strong_etag(f);
    Conditions c;
    c.range = "bytes=10-19";
    Plan p = plan(f, etag, c);
    EXPECT_EQ(p.status, 206);
    EXPECT_EQ(p.offset, 10u);
    EXPECT_EQ(p.length, 10u);
    c.if_range = etag;
    EXPECT_EQ(plan(f, etag, c).status, 206);
    c.if_range = "\"stale\"";
    EXPECT_EQ(plan(f, etag, c).status, 200);
    c.if_range = "W/" + etag;  // a weak tag never satisfies If-Range
    EXPECT_EQ(plan(f, etag, c).status, 200);
    c.if_range = http_date(f.mtime_sec);
    EXPECT_EQ(plan(f, etag, c).status, 206);
    c.if_range = http_date(f.mtime_sec - 60);
    EXPECT_EQ(plan(f, etag, c).status, 200);
    c.if_range.clear();
    c.range = "bytes=500-";
    EXPECT_EQ(plan(f, etag, c).status, 416);
    c.get = false;  // HEAD: Range does not apply
    EXPECT_EQ(plan(f, etag, c).status, 200);
    // A 304 wins over the range.
    c.get = true;
    c.if_none_match = etag;
    EXPECT_EQ(plan(f, etag, c).status, 304);
}

}  // namespace
}  // namespace nexure::files
