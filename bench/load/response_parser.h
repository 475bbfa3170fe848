// ResponseParser: splits one connection's byte stream into HTTP/1.1 responses and validates them,
// for nexload (issue 7). Every response is checked, not just counted: the status line, the header
// section's syntax and its framing (Content-Length, chunked, or until the connection closes), so
// a server that answers garbage fast does not score.
//
// Incremental: feed() takes whatever a read returned. A head that lies whole in one read is parsed
// in place; only a head (or chunk-size line, or trailer line) split across reads is copied, into
// a buffer that keeps its capacity. Bodies are skipped without copying. One per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nexure::load {

class ResponseSink {
  public:
    // One complete response: its status code and its size on the wire (head and body).
    virtual void on_response(int status, uint64_t bytes) noexcept = 0;

  protected:
    ~ResponseSink() = default;
};

class ResponseParser {
  public:
    // The longest head accepted (status line and header fields); longer is a parse error.
    static constexpr size_t kMaxHead = 64 * 1024;
    // The longest chunk-size or trailer line accepted.
    static constexpr size_t kMaxLine = 4 * 1024;

    // Responses to HEAD requests carry no body whatever their headers say; nexload sends one
    // method per run, so this is set per connection.
    explicit ResponseParser(bool head_requests = false) noexcept : head_(head_requests) {}

    // Parses `data`; reports each complete response to `sink` (1xx interim responses too: the
    // caller decides what they mean). Returns false at the first malformed byte; error() then
    // says what was wrong, and the rest of the stream cannot be trusted.
    bool feed(const char* data, size_t len, ResponseSink& sink);

    // The peer closed its side: completes a response whose body runs until the close. Returns
    // false if the stream ended inside a response in any other way.
    bool finish(ResponseSink& sink);

    // Inside on_response(): whether the server ends the connection after this response
    // (Connection: close, or HTTP/1.0 without Connection: keep-alive), so that no further
    // request should be written on it.
    bool closes() const noexcept { return closes_; }

    // True between responses (nothing of a next response received yet).
    bool idle() const noexcept { return state_ == State::kHead && partial_.empty(); }
    const std::string& error() const noexcept { return error_; }

  private:
    enum class State : uint8_t {
        kHead,       // the status line and header fields
        kBody,       // Content-Length bytes to skip
        kChunkSize,  // a chunk-size line
        kChunkData,  // chunk bytes to skip
        kChunkEnd,   // the CRLF after a chunk's data
        kTrailers,   // trailer lines up to an empty line
        kUntilEof,   // a body delimited by the connection's close
    };

    // Parses the head at the start of [p, end): its length once it is complete (and the framing
    // of its body set), 0 while it is incomplete or when it is malformed (error() then says why).
    size_t parse_head(const char* p, const char* end);
    // Takes one CRLF-terminated line from [*p, end) (joining what an earlier read left in
    // partial_); false when the line is not complete yet (all of it is kept) or too long.
    bool take_line(const char** p, const char* end, std::string_view* line, bool* ok);
    void complete(ResponseSink& sink);
    bool fail(std::string why);

    State state_ = State::kHead;
    bool head_;
    bool closes_ = false;
    int status_ = 0;
    uint64_t remaining_ = 0;  // body or chunk bytes still to come, or CRLF bytes after a chunk
    uint64_t bytes_ = 0;      // of the current response so far
    std::string partial_;     // a head or line split across reads
    std::string error_;
};

}  // namespace nexure::load
