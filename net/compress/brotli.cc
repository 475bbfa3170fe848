// br through libbrotli's streaming encoder. libbrotli 1.0 cannot reset an encoder, so a message
// gets a fresh BrotliEncoderState, made from memory this encoder recycles (detail/recycler.h):
// after the first few messages, none of it comes from malloc.
#include <brotli/encode.h>

#include <algorithm>
#include <new>

#include "net/compress/detail/encoders.h"
#include "net/compress/detail/recycler.h"

namespace nexure::compress::detail {

namespace {

// The window for a stream of unknown length: 256 KiB instead of brotli's 4 MiB default, so that
// an encoder held by a long stream stays small.
constexpr int kStreamWindowBits = 18;

class BrotliEncoder final : public Encoder {
  public:
    explicit BrotliEncoder(int quality) noexcept : Encoder(Coding::kBrotli), quality_(quality) {}
    ~BrotliEncoder() override { drop(); }

    void reset(uint64_t size_hint) noexcept override {
        drop();
        state_ = BrotliEncoderCreateInstance(&Recycler::alloc_fn, &Recycler::free_fn, &memory_);
        if (state_ == nullptr) return;
        BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(quality_));
        int window = kStreamWindowBits;
        if (size_hint != 0) {
            // The window a message of this size needs (brotli's own rule: 2^lgwin - 16 bytes).
            window = BROTLI_MIN_WINDOW_BITS;
            while (window < BROTLI_MAX_WINDOW_BITS && (uint64_t{1} << window) - 16 < size_hint) {
                ++window;
            }
            BrotliEncoderSetParameter(
                state_, BROTLI_PARAM_SIZE_HINT,
                static_cast<uint32_t>(std::min<uint64_t>(size_hint, 1u << 30)));
        }
        BrotliEncoderSetParameter(state_, BROTLI_PARAM_LGWIN, static_cast<uint32_t>(window));
    }

    bool write(std::string_view input, Flush flush, alloc::ByteBuffer& out) noexcept override {
        if (state_ == nullptr) return false;
        const BrotliEncoderOperation op = flush == Flush::kFinish ? BROTLI_OPERATION_FINISH
                                          : flush == Flush::kSync ? BROTLI_OPERATION_FLUSH
                                                                  : BROTLI_OPERATION_PROCESS;
        const uint8_t* next_in = reinterpret_cast<const uint8_t*>(input.data());
        size_t avail_in = input.size();
        size_t room = BrotliEncoderMaxCompressedSize(input.size());
        if (room < 64 || room > 1024 * 1024) room = 64 * 1024 + input.size() / 8;
        for (;;) {
            char* at = out.prepare(room);
            uint8_t* next_out = reinterpret_cast<uint8_t*>(at);
            size_t avail_out = room;
            if (!BrotliEncoderCompressStream(state_, op, &avail_in, &next_in, &avail_out, &next_out,
                                             nullptr)) {
                out.commit(room - avail_out);
                drop();
                return false;
            }
            out.commit(room - avail_out);
            const bool more = BrotliEncoderHasMoreOutput(state_) != 0;
            if (op == BROTLI_OPERATION_FINISH) {
                if (BrotliEncoderIsFinished(state_)) return true;
            } else if (avail_in == 0 && !more) {
                return true;
            }
            room = std::max<size_t>(room, 64 * 1024);
        }
    }

  private:
    void drop() noexcept {
        if (state_ != nullptr) BrotliEncoderDestroyInstance(state_);
        state_ = nullptr;
    }

    int quality_;
    Recycler memory_;  // declared before state_ is used, destroyed after drop()
    BrotliEncoderState* state_ = nullptr;
};

}  // namespace

std::unique_ptr<Encoder> make_brotli(int quality) noexcept {
    std::unique_ptr<BrotliEncoder> e(new (std::nothrow) BrotliEncoder(quality));
    return e;
}

}  // namespace nexure::compress::detail
