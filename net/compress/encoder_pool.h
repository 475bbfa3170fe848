// EncoderPool: a worker's encoders, kept between messages. A response compressed whole takes an
// encoder, compresses and gives it back, so one encoder per coding serves every response of the
// worker; a streamed response holds its own encoder until it ends, then returns it here. At most
// kKeepPerCoding idle encoders per coding are kept (the rest are freed), so a burst of streams
// does not pin their memory for ever. One thread only (the worker's).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <vector>

#include "net/compress/coding.h"
#include "net/compress/encoder.h"

namespace nexure::compress {

class EncoderPool {
  public:
    static constexpr size_t kKeepPerCoding = 4;

    explicit EncoderPool(Levels levels = {}) noexcept : levels_(levels) {}

    // An encoder for `coding`, reset for a message of `size_hint` bytes (0: unknown); nullptr
    // when the coding is not built in or there is no memory.
    std::unique_ptr<Encoder> take(Coding coding, uint64_t size_hint) noexcept;
    // Back to the pool (nullptr is ignored).
    void give(std::unique_ptr<Encoder> encoder) noexcept;

    const Levels& levels() const noexcept { return levels_; }
    // Encoders made so far (a test checks that reuse makes none after warming up).
    size_t made() const noexcept { return made_; }

  private:
    Levels levels_;
    std::array<std::vector<std::unique_ptr<Encoder>>, 4> idle_;  // by Coding's value
    size_t made_ = 0;
};

}  // namespace nexure::compress
