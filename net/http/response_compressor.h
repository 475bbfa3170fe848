// ResponseCompressor: response compression on the worker that frames the answer — the rules of
// net/http/compression.h applied to a Response, with the worker's encoders (net/compress/) and
// the buffers of one encoded answer. Worker thread only; engine-internal (not a public header).
#pragma once

#include <cstdint>
#include <string_view>

#include "alloc/byte_buffer.h"
#include "net/compress/encoder_pool.h"
#include "net/http/compression.h"
#include "net/http/response.h"

namespace nexure::net::http {

// The answer to send instead of a response's own header fields and body (ResponseWriter).
struct EncodedAnswer {
    std::string_view header_lines;  // the response's fields with Content-Encoding, Vary and ETag
    std::string_view body;          // the encoded body (the response's own when not encoded)
};

// One per worker: the encoders (compress::EncoderPool) and the buffers that hold one encoded
// answer until it is framed.
class ResponseCompressor {
  public:
    ResponseCompressor(uint32_t threshold, compress::Levels levels) noexcept
        : threshold_(threshold), encoders_(levels) {}

    // `res` answered for a request whose route compresses, with the coding its Accept-Encoding
    // chose (kIdentity: none acceptable). The fields and body to send instead of `res`'s, valid
    // until the next call; nullptr when `res` goes out as it is (it does not qualify).
    const EncodedAnswer* encode(const Response& res, ContentCoding coding) noexcept;

    // Whether `res` qualifies (status, type, size, fields; Response::compress() included).
    // `size_known` false: a streamed answer's head, whose body size is not known (no threshold).
    bool qualifies(const Response& res, bool size_known = true) const noexcept;

    // A streamed answer's head (its body of unknown length): the header lines to send instead
    // of `head`'s — Vary, and with `coding` other than identity a weak ETag and
    // Content-Encoding — or nullptr when the stream does not qualify. Valid until the next call.
    const std::string_view* stream_fields(const Response& head, ContentCoding coding) noexcept;
    // A piece of a stream encoded by `encoder` (Flush::kSync, or kFinish at its end), in a
    // buffer of the worker valid until the next call; nullptr when the encoder failed.
    const std::string_view* encode_piece(compress::Encoder& encoder, std::string_view bytes,
                                         compress::Flush flush) noexcept;

    compress::EncoderPool& encoders() noexcept { return encoders_; }

  private:
    // `res`'s header lines with Vary merged, and, when `coding` is not identity, the ETag
    // weakened and Content-Encoding added; into lines_.
    void rewrite_fields(std::string_view lines, ContentCoding coding) noexcept;

    uint32_t threshold_;
    compress::EncoderPool encoders_;
    alloc::ByteBuffer lines_;
    alloc::ByteBuffer body_;
    EncodedAnswer answer_;
    std::string_view view_;
};

}  // namespace nexure::net::http
