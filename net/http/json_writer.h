// JsonWriter: writes a JSON document into a Response's body as it goes (no tree, no temporary
// string), with strings escaped per RFC 8259: '"', '\\' and control characters escaped, other
// bytes copied, and invalid UTF-8 replaced by U+FFFD so that the output is always valid JSON.
//
//   JsonWriter json(res);                       // sets Content-Type: application/json
//   json.begin_object();
//   json.key("id").value(req.param("id"));
//   json.key("tags").begin_array().value("a").value(2).end_array();
//   json.end_object();
//
// Commas and colons are placed by the writer. Misuse (a value where a key is due, an end without
// a begin, nesting deeper than kMaxDepth, a document left open) is reported by ok()/error() and
// turns the response into a 500 with that message when finish() is called (or when the writer is
// destroyed). Worker thread only, like the Response.
#pragma once

#include <cstdint>
#include <string_view>

#include "net/http/response.h"

namespace nexure::net::http {

// Whether `text` is exactly one JSON number (RFC 8259 6): no sign but '-', no leading zeros, digits
// on both sides of a '.', an exponent with digits; any magnitude.
bool is_json_number(std::string_view text) noexcept;

class JsonWriter {
  public:
    static constexpr unsigned kMaxDepth = 64;

    explicit JsonWriter(Response& res) noexcept;
    ~JsonWriter() { finish(); }
    JsonWriter(const JsonWriter&) = delete;
    JsonWriter& operator=(const JsonWriter&) = delete;

    JsonWriter& begin_object() noexcept;
    JsonWriter& end_object() noexcept;
    JsonWriter& begin_array() noexcept;
    JsonWriter& end_array() noexcept;
    JsonWriter& key(std::string_view name) noexcept;
    JsonWriter& value(std::string_view s) noexcept;
    JsonWriter& value(const char* s) noexcept { return value(std::string_view(s)); }
    JsonWriter& value(int64_t n) noexcept;
    JsonWriter& value(uint64_t n) noexcept;
    JsonWriter& value(int n) noexcept { return value(static_cast<int64_t>(n)); }
    JsonWriter& value(unsigned n) noexcept { return value(static_cast<uint64_t>(n)); }
    JsonWriter& value(double d) noexcept;  // NaN and infinities are written as null
    JsonWriter& value(bool b) noexcept;
    JsonWriter& null() noexcept;
    // A number given as JSON text, written as it is — an integer beyond 64 bits, or a decimal
    // that a double would round, keeps every digit (net/json/ re-serialises numbers this way).
    // Text that is not a JSON number (is_json_number) is misuse.
    JsonWriter& raw_number(std::string_view text) noexcept;

    bool ok() const noexcept { return error_ == nullptr; }
    const char* error() const noexcept { return error_; }
    // Checks the document is complete; a misused writer makes the response a 500 here.
    void finish() noexcept;
    // Gives the document up: nothing more is written, and finish() leaves the Response alone.
    // For a caller that found, halfway, that it must answer otherwise (Response::body()
    // replaces what was written).
    void abandon() noexcept;

  private:
    enum class Frame : uint8_t { kObject, kArray };
    bool before_value() noexcept;  // places the comma; false (and error) when a key is due
    void fail(const char* why) noexcept;
    void write_string(std::string_view s) noexcept;
    // A value already in JSON form (a number, true, false, null).
    JsonWriter& scalar(std::string_view text) noexcept;
    template <typename Number>
    JsonWriter& number(Number n) noexcept;

    Response& res_;
    const char* error_ = nullptr;
    Frame frames_[kMaxDepth];
    unsigned depth_ = 0;
    bool first_ = true;       // nothing written yet in the innermost container
    bool after_key_ = false;  // a key was written: its value is due
    bool done_ = false;       // the top-level value is complete
    bool finished_ = false;
};

}  // namespace nexure::net::http
