// Decoders for the tests of response compression: the real libraries (zlib's inflate, libbrotli's
// decoder, libzstd's), never the code under test.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nexure::test {

// `bytes` decoded as Content-Encoding `coding` ("gzip", "br", "zstd"); nullopt when they are
// not a complete, valid encoding (or the coding is unknown).
std::optional<std::string> decode(std::string_view coding, std::string_view bytes);

// The longest prefix of a gzip, br or zstd stream that is decodable from `bytes` so far (a
// stream flushed piece by piece); nullopt when the bytes are invalid.
std::optional<std::string> decode_prefix(std::string_view coding, std::string_view bytes);

}  // namespace nexure::test
