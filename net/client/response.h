// ClientResponse: an upstream's HTTP response, as the HTTP client (net/client/http_client.h)
// delivers it. It owns its bytes (one string holding the header fields and the body), so it may be
// kept and moved freely — across a coroutine's co_await, into another thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexure::net::client {

class ResponseParser;

class ClientResponse {
  public:
    int status() const noexcept { return status_; }
    // The body, de-chunked.
    std::string_view body() const noexcept {
        return std::string_view(storage_).substr(body_offset_);
    }
    // The first header field with this name (ASCII case-insensitive), as received.
    std::optional<std::string_view> header(std::string_view name) const noexcept;
    size_t header_count() const noexcept { return fields_.size(); }
    std::string_view header_name(size_t i) const noexcept { return view(fields_[i].name); }
    std::string_view header_value(size_t i) const noexcept { return view(fields_[i].value); }
    // Whether the upstream keeps the connection open after this response.
    bool keep_alive() const noexcept { return keep_alive_; }
    unsigned version_minor() const noexcept { return version_minor_; }

  private:
    friend class ResponseParser;
    struct Span {
        uint32_t offset = 0;
        uint32_t length = 0;
    };
    struct Field {
        Span name;
        Span value;
    };
    std::string_view view(Span s) const noexcept {
        return std::string_view(storage_).substr(s.offset, s.length);
    }

    int status_ = 0;
    bool keep_alive_ = true;
    uint8_t version_minor_ = 1;
    uint32_t body_offset_ = 0;
    std::string storage_;  // field names and values, then the body
    std::vector<Field> fields_;
};

}  // namespace nexure::net::client
