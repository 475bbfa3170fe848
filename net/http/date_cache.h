// DateCache: the "Date: ...\r\n" header line (RFC 9110 5.6.7 IMF-fixdate), formatted once a
// second rather than per response. One per worker, refreshed by the worker's timer; worker
// thread only.
#pragma once

#include <ctime>
#include <string_view>

namespace nexure::net::http {

class DateCache {
  public:
    DateCache() noexcept { refresh(std::time(nullptr)); }
    // Re-formats the line for `now` (seconds since the epoch, UTC).
    void refresh(std::time_t now) noexcept;
    // "Date: Sat, 21 Nov 2026 06:28:00 GMT\r\n"
    std::string_view line() const noexcept { return {line_, len_}; }

  private:
    char line_[64] = {};
    size_t len_ = 0;
};

}  // namespace nexure::net::http
