// ResponseWriter: frames HTTP/1.1 responses into a connection's output buffer — the status line
// (pre-formatted), Server, Date (the worker's cached line, an input), Content-Type, the handler's
// fields, the framing fields (Content-Length, or Transfer-Encoding: chunked for a stream of
// unknown length), Connection when needed, then the body — each byte written once, straight
// into the buffer that is handed to the kernel. Worker thread only; holds no state of its own
// beyond the Date line it reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "alloc/byte_buffer.h"
#include "net/http/date_cache.h"
#include "net/http/response.h"

namespace nexure::net::http {

// 1xx, 204 and 304 carry no body (RFC 9110 6.4.1) and no Content-Length.
constexpr bool bodiless(int status) noexcept {
    return status < 200 || status == 204 || status == 304;
}

// How one response is framed for its request.
struct Framing {
    bool head_only = false;  // a HEAD request: the head only, whatever the body
    bool keep_alive = true;  // false: "Connection: close" (and the connection closes after it)
    bool http10 = false;     // an HTTP/1.0 client: keep-alive is announced, no chunked coding
    bool upgrade = false;    // a 101 that switches protocols: "Connection: Upgrade"
};

class ResponseWriter {
  public:
    // `date`: the worker's Date line, refreshed once a second; read at each write.
    explicit ResponseWriter(const DateCache& date) noexcept : date_(&date) {}

    // A whole response: head and body. Returns the offset in `out` of the blank line that ends
    // its head (where insert_close() may add a field later).
    size_t write(alloc::ByteBuffer& out, const Response& res, Framing framing) const noexcept;
    // The same with other header lines and another body than `res`'s: an encoded answer
    // (net/http/compression.h). `header_lines` replaces res.header_lines(), `body` its body.
    size_t write(alloc::ByteBuffer& out, const Response& res, Framing framing,
                 std::string_view header_lines, std::string_view body) const noexcept;
    // Adds "Connection: close" to a response written keep-alive (HTTP/1.1) whose head ends at
    // `head_end` in `out`: the server is stopping and this is the connection's last answer.
    static void insert_close(alloc::ByteBuffer& out, size_t head_end) noexcept;

    // The head of a streamed response whose body follows in pieces; `length` is used with
    // BodyFraming::kLength. Returns the framing the body must use: kNone for HEAD, 1xx, 204 and
    // 304 (nothing may follow), kUntilClose when an HTTP/1.0 client gets a body of unknown
    // length (the caller must then close after it), else `body`.
    BodyFraming write_head(alloc::ByteBuffer& out, const Response& head, Framing framing,
                           BodyFraming body, uint64_t length) const noexcept {
        return write_head(out, head, framing, body, length, head.header_lines());
    }
    // The same with `header_lines` instead of head.header_lines() (an encoded stream's fields).
    BodyFraming write_head(alloc::ByteBuffer& out, const Response& head, Framing framing,
                           BodyFraming body, uint64_t length,
                           std::string_view header_lines) const noexcept;
    // A piece of a streamed body in `body` framing (chunked pieces get their size line; empty
    // pieces are skipped, since an empty chunk would end the body).
    static void write_body(alloc::ByteBuffer& out, BodyFraming body,
                           std::string_view bytes) noexcept;
    // Ends a chunked body: the last chunk, `trailer_lines` ("Name: value\r\n" each), the blank
    // line. Nothing for the other framings.
    static void write_end(alloc::ByteBuffer& out, BodyFraming body,
                          std::string_view trailer_lines) noexcept;

  private:
    const DateCache* date_;
};

}  // namespace nexure::net::http
