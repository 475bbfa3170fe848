#include "net/http/response_compressor.h"

#include "net/http/field_syntax.h"
#include "net/http/request.h"
#include "net/http/response_writer.h"

namespace nexure::net::http {

namespace {

// Whether the comma-separated list `value` has `token` as an element (case-insensitive).
bool list_has(std::string_view value, std::string_view token) noexcept {
    while (!value.empty()) {
        const size_t comma = value.find(',');
        if (iequals(trim_ows(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

// Calls fn(name, value, line) for each "Name: value\r\n" line of a Response's header block.
template <typename Fn>
void for_each_field(std::string_view lines, Fn&& fn) noexcept {
    while (!lines.empty()) {
        const size_t end = lines.find("\r\n");
        const std::string_view line =
            lines.substr(0, end == std::string_view::npos ? lines.size() : end + 2);
        const size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
            const std::string_view value = trim_ows(line.substr(
                colon + 1, line.size() - colon - 1 - (end == std::string_view::npos ? 0 : 2)));
            fn(line.substr(0, colon), value, line);
        }
        lines.remove_prefix(line.size());
    }
}

}  // namespace

bool ResponseCompressor::qualifies(const Response& res, bool size_known) const noexcept {
    const int status = res.status_code();
    if (bodiless(status) || status == 206)
        return false;  // 1xx, 204, 304; a range is of the identity body
    if (res.compression() == Compression::kOff) return false;
    bool refused = false;
    for_each_field(res.header_lines(),
                   [&](std::string_view name, std::string_view value, std::string_view) {
                       if (iequals(name, "content-encoding")) refused = true;  // encoded already
                       if (iequals(name, "cache-control") && list_has(value, "no-transform"))
                           refused = true;
                       if (iequals(name, "content-range")) refused = true;
                   });
    if (refused) return false;
    if (res.compression() == Compression::kForce) return true;
    return (!size_known || res.body_view().size() >= threshold_) &&
           compressible_type(res.content_type());
}

void ResponseCompressor::rewrite_fields(std::string_view lines, ContentCoding coding) noexcept {
    lines_.clear();
    bool vary_done = false;
    // The Vary to merge into: the last one (several Vary fields are one list).
    const char* last_vary = nullptr;
    for_each_field(lines,
                   [&](std::string_view name, std::string_view value, std::string_view line) {
                       if (iequals(name, "vary")) {
                           if (value == "*" || list_has(value, "accept-encoding")) vary_done = true;
                           last_vary = line.data();
                       }
                   });
    for_each_field(
        lines, [&](std::string_view name, std::string_view value, std::string_view line) {
            if (coding != ContentCoding::kIdentity && iequals(name, "etag") &&
                !istarts_with(value, "W/")) {
                // The encoded body is not byte-identical to the identity one: a strong validator
                // would claim it is (RFC 9110 8.8.3). A weak one still matches If-None-Match.
                lines_.append(name);
                lines_.append(": W/");
                lines_.append(value);
                lines_.append("\r\n");
                return;
            }
            if (!vary_done && line.data() == last_vary) {
                lines_.append(name);
                lines_.append(": ");
                lines_.append(value);
                lines_.append(value.empty() ? "Accept-Encoding\r\n" : ", Accept-Encoding\r\n");
                return;
            }
            lines_.append(line);
        });
    if (!vary_done && last_vary == nullptr) lines_.append("Vary: Accept-Encoding\r\n");
    if (coding != ContentCoding::kIdentity) {
        lines_.append("Content-Encoding: ");
        lines_.append(coding_token(coding));
        lines_.append("\r\n");
    }
}

const std::string_view* ResponseCompressor::stream_fields(const Response& head,
                                                          ContentCoding coding) noexcept {
    if (!qualifies(head, false)) return nullptr;
    rewrite_fields(head.header_lines(), coding);
    view_ = lines_.view();
    return &view_;
}

const std::string_view* ResponseCompressor::encode_piece(compress::Encoder& encoder,
                                                         std::string_view bytes,
                                                         compress::Flush flush) noexcept {
    constexpr size_t kKeepBytes = 4 * 1024 * 1024;
    if (body_.capacity() > kKeepBytes) body_.release();
    body_.clear();
    if (!encoder.write(bytes, flush, body_)) return nullptr;
    view_ = body_.view();
    return &view_;
}

const EncodedAnswer* ResponseCompressor::encode(const Response& res,
                                                ContentCoding coding) noexcept {
    if (!qualifies(res)) return nullptr;
    // A large one-off body leaves no large buffer behind (the previous answer is framed by now).
    constexpr size_t kKeepBytes = 4 * 1024 * 1024;
    if (body_.capacity() > kKeepBytes) body_.release();
    const std::string_view body = res.body_view();
    if (coding != ContentCoding::kIdentity) {
        std::unique_ptr<compress::Encoder> encoder =
            encoders_.take(static_cast<compress::Coding>(coding), body.size());
        body_.clear();
        const bool ok = encoder && encoder->write(body, compress::Flush::kFinish, body_);
        encoders_.give(std::move(encoder));
        // Sent unencoded when the library failed, or when encoding did not make it smaller
        // (already-compressed bytes under a text type).
        if (!ok || body_.size() >= body.size()) coding = ContentCoding::kIdentity;
    }
    rewrite_fields(res.header_lines(), coding);
    answer_.header_lines = lines_.view();
    answer_.body = coding == ContentCoding::kIdentity ? body : body_.view();
    return &answer_;
}

}  // namespace nexure::net::http
