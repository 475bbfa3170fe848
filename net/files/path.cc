#include "net/files/path.h"

#include "net/http/percent.h"

namespace nexure::files {

PathVerdict relative_path(std::string_view raw, RelativePath* out) {
    std::string decoded;
    decoded.resize(raw.size());
    const size_t n = net::http::percent_decode_to(raw, decoded.data());
    if (n == net::http::kMalformed) return PathVerdict::kMalformed;
    decoded.resize(n);
    return relative_file_path(decoded, out);
}

PathVerdict relative_file_path(std::string_view decoded, RelativePath* out) {
    if (decoded.find('\0') != std::string_view::npos) return PathVerdict::kRefused;

    out->path.clear();
    out->trailing_slash = !decoded.empty() && decoded.back() == '/';
    size_t i = 0;
    while (i <= decoded.size()) {
        size_t end = decoded.find('/', i);
        if (end == std::string_view::npos) end = decoded.size();
        const std::string_view segment = decoded.substr(i, end - i);
        i = end + 1;
        if (segment.empty() || segment == ".") continue;
        if (segment == "..") return PathVerdict::kRefused;
        if (!out->path.empty()) out->path.push_back('/');
        out->path.append(segment);
    }
    return PathVerdict::kOk;
}

}  // namespace nexure::files
