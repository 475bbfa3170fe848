// Static files served by the engine: a route answered from a directory on the worker's own
// io_uring ring, no thread and no blocking read.
//
//   nexure::net::Server server({.port = 8080});
//   files::mount(server, "/static", "/srv/www", {.max_age = 3600});   // GET /static/*
//   // or, for a route of one's own:
//   server.get("/assets/*", files::static_files("/srv/assets", {.immutable = true}));
//
// What a request gets (net/files/README.md has the whole list):
// - the path below the mount is decoded once and must stay below the root: "..", NUL (400 for a
//   malformed escape, else 404); the open is openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so
//   a symbolic link may point anywhere below the root and nowhere else (404);
// - Content-Type from the extension (net/files/mime.h), a strong ETag, Last-Modified,
//   Cache-Control ("public, max-age=N[, immutable]"), Accept-Ranges;
// - 304 (If-None-Match, else If-Modified-Since), 206 for one byte range (If-Range honoured),
//   416 with "Content-Range: bytes */<size>", HEAD with the GET's fields and no body;
// - a directory: its index file (index.html by default; 301 to the path with a trailing slash
//   first), or 404 — never a listing; a file without read permission: 403;
// - "<file>.br" / "<file>.gz" when they exist and Accept-Encoding prefers them, with
//   Content-Encoding and "Vary: Accept-Encoding".
//
// Threads: the handler runs on the workers like any handler; the root directory is opened once,
// here (blocking, at start-up), and shared read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/files/lookup.h"
#include "net/files/plan.h"
#include "net/http/response.h"
#include "net/later.h"
#include "net/server.h"

namespace nexure::files {

struct StaticOptions : LookupOptions {
    uint32_t max_age = 0;    // Cache-Control: public, max-age=<max_age>
    bool immutable = false;  // ..., immutable (for names that change with their content)
    // Bytes read per step of a large file (the transfer's buffer).
    size_t chunk_size = 256 * 1024;
    // Files up to this size are read whole and answered in one piece; larger ones stream.
    size_t inline_max = 64 * 1024;
};

// A handler serving files from `root` (a directory; std::invalid_argument naming it and the
// cause when it cannot be opened). On a route ending in "/*" the catch-all names the file; on
// any other route, the request's whole path does.
net::Handler static_files(std::string_view root, StaticOptions options = {});

// Registers static_files(root, options) for GET (and so HEAD) "<prefix>/*"; "/" or "" mounts at
// the top.
void mount(net::Server& server, std::string_view prefix, std::string_view root,
           StaticOptions options = {});

// ---- building blocks shared with the JavaScript bridge (napi/src/files.cc)

// The head of a file answer: `plan`'s status and the fields that go with it — Content-Type,
// Content-Encoding, Content-Range, Accept-Ranges, ETag, Last-Modified, Cache-Control, Vary — for
// the file `found` describes (a Lookup result with status 0). The body is the caller's.
void write_head(net::http::Response& res, const Lookup::Result& found, const Plan& plan,
                std::string_view etag, const StaticOptions& options);

// The whole decision for one request made with blocking syscalls, off the worker: the lookup,
// the plan and the head. For the JavaScript binding (reply.sendFile, inject()), which decides on
// the JS thread — so that the app's hooks see the status — and lets the worker send the body.
struct Decision {
    // 200, 206, 304, 416 (a file; `head` holds the answer's head), or 301 (a directory without
    // its trailing slash), 400 (a malformed path), 403, 404 or 500 (no file: the caller answers).
    int status = 404;
    std::shared_ptr<net::http::Response> head;
    std::string path;  // the file opened, relative to the root (a sibling's name for .br/.gz)
    uint64_t offset = 0;
    uint64_t length = 0;  // the body's bytes (0 for 304 and 416)
    std::string etag;
    int errno_value = 0;  // for 500
};
// `name`: a URL path below the mount (decoded once here) when `url`, else a file name relative to
// the root (not decoded). `accept_encoding`: the request's field values ("" for none).
Decision decide_blocking(const Root& root, std::string_view name, bool url,
                         const Conditions& conditions, std::string_view accept_encoding,
                         const StaticOptions& options);

// What the engine sends for a file answer whose head was decided elsewhere (the JavaScript
// bridge): the body [offset, offset + length) of `path` below `root`, re-opened on the worker.
struct FileBody {
    std::shared_ptr<const Root> root;
    std::string path;  // relative to the root, as Lookup::Result::path
    uint64_t offset = 0;
    uint64_t length = 0;
    std::string etag;  // the version the head describes: another one now answers 500
    bool head_only = false;
    bool follow_symlinks = true;
    size_t chunk_size = 256 * 1024;
    size_t inline_max = 64 * 1024;
};
// Answers `later` with `head` (its status and fields; Content-Length is the engine's) and the
// file's bytes, read on the worker's ring. A file that is gone or changed since the head was
// decided is answered 500 (logged): the head would be wrong. Worker thread only.
void answer_with_file(net::Later later, std::shared_ptr<net::http::Response> head, FileBody body);

}  // namespace nexure::files
