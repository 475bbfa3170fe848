#include "tests/support/decode.h"

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>

namespace nexure::test {

namespace {

// complete: the stream must end within `bytes`; otherwise what decodes so far is returned.
std::optional<std::string> run(std::string_view coding, std::string_view bytes, bool complete) {
    std::string out;
    char buf[16384];
    if (coding == "gzip") {
        z_stream z{};
        if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
        z.avail_in = static_cast<uInt>(bytes.size());
        int rc = Z_OK;
        do {
            z.next_out = reinterpret_cast<Bytef*>(buf);
            z.avail_out = sizeof buf;
            rc = inflate(&z, Z_SYNC_FLUSH);
            out.append(buf, sizeof buf - z.avail_out);
        } while (rc == Z_OK && (z.avail_in != 0 || z.avail_out == 0));
        inflateEnd(&z);
        if (rc == Z_STREAM_END) return z.avail_in == 0 ? std::optional(out) : std::nullopt;
        if (rc != Z_OK && rc != Z_BUF_ERROR) return std::nullopt;
        return complete ? std::nullopt : std::optional(out);
    }
    if (coding == "br") {
        std::unique_ptr<BrotliDecoderState, void (*)(BrotliDecoderState*)> s(
            BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), BrotliDecoderDestroyInstance);
        const uint8_t* in = reinterpret_cast<const uint8_t*>(bytes.data());
        size_t avail_in = bytes.size();
        for (;;) {
            uint8_t* o = reinterpret_cast<uint8_t*>(buf);
            size_t avail_out = sizeof buf;
            const BrotliDecoderResult r =
                BrotliDecoderDecompressStream(s.get(), &avail_in, &in, &avail_out, &o, nullptr);
            out.append(buf, sizeof buf - avail_out);
            if (r == BROTLI_DECODER_RESULT_SUCCESS) {
                return avail_in == 0 ? std::optional(out) : std::nullopt;
            }
            if (r == BROTLI_DECODER_RESULT_ERROR) return std::nullopt;
            if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
                return complete ? std::nullopt : std::optional(out);
            }
        }
    }
    if (coding == "zstd") {
        std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
        ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
        size_t left = 1;
        while (in.pos < in.size || left != 0) {
            ZSTD_outBuffer o{buf, sizeof buf, 0};
            left = ZSTD_decompressStream(d.get(), &o, &in);
            if (ZSTD_isError(left)) return std::nullopt;
            out.append(buf, o.pos);
            if (in.pos == in.size && o.pos < o.size) break;
        }
        if (left != 0 && complete) return std::nullopt;
        return out;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> decode(std::string_view coding, std::string_view bytes) {
    return run(coding, bytes, true);
}

std::optional<std::string> decode_prefix(std::string_view coding, std::string_view bytes) {
    return run(coding, bytes, false);
}

}  // namespace nexure::test
