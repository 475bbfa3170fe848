#include "net/files/mime.h"

#include <array>
#include <utility>

namespace nexure::files {

namespace {

constexpr std::string_view kDefault = "application/octet-stream";

// Sorted by extension (lower case) for a binary search.
constexpr std::array<std::pair<std::string_view, std::string_view>, 50> kTypes{{
    {"7z", "application/x-7z-compressed"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"eot", "application/vnd.ms-fontobject"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json; charset=utf-8"},
    {"jsonld", "application/ld+json; charset=utf-8"},
    {"map", "application/json; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml; charset=utf-8"},
    {"svg", "image/svg+xml; charset=utf-8"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"toml", "application/toml; charset=utf-8"},
    {"ts", "video/mp2t"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json; charset=utf-8"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml; charset=utf-8"},
    {"xml", "application/xml; charset=utf-8"},
    {"yaml", "application/yaml; charset=utf-8"},
    {"yml", "application/yaml; charset=utf-8"},
    {"zip", "application/zip"},
}};

constexpr bool sorted() {
    for (size_t i = 1; i < kTypes.size(); ++i)
        if (!(kTypes[i - 1].first < kTypes[i].first)) return false;
    return true;
}
static_assert(sorted(), "kTypes must stay sorted by extension");

}  // namespace

std::string_view content_type_for(std::string_view name) noexcept {
    const size_t slash = name.rfind('/');
    if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
    const size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == name.size()) return kDefault;
    const std::string_view ext = name.substr(dot + 1);
    char lower[16];
    if (ext.size() > sizeof(lower)) return kDefault;
    for (size_t i = 0; i < ext.size(); ++i) {
        const char c = ext[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    const std::string_view key(lower, ext.size());
    size_t lo = 0;
    size_t hi = kTypes.size();
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (kTypes[mid].first < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < kTypes.size() && kTypes[lo].first == key ? kTypes[lo].second : kDefault;
}

}  // namespace nexure::files
