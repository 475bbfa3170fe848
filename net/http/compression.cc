#include "net/http/compression.h"

#include <cstring>

#include "net/http/field_syntax.h"
#include "net/http/request.h"

namespace nexure::net::http {

std::vector<ContentCoding> default_codings() {
    std::vector<ContentCoding> codings{ContentCoding::kBrotli};
    if (compress::built_with(compress::Coding::kZstd)) codings.push_back(ContentCoding::kZstd);
    codings.push_back(ContentCoding::kGzip);
    return codings;
}

Result<std::vector<ContentCoding>> parse_codings(std::string_view list) {
    std::vector<ContentCoding> out;
    std::string_view rest = list;
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view name = trim_ows(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (name.empty()) continue;
        ContentCoding c;
        if (iequals(name, "gzip") || iequals(name, "x-gzip")) {
            c = ContentCoding::kGzip;
        } else if (iequals(name, "br")) {
            c = ContentCoding::kBrotli;
        } else if (iequals(name, "zstd")) {
            c = ContentCoding::kZstd;
            if (!compress::built_with(compress::Coding::kZstd)) {
                return Error{EINVAL,
                             "compression encoding 'zstd' is not available: this build has no "
                             "libzstd (install libzstd-dev and rebuild, or offer: " +
                                 codings_text(default_codings()) + ")"};
            }
        } else {
            return Error{EINVAL, "unknown compression encoding '" + std::string(name) +
                                     "' (this build offers: " + codings_text(default_codings()) +
                                     ")"};
        }
        bool seen = false;
        for (ContentCoding o : out)
            seen = seen || o == c;
        if (!seen) out.push_back(c);
    }
    return out;
}

std::string codings_text(const std::vector<ContentCoding>& codings) {
    std::string s;
    for (ContentCoding c : codings) {
        if (!s.empty()) s += ", ";
        s += coding_token(c);
    }
    return s;
}

bool compressible_type(std::string_view type) noexcept {
    type = trim_ows(type.substr(0, type.find(';')));
    if (type.empty()) return false;
    if (istarts_with(type, "text/")) return true;
    if (iends_with(type, "+json") || iends_with(type, "+xml")) return true;  // ld+json, svg+xml
    constexpr std::string_view kTypes[] = {"application/json",
                                           "application/javascript",
                                           "application/x-javascript",
                                           "application/ecmascript",
                                           "application/xml",
                                           "application/x-www-form-urlencoded",
                                           "application/graphql",
                                           "application/wasm",
                                           "application/x-ndjson",
                                           "application/x-yaml",
                                           "application/yaml",
                                           "application/toml",
                                           "application/x-sh",
                                           "application/rtf",
                                           "application/vnd.ms-fontobject",
                                           "font/ttf",
                                           "font/otf",
                                           "application/x-font-ttf",
                                           "application/x-font-otf",
                                           "image/x-icon",
                                           "image/vnd.microsoft.icon",
                                           "image/bmp",
                                           "application/manifest+json"};
    for (std::string_view t : kTypes) {
        if (iequals(type, t)) return true;
    }
    return false;
}

}  // namespace nexure::net::http
