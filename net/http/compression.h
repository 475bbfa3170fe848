// Response compression: the settings (ServerConfig::compression, RouteOptions::compression) and
// the rules that say which answers are compressed; ResponseCompressor (response_compressor.h)
// applies them on the worker that frames the answer.
//
// An answer is compressed when its route compresses, the request's Accept-Encoding allows one of
// the route's codings (choose_coding, accept_encoding.h), and the answer itself qualifies: a
// status other than 1xx/204/206/304, a compressible Content-Type (text/*, JSON, JavaScript, XML,
// SVG, ...), no Content-Encoding of its own, no `Cache-Control: no-transform`, and a body of at
// least `threshold` bytes (Response::compress() forces or forbids it per answer). It then gets
// Content-Encoding, `Vary: Accept-Encoding` (merged into a Vary it has), a weak ETag, and the
// Content-Length of the encoded body. An answer that qualifies but goes out unencoded (the client
// accepts none of the codings) gets the Vary too, so that caches keep the variants apart.
//
// Any thread; the settings are read before Server::start().
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/result.h"
#include "net/compress/coding.h"
#include "net/http/accept_encoding.h"

namespace nexure::net::http {

// The codings this build produces, in the default server order: br, zstd (when built), gzip.
std::vector<ContentCoding> default_codings();

// ServerConfig::compression.
struct CompressionConfig {
    // Compress the answers of every route (a route may still say otherwise). Off by default in
    // C++; the Node package turns it on with `createApp({ compression: true })`.
    bool enabled = false;
    // Bodies shorter than this many bytes are sent as they are (compressing them costs more
    // than it saves). 1 KiB, like @fastify/compress; 0 compresses every body.
    uint32_t threshold = 1024;
    // The codings offered, most preferred first (the client's qvalues decide first; among equal
    // ones this order). Empty: default_codings().
    std::vector<ContentCoding> encodings;
    compress::Levels levels;
};

// RouteOptions::compression: a route's own choice.
struct RouteCompression {
    enum class Mode : uint8_t {
        kInherit,  // as the server says
        kOff,      // never compress this route's answers
        kOn,       // compress them, even if the server's `enabled` is false
    };
    Mode mode = Mode::kInherit;
    // The codings this route offers, most preferred first; empty: the server's.
    std::vector<ContentCoding> encodings;
};

// The codings one route offers (resolved from the server's and the route's settings when the
// route is registered); count 0: the route does not compress.
struct CodingOffer {
    ContentCoding codings[3] = {};
    uint8_t count = 0;
    std::span<const ContentCoding> view() const noexcept { return {codings, count}; }
};

// "br, gzip" (or "br,zstd,gzip", case-insensitive; "x-gzip" is gzip) as codings. The error names
// the bad element and says which codings this build has (zstd needs libzstd).
Result<std::vector<ContentCoding>> parse_codings(std::string_view list);
// The codings as a list for messages ("br, gzip").
std::string codings_text(const std::vector<ContentCoding>& codings);

// Whether a body of this Content-Type is worth compressing: text/*, JSON and *+json, JavaScript,
// XML and *+xml, SVG, form data, WebAssembly, event streams, and uncompressed fonts (ttf, otf,
// eot); not images, audio, video, archives or other already-compressed formats. Parameters
// (`; charset=utf-8`) are ignored; an empty type is not compressible.
bool compressible_type(std::string_view content_type) noexcept;

}  // namespace nexure::net::http
