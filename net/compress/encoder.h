// Encoder: one coding's compressor, reused message after message. An encoder keeps its library
// state (zlib's deflate stream, zstd's context, brotli's memory) across reset(), so that a worker
// compressing many responses allocates nothing per response once it has warmed up.
//
//   std::unique_ptr<Encoder> gz = make_encoder(Coding::kGzip, 6);
//   gz->reset(body.size());
//   gz->write(body, Flush::kFinish, out);   // out: the whole gzip member
//
// Owned by one thread at a time; no call throws. The output is appended to an alloc::ByteBuffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "alloc/byte_buffer.h"
#include "net/compress/coding.h"

namespace nexure::compress {

enum class Flush : uint8_t {
    kNone,    // the encoder may keep bytes back for a better ratio
    kSync,    // everything written so far can be decoded from the output (a streamed piece)
    kFinish,  // the message ends: the output is complete (reset() before the next message)
};

class Encoder {
  public:
    virtual ~Encoder() = default;
    Encoder(const Encoder&) = delete;
    Encoder& operator=(const Encoder&) = delete;

    Coding coding() const noexcept { return coding_; }

    // Starts a new message, keeping the memory of the previous ones. `size_hint`: the message's
    // whole input size when known (0: unknown, a stream), which lets the encoders size their
    // windows and tables to it.
    virtual void reset(uint64_t size_hint) noexcept = 0;
    // Compresses `input` and appends what is ready to `out`, as `flush` asks. False when the
    // library failed (out of memory): the message is lost and must be sent unencoded or cut.
    virtual bool write(std::string_view input, Flush flush, alloc::ByteBuffer& out) noexcept = 0;

  protected:
    explicit Encoder(Coding coding) noexcept : coding_(coding) {}

  private:
    Coding coding_;
};

// An encoder for `coding` at `level` (clamped to level_range()); nullptr when the coding is not
// built in (zstd without libzstd) or its library could not allocate its state.
std::unique_ptr<Encoder> make_encoder(Coding coding, int level) noexcept;

// One whole message: reset(input.size()), then write(input, kFinish, out).
bool compress(Encoder& encoder, std::string_view input, alloc::ByteBuffer& out) noexcept;

}  // namespace nexure::compress
