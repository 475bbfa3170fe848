// JSON request bodies, parsed with simdjson's On-Demand API (target nexure::json, its own CMake
// target so that a consumer of nexure::net alone needs no simdjson; net/json/README.md).
//
//   server.post("/echo-json", [](const Request& req, Response& res) {
//       nexure::net::json::Body body(req);
//       nexure::net::http::JsonWriter out(res);
//       if (auto err = body.write_to(out)) nexure::net::json::write_error(res, err);  // 400
//   });
//
// No copy when the memory after the body allows it: simdjson loads up to SIMDJSON_PADDING (64)
// bytes past the end of its input, and Request::body_padding() says how many bytes after the
// body are readable memory of the buffer it lies in (a receive buffer with room after the read,
// the stitched bytes of a request that spanned reads, the block a chunked body was de-chunked
// into — the parser keeps 64 bytes of room after the last two). A body with less room — at the
// very end of a full receive buffer — is copied once into the thread's padded buffer.
//
// Threads: any thread, one Body at a time per thread. Each thread has one simdjson parser (and
// one padded buffer), made on first use and reused for every body: no allocation per request once
// they have grown to the bodies seen, up to 64 KiB of JSON; a larger body grows them for its own
// parse and they are given back when its Body ends. A second Body on a thread while one is alive
// fails with PARSER_IN_USE (a handler bug: answer 500).
//
// Lifetime: a Body reads the request's bytes, so it lives in the handler call (on its stack),
// like the Request's views; strings read from document() live as long as the Body.
#pragma once

// simdjson's On-Demand types live in a namespace named after the instruction set the including
// code is compiled for (simdjson::fallback, simdjson::haswell, ...). The library and every user
// of these headers must agree on it, whatever their -march: nexure::json pins it (a public
// definition, SIMDJSON_BUILTIN_IMPLEMENTATION=fallback). That part only walks the structural index;
// building the index (simdjson's first pass) still picks the best kernel for the CPU at run time.
#include <simdjson.h>

#include <cstddef>
#include <string_view>

#include "net/http/json_writer.h"
#include "net/http/request.h"
#include "net/http/response.h"

namespace nexure::net::json {

namespace detail {
template <typename Out>
class Walk;  // body.cc: validate() and write_to()
}  // namespace detail

// Why a body is not the JSON document it should be, and where: `position` is the offset into the
// body (not into a copy) of the token where parsing stopped — the body's size when the document
// ended too early.
struct Error {
    simdjson::error_code code = simdjson::SUCCESS;
    size_t position = 0;

    explicit operator bool() const noexcept { return code != simdjson::SUCCESS; }
    // simdjson's description of `code` (static text).
    const char* message() const noexcept { return simdjson::error_message(code); }
    // The document is at fault (answer 400), rather than the server: out of memory, or a second
    // Body on the thread (MEMALLOC, PARSER_IN_USE: 500).
    bool bad_document() const noexcept {
        return code != simdjson::MEMALLOC && code != simdjson::PARSER_IN_USE;
    }
};

class Body {
  public:
    // The deepest nesting of objects and arrays validate() and write_to() accept: JsonWriter's.
    static constexpr unsigned kMaxDepth = http::JsonWriter::kMaxDepth;

    // Parses the request's body: the whole body, so not for a route that streams it (its body()
    // is empty: EMPTY). Whether it is JSON by its Content-Type is the handler's call
    // (has_json_content_type()).
    explicit Body(const http::Request& req) noexcept : Body(req.body(), req.body_padding()) {}
    // Parses `text`, of which `readable_after` bytes after the end may be read; both must stay
    // valid while the Body lives.
    Body(std::string_view text, size_t readable_after) noexcept;
    ~Body();
    Body(const Body&) = delete;
    Body& operator=(const Body&) = delete;

    // simdjson's first pass over the whole text found nothing wrong. It checks UTF-8, strings
    // (closed, no raw control characters) and that there is a value; the structure and the
    // values are checked as they are read (validate(), write_to(), or document()).
    bool ok() const noexcept { return !error_; }
    // The first pass's error, with its position.
    const Error& error() const noexcept { return error_; }

    // The On-Demand document, to read what the handler needs (only when ok()): e.g.
    //   std::string_view name;
    //   if (auto code = body.document()["name"].get_string().get(name)) ... body.locate(code)
    // Forward-only, as simdjson's On-Demand is; values the reading skips are not validated
    // (validate() first when that matters: it leaves the document rewound).
    simdjson::ondemand::document& document() noexcept { return doc_; }
    // An error met while reading document(), with the position where the reading stopped.
    Error locate(simdjson::error_code code) noexcept;

    // Reads the whole document: every value checked (numbers by the JSON grammar, any magnitude;
    // strings unescaped), at most kMaxDepth levels, and nothing after the value. Rewinds the
    // document before and after (values read from it before are invalidated).
    Error validate() noexcept;
    // Like validate(), writing the document into `out` as it goes: strings re-escaped by the
    // writer, numbers as they were written (big integers and long decimals keep their digits),
    // no insignificant whitespace. On error `out` is abandoned (JsonWriter::abandon()) with part
    // of the document written; write_error() replaces it.
    Error write_to(http::JsonWriter& out) noexcept;

    // The bytes simdjson reads: the body itself, or its padded copy (text().data() says which;
    // in_place() is that comparison).
    std::string_view text() const noexcept { return text_; }
    bool in_place() const noexcept { return text_.data() == source_.data(); }

  private:
    template <typename Out>
    friend class detail::Walk;

    std::string_view source_;  // the caller's bytes
    std::string_view text_;    // what simdjson reads: source_ or the thread's padded copy
    simdjson::ondemand::document doc_;
    Error error_;
    bool holds_parser_ = false;  // this Body has the thread's parser (released at the end)
    bool iterated_ = false;      // doc_ is a document (the first pass succeeded)
};

// Answers an error: 400 with {"error":"invalid JSON","message":...,"position":N} for a bad
// document (replacing whatever body was written), or a 500 (Response::fail) for the others.
void write_error(http::Response& res, const Error& error) noexcept;

// Whether the request says its body is JSON: a Content-Type of application/json or of any
// "+json" subtype (application/problem+json), parameters and letter case aside.
bool has_json_content_type(const http::Request& req) noexcept;

}  // namespace nexure::net::json
