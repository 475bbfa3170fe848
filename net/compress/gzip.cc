// gzip through zlib's deflate: one z_stream per encoder, deflateReset() between messages (it
// keeps the window and hash tables: no allocation per message).
#include <zlib.h>

#include <new>

#include "net/compress/detail/encoders.h"

namespace nexure::compress::detail {

namespace {

class GzipEncoder final : public Encoder {
  public:
    GzipEncoder() noexcept : Encoder(Coding::kGzip) {}
    ~GzipEncoder() override {
        if (ready_) deflateEnd(&z_);
    }

    bool init(int level) noexcept {
        // windowBits 15 + 16: a gzip wrapper (header and CRC-32 trailer) around raw deflate.
        ready_ = deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        return ready_;
    }

    void reset(uint64_t /*size_hint*/) noexcept override {
        deflateReset(&z_);
        broken_ = false;
    }

    bool write(std::string_view input, Flush flush, alloc::ByteBuffer& out) noexcept override {
        if (broken_) return false;
        const int mode = flush == Flush::kFinish ? Z_FINISH
                         : flush == Flush::kSync ? Z_SYNC_FLUSH
                                                 : Z_NO_FLUSH;
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
        z_.avail_in = static_cast<uInt>(input.size());  // responses are under 4 GiB
        // deflateBound() is enough for the whole of it in one call when the message is finished
        // at once (the usual case: a whole response body).
        size_t room = deflateBound(&z_, static_cast<uLong>(input.size())) + 16;
        for (;;) {
            char* at = out.prepare(room);
            z_.next_out = reinterpret_cast<Bytef*>(at);
            z_.avail_out = static_cast<uInt>(room);
            const int rc = deflate(&z_, mode);
            out.commit(room - z_.avail_out);
            if (rc == Z_STREAM_ERROR) {
                broken_ = true;
                return false;
            }
            if (mode == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) {
                return true;
            }
            room = room < 64 * 1024 ? 64 * 1024 : room;  // more output than the bound guessed
        }
    }

  private:
    z_stream z_{};
    bool ready_ = false;
    bool broken_ = false;
};

}  // namespace

std::unique_ptr<Encoder> make_gzip(int level) noexcept {
    std::unique_ptr<GzipEncoder> e(new (std::nothrow) GzipEncoder());
    if (!e || !e->init(level)) return nullptr;
    return e;
}

}  // namespace nexure::compress::detail
