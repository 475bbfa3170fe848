// ResponseParser: llhttp in response mode, for one upstream connection. Bytes go in as they are
// received; each complete response comes out as a ClientResponse that owns its bytes (the receive
// buffer they arrived in is recycled at once). Informational responses (100 Continue, 103) are
// skipped; a response to HEAD has no body whatever its Content-Length says (expect_head()); a
// body with neither length nor chunking ends with the connection (finish()).
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "net/client/response.h"

namespace nexure::net::client {

class ResponseParser {
  public:
    enum class Outcome {
        kNeedMore,  // every byte consumed, no response complete yet
        kComplete,  // one response is complete: take() it; `consumed` says where it ended
        kError,     // malformed, or over the size limit: error() says why; the connection is done
    };

    explicit ResponseParser(size_t max_response_size) noexcept;
    ResponseParser(const ResponseParser&) = delete;
    ResponseParser& operator=(const ResponseParser&) = delete;

    // The next response answers a HEAD request (set before its first byte arrives).
    void expect_head(bool head) noexcept { head_ = head; }
    // Parses from `data`; stops after one complete response.
    Outcome feed(const char* data, size_t len, size_t* consumed) noexcept;
    // The connection ended (FIN): completes a response whose body runs until the close.
    Outcome finish() noexcept;
    // Whether some bytes of the current response arrived.
    bool started() const noexcept { return started_; }
    ClientResponse take() noexcept;
    std::string_view error() const noexcept { return error_; }
    // For EMSGSIZE (too large) versus EPROTO (malformed).
    bool too_large() const noexcept { return too_large_; }

  private:
    static const llhttp_settings_t& settings() noexcept;
    static ResponseParser& self(llhttp_t* p) noexcept;
    bool add(std::string_view bytes) noexcept;  // to storage, within the size limit
    void reset_message() noexcept;

    llhttp_t parser_{};
    size_t max_size_;
    bool head_ = false;
    bool started_ = false;
    bool complete_ = false;
    bool too_large_ = false;
    bool in_value_ = false;  // the last piece was a value: a name piece starts a new field
    std::string error_;
    ClientResponse current_;
};

}  // namespace nexure::net::client
