#include "net/files/sender.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "net/io.h"

namespace nexure::files {

namespace {

class Pump : public std::enable_shared_from_this<Pump> {
  public:
    Pump(net::Stream stream, int fd, uint64_t offset, uint64_t length, size_t chunk)
        : stream_(std::move(stream)),
          fd_(fd),
          offset_(offset),
          remaining_(length),
          chunk_(std::max<size_t>(chunk, 4096)),
          buffer_(nullptr) {}
    ~Pump() { close_file(); }

    void start() {
        stream_.on_abort([self = shared_from_this()] { self->stop(); });
        if (remaining_ >= kSpliceFrom) {
            // Page cache to socket, no copy through this buffer (the faster way: net/files/
            // README.md); when the stream cannot take it (behind another answer), read + write.
            net::UniqueFunction<void(int)> done = [self = shared_from_this()](int r) {
                self->spliced(r);
            };
            if (stream_.splice(fd_, offset_, remaining_, done)) return;
        }
        read_next();
    }

  private:
    void read_next() {
        if (done_ || reading_) return;
        if (remaining_ == 0) {
            finish();
            return;
        }
        const auto n = static_cast<unsigned>(std::min<uint64_t>(remaining_, chunk_));
        if (!buffer_) buffer_.reset(new char[chunk_]);
        reading_ = true;
        net::io([&](io_uring_sqe* sqe) { io_uring_prep_read(sqe, fd_, buffer_.get(), n, offset_); },
                [self = shared_from_this()](int res) { self->on_read(res); });
    }

    void on_read(int res) {
        reading_ = false;
        if (done_) {
            close_file();
            return;
        }
        if (res <= 0) {
            // 0: the file is shorter than when its length was announced; < 0: a read error.
            // Ending short closes the connection: the client sees the body was cut.
            if (res < 0)
                std::fprintf(stderr, "nexure: static file read failed (errno %d): body cut\n", -res);
            finish();
            return;
        }
        const auto got = static_cast<uint64_t>(res);
        offset_ += got;
        remaining_ -= got;
        const bool room = stream_.write({buffer_.get(), static_cast<size_t>(got)});
        if (remaining_ == 0) {
            finish();
        } else if (room) {
            read_next();
        } else {
            stream_.on_writable([self = shared_from_this()] { self->read_next(); });
        }
    }

    void spliced(int result) {
        if (result < 0)
            std::fprintf(stderr, "nexure: static file splice failed (errno %d): body cut\n", -result);
        finish();
    }

    void finish() {
        done_ = true;
        stream_.end();
        close_file();
    }
    void stop() {  // the client left: the stream is dead; a read in flight still owns the buffer
        done_ = true;
        if (!reading_) close_file();  // (a splice in flight holds its own reference to the file)
    }
    void close_file() {
        if (fd_ >= 0) ::close(fd_);  // a regular file's close does not block
        fd_ = -1;
    }

    net::Stream stream_;
    int fd_;
    uint64_t offset_;
    uint64_t remaining_;
    const size_t chunk_;
    std::unique_ptr<char[]> buffer_;
    static constexpr uint64_t kSpliceFrom = 64 * 1024;
    bool reading_ = false;
    bool done_ = false;
};

}  // namespace

void send_file_body(net::Stream stream, int fd, uint64_t offset, uint64_t length,
                    size_t chunk_size) {
    if (!stream) {
        ::close(fd);
        return;
    }
    std::make_shared<Pump>(std::move(stream), fd, offset, length, chunk_size)->start();
}

}  // namespace nexure::files
