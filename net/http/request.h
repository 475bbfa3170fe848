// Request: a parsed HTTP/1.1 request as views into the bytes it arrived in.
//
// Lifetime: every string_view here (target, headers, params, body) borrows the worker's receive
// buffer, the connection's stitch region or the request's region (a de-chunked body), and is
// valid only while the handler that received the Request runs. Copy what must outlive the call.
// Owned by one worker; read on its thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "alloc/region.h"
#include "net/http/endpoint.h"
#include "net/http/form.h"
#include "net/http/method.h"

namespace nexure::net::router {
class Router;
}

namespace nexure::net::http {

struct Header {
    std::string_view name;   // as received (case preserved)
    std::string_view value;  // leading/trailing whitespace removed by the parser
};

struct Param {
    std::string_view name;   // from the route pattern (":id" -> "id")
    std::string_view value;  // raw path bytes, not percent-decoded
};

// ASCII case-insensitive comparison, for header names. Inline: most calls compare a name with
// a constant of another length and end at the size check.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        const unsigned char x = static_cast<unsigned char>(a[i]);
        const unsigned char y = static_cast<unsigned char>(b[i]);
        if (x == y) continue;
        if ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z') return false;
    }
    return true;
}

// ASCII case-insensitive prefix and suffix tests (media types, ETag's "W/").
inline bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}
inline bool iends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace nexure::net::http
namespace nexure::net {
class BodyReader;
}
namespace nexure::net::http {

// What lets a handler of a route that streams its body take that body (Request::body_stream()):
// set by the connection for the duration of the handler call.
class BodySource {
  public:
    virtual BodyReader take_body() noexcept = 0;

  protected:
    ~BodySource() = default;
};

// What answers Request::abandoned() for a request kept beyond its handler call (a coroutine
// handler that suspended, net/coro.h): whether the answer it owes can still be delivered.
class AnswerWatch {
  public:
    virtual bool abandoned() const noexcept = 0;

  protected:
    ~AnswerWatch() = default;
};

// Where a request's connection is, so that Request::remote_address() and local_address() can
// ask for its ends lazily (implemented by the worker, which caches them per connection).
class AddressBook {
  public:
    // The remote and local ends of connection (slot, generation); false (both kNone) when that
    // connection is gone.
    virtual bool endpoints(uint32_t slot, uint32_t generation, Endpoint* remote,
                           Endpoint* local) const noexcept = 0;

  protected:
    ~AddressBook() = default;
};

class Request {
  public:
    static constexpr unsigned kMaxParams = 16;
    // The least body_padding() of a body that spanned reads or was de-chunked (the parser keeps
    // this much room after such bytes): simdjson's SIMDJSON_PADDING, which net/json/ checks.
    static constexpr size_t kBodyReadAhead = 64;

    Method method() const noexcept { return method_; }
    std::string_view method_name() const noexcept { return method_name_; }
    // The request-target exactly as sent ("/users/42?x=1").
    std::string_view target() const noexcept { return target_; }
    // The target up to '?' (not percent-decoded). For an absolute-form target
    // ("http://host/p?q", RFC 9112 3.2.2) the path part only ("/p"; "/" when it is empty).
    std::string_view path() const noexcept { return path_; }
    // The part after '?', without it; empty when there is none.
    std::string_view query() const noexcept { return query_; }
    // The raw value of the first `name=value` pair in the query; "" for `name` alone.
    std::optional<std::string_view> query_param(std::string_view name) const noexcept;
    // The query's fields decoded ('+' and %XX), repeated names included (net/http/form.h):
    // req.query_fields().get("q"), .get_all("tag", &tags), or next() over every pair.
    FormFields query_fields() const noexcept { return FormFields(query_, scratch_); }
    // The fields of an application/x-www-form-urlencoded body, decoded; empty for another
    // Content-Type (or no body).
    FormFields form_fields() const noexcept;

    // The client's end of the connection (address and port, IPv4 or IPv6) and the server's own
    // end (the address the client connected to). Asked of the kernel once per connection, the
    // first time a request of it wants them (getpeername/getsockname, cached by the worker), so
    // requests that do not read them cost nothing. Family::kNone when unknown: a Request not
    // made by the engine, or one kept beyond its handler (a coroutine) whose connection closed.
    // On the request's worker thread only.
    Endpoint remote_address() const noexcept;
    Endpoint local_address() const noexcept;
    // Both at once (either pointer may be null).
    void addresses(Endpoint* remote, Endpoint* local) const noexcept;
    // The engine says which connection the request came on (per request, by the connection).
    void set_connection(const AddressBook* book, uint32_t slot, uint32_t generation) noexcept {
        address_book_ = book;
        connection_slot_ = slot;
        connection_generation_ = generation;
    }

    unsigned version_major() const noexcept { return version_major_; }
    unsigned version_minor() const noexcept { return version_minor_; }
    // Whether the connection stays open after this request (HTTP/1.1 default, 1.0 opt-in).
    bool keep_alive() const noexcept { return keep_alive_; }

    // First header with this name (case-insensitive).
    std::optional<std::string_view> header(std::string_view name) const noexcept;
    std::span<const Header> headers() const noexcept { return {headers_, header_count_}; }

    // Value of route parameter `name` as it appears in the path (not percent-decoded); "" when
    // the route has no such parameter. A catch-all's value is named "*".
    std::string_view param(std::string_view name) const noexcept;
    // The percent-decoded value of parameter `name`, in the request's scratch memory (no heap
    // allocation; valid as long as the request's views); nullopt if the route has no such
    // parameter or its value has a malformed %-escape.
    std::optional<std::string_view> param_decoded(std::string_view name) const noexcept;
    std::span<const Param> params() const noexcept { return {params_.data(), param_count_}; }

    // The request body, de-chunked; "" when there is none (and for a route that streams its
    // body: see body_stream()).
    std::string_view body() const noexcept { return body_; }
    // How many bytes after body() may be read (never written): the rest of the memory the body
    // lies in — the receive buffer, the stitched bytes of a request that spanned reads, or the
    // block a chunked body was de-chunked into — as long as body() itself. Lets a reader that
    // loads past the end of its input (simdjson needs 64 bytes: net/json/) use the body in
    // place. What those bytes hold is unspecified (the next request, or stale bytes). 0 without
    // a body.
    size_t body_padding() const noexcept {
        return body_.empty() ? 0 : static_cast<size_t>(body_limit_ - (body_.data() + body_.size()));
    }
    // For a route registered with RouteOptions::stream_body: the body as it arrives
    // (net/body.h). Once per request, in the handler; elsewhere an empty reader.
    BodyReader body_stream() const noexcept;
    // The connection sets this while a streaming route's handler runs (null otherwise).
    void set_body_source(BodySource* source) noexcept { body_source_ = source; }

    // Scratch memory for the handler: allocations live until the response has been queued and
    // are then all dropped at once (a Region, reset per request; see alloc/README.md). Use it
    // for per-request temporaries instead of the heap:
    //   auto* buf = static_cast<char*>(req.scratch().allocate(n, 1));
    alloc::Region& scratch() const noexcept { return *scratch_; }

    // For a coroutine handler that suspended (net/coro.h): true once the answer it owes can no
    // longer be delivered — the client left, the handler timeout answered 503, the server's drain
    // ended, or the answer was given already — so the work may stop early. Always false while
    // the handler runs synchronously (before its first suspension) and for plain handlers.
    bool abandoned() const noexcept { return watch_ != nullptr && watch_->abandoned(); }

    // ---- for the engine (net/coro_handler.cc), on a copy of the request that outlives the
    // handler call: makes `region` its scratch memory; then copies every view (target, path,
    // query, method name, headers and their array, parameter values, body) into it, so that the
    // copy no longer borrows the receive buffer. body_stream() is empty afterwards (the body's
    // source was the handler call's), and abandoned() asks `watch`.
    void use_scratch(alloc::Region* region) noexcept { scratch_ = region; }
    void own_views(alloc::Region& region, const AnswerWatch* watch) noexcept;

  private:
    friend class RequestParser;
    friend class ParseContext;
    friend class router::Router;

    Method method_ = Method::kGet;
    std::string_view method_name_;
    std::string_view target_;
    std::string_view path_;
    std::string_view query_;
    std::string_view body_;
    // The end of the readable memory the body lies in (see body_padding()).
    const char* body_limit_ = nullptr;
    const Header* headers_ = nullptr;
    uint32_t header_count_ = 0;
    uint8_t version_major_ = 1;
    uint8_t version_minor_ = 1;
    bool keep_alive_ = true;
    std::array<Param, kMaxParams> params_{};  // filled by the router on a match
    uint32_t param_count_ = 0;
    alloc::Region* scratch_ = nullptr;  // the parse context's request region
    BodySource* body_source_ = nullptr;
    const AnswerWatch* watch_ = nullptr;
    const AddressBook* address_book_ = nullptr;
    uint32_t connection_slot_ = 0;
    uint32_t connection_generation_ = 0;
};

}  // namespace nexure::net::http
