#include "net/http/date_cache.h"

namespace nexure::net::http {

void DateCache::refresh(std::time_t now) noexcept {
    std::tm tm{};
    gmtime_r(&now, &tm);
    // strftime's %a/%b follow the C locale, which is what HTTP requires; the process never
    // changes LC_TIME.
    len_ = std::strftime(line_, sizeof(line_), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

}  // namespace nexure::net::http
