// zstd through libzstd's streaming API: one ZSTD_CCtx per encoder, reset per message (the
// context keeps its tables and buffers).
#include <new>

#include "net/compress/detail/encoders.h"

#if NEXURE_HAVE_ZSTD
#include <zstd.h>
#endif

namespace nexure::compress::detail {

#if NEXURE_HAVE_ZSTD
namespace {

class ZstdEncoder final : public Encoder {
  public:
    ZstdEncoder() noexcept : Encoder(Coding::kZstd) {}
    ~ZstdEncoder() override { ZSTD_freeCCtx(ctx_); }

    bool init(int level) noexcept {
        ctx_ = ZSTD_createCCtx();
        if (ctx_ == nullptr) return false;
        return !ZSTD_isError(ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level)) &&
               !ZSTD_isError(ZSTD_CCtx_setParameter(ctx_, ZSTD_c_checksumFlag, 0));
    }

    void reset(uint64_t size_hint) noexcept override {
        ZSTD_CCtx_reset(ctx_, ZSTD_reset_session_only);
        broken_ = false;
        // A known size goes in the frame header and lets zstd size its window to the message
        // (a small window is also what browsers require: at most 8 MiB).
        if (size_hint != 0) {
            (void)ZSTD_CCtx_setPledgedSrcSize(ctx_, size_hint);
        }
    }

    bool write(std::string_view input, Flush flush, alloc::ByteBuffer& out) noexcept override {
        if (broken_) return false;
        const ZSTD_EndDirective mode = flush == Flush::kFinish ? ZSTD_e_end
                                       : flush == Flush::kSync ? ZSTD_e_flush
                                                               : ZSTD_e_continue;
        ZSTD_inBuffer in{input.data(), input.size(), 0};
        size_t room = ZSTD_compressBound(input.size()) + 32;
        for (;;) {
            char* at = out.prepare(room);
            ZSTD_outBuffer o{at, room, 0};
            const size_t left = ZSTD_compressStream2(ctx_, &o, &in, mode);
            out.commit(o.pos);
            if (ZSTD_isError(left)) {
                broken_ = true;
                return false;
            }
            const bool consumed = in.pos == in.size;
            if (mode == ZSTD_e_continue ? consumed : (consumed && left == 0)) return true;
            room = room < 64 * 1024 ? 64 * 1024 : room;
        }
    }

  private:
    ZSTD_CCtx* ctx_ = nullptr;
    bool broken_ = false;
};

}  // namespace

std::unique_ptr<Encoder> make_zstd(int level) noexcept {
    std::unique_ptr<ZstdEncoder> e(new (std::nothrow) ZstdEncoder());
    if (!e || !e->init(level)) return nullptr;
    return e;
}
#else
std::unique_ptr<Encoder> make_zstd(int /*level*/) noexcept {
    return nullptr;
}
#endif

}  // namespace nexure::compress::detail
