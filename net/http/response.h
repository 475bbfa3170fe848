// Response: what a handler writes — status, header fields and body — before the engine frames it.
//
// One Response per worker, reset for every request, so its buffers stop growing once they reach
// the working size. The engine adds Date, Server, Content-Length and Connection itself; a handler
// that sets Content-Length or Transfer-Encoding, or puts CR/LF/NUL in a header, gets a 500
// instead (the message names the offending header) so that a handler bug can never split or
// corrupt the response stream. Worker thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "alloc/byte_buffer.h"
#include "net/unique_function.h"

namespace nexure::net {
class Later;
class Stream;
struct Upgraded;
}  // namespace nexure::net

namespace nexure::net::http {

class Response;

// A response's own say on compression (net/http/compression.h), over its route's.
enum class Compression : uint8_t {
    kAuto,   // the route's rules: type, size, fields
    kOff,    // never encoded
    kForce,  // encoded whatever its type and size, when the route compresses and the client accepts
};

// How a streamed body is delimited on the wire.
enum class BodyFraming : uint8_t {
    kNone,        // no body: 1xx, 204, 304 (and HEAD's head says what a GET would get)
    kLength,      // Content-Length, known in advance
    kChunked,     // Transfer-Encoding: chunked (HTTP/1.1, length unknown)
    kUntilClose,  // no length and HTTP/1.0: the body ends when the connection closes
    kPreframed,   // the bytes are the response as it goes on the wire, head and framing
                  // included (written by the other side, e.g. Node's http.ServerResponse)
};

// What lets a handler take its answer away (Response::defer, Response::stream): set by the
// connection for the duration of a handler call (net/http1/connection.cc).
class Responder {
  public:
    virtual Later defer() noexcept = 0;
    virtual Stream stream(const Response& head, BodyFraming body, uint64_t length) noexcept = 0;
    virtual bool upgrade(const Response& head, UniqueFunction<void(Upgraded)> take) noexcept = 0;

  protected:
    ~Responder() = default;
};

class Response {
  public:
    Response& status(int code) noexcept;
    // Appends a header field. "Connection: close" asks the engine to close after this response.
    Response& header(std::string_view name, std::string_view value) noexcept;
    // Sets Content-Type (replacing an earlier one).
    Response& type(std::string_view content_type) noexcept;
    // Replaces the body with a copy of `bytes`.
    Response& body(std::string_view bytes) noexcept;
    // Appends to the body.
    Response& append(std::string_view bytes) noexcept;
    // Closes the connection after this response.
    Response& close() noexcept;
    // compress(false): this answer is never compressed; compress(true): it is, whatever its
    // type and size, when its route compresses and the client accepts a coding.
    Response& compress(bool on) noexcept {
        compression_ = on ? Compression::kForce : Compression::kOff;
        return *this;
    }
    // Marks the response unusable: the engine answers 500 instead and logs `why` (a handler
    // that found its own bug, e.g. net/http/json_writer.h).
    Response& fail(std::string_view why) noexcept;

    // Answer later (net/later.h): the request keeps its place in the connection's order and
    // this Response is not sent; the returned handle answers from this worker or any thread.
    // Only in a handler; elsewhere the handle is empty and error() says why.
    Later defer() noexcept;
    // Answer in pieces (net/stream.h): the head — status, Content-Type and the header fields set
    // so far — is written now; the body follows through the returned handle, with
    // Transfer-Encoding: chunked (close-delimited for an HTTP/1.0 client), or with
    // Content-Length when the length is given. Only in a handler.
    Stream stream() noexcept;
    Stream stream(uint64_t content_length) noexcept;
    // Switch protocols (net/upgrade.h): with status(101) and an Upgrade field set, the 101 is
    // sent and then `take` gets the socket and the bytes received after the request. False (and
    // a 500) when the status is not 101 or it is not in a handler.
    bool upgrade(UniqueFunction<void(Upgraded)> take) noexcept;

    // The connection sets this while a handler runs (null otherwise).
    void set_responder(Responder* responder) noexcept { responder_ = responder; }
    Responder* responder() const noexcept { return responder_; }
    // Exchanges what the two responses hold (status, fields, body, error), not their responders:
    // a coroutine handler's own Response becomes the worker's answer without a copy.
    void swap(Response& other) noexcept;

    int status_code() const noexcept { return status_; }
    std::string_view body_view() const noexcept { return body_.view(); }
    std::string_view content_type() const noexcept { return content_type_; }
    // Header fields set by the handler, already formatted as "Name: value\r\n" lines.
    std::string_view header_lines() const noexcept { return headers_.view(); }
    bool wants_close() const noexcept { return close_; }
    Compression compression() const noexcept { return compression_; }
    // Why the response is unusable ("" when it is fine).
    std::string_view error() const noexcept { return error_; }

    void reset() noexcept;

  private:
    void set_content_type(std::string_view v) noexcept;

    Stream stream_with(BodyFraming body, uint64_t length) noexcept;

    Responder* responder_ = nullptr;
    int status_ = 200;
    bool close_ = false;
    Compression compression_ = Compression::kAuto;
    char content_type_storage_[128];
    std::string_view content_type_;
    std::string long_content_type_;  // for the rare type longer than the inline storage
    alloc::ByteBuffer headers_;
    alloc::ByteBuffer body_;
    std::string error_;
};

}  // namespace nexure::net::http
