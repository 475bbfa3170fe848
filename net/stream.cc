#include "net/stream.h"

#include <string>
#include <utility>

#include "net/detail/loop_state.h"
#include "net/worker_server.h"

namespace nexure::net {

Stream::Stream(Stream&& other) noexcept
    : loop_(std::move(other.loop_)),
      ticket_(other.ticket_),
      open_(std::exchange(other.open_, false)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
    if (this != &other) {
        Stream ended(std::move(*this));  // an open one is ended as it goes
        loop_ = std::move(other.loop_);
        ticket_ = other.ticket_;
        open_ = std::exchange(other.open_, false);
    }
    return *this;
}

Stream::~Stream() {
    if (open_) end();
}

bool Stream::splice(int file_fd, uint64_t offset, uint64_t length,
                    UniqueFunction<void(int)>& done) {
    if (!open_ || !loop_->on_worker()) return false;
    WorkerServer* server = loop_->state_->server;
    return server != nullptr && server->stream_splice(ticket_, file_fd, offset, length, done);
}

bool Stream::write(std::string_view bytes) {
    if (!open_) return false;
    if (loop_->on_worker()) {  // only here can the answer say whether there is room
        WorkerServer* server = loop_->state_->server;
        return server != nullptr && server->stream_write(ticket_, bytes);
    }
    loop_->run_on_worker([ticket = ticket_, copy = std::string(bytes)](WorkerServer* server) {
        if (server != nullptr) server->stream_write(ticket, copy);
    });
    return true;
}

void Stream::end(std::string_view trailer_lines) {
    if (!open_) return;
    open_ = false;
    loop_->run_on_worker(
        [ticket = ticket_, trailers = std::string(trailer_lines)](WorkerServer* server) {
            if (server != nullptr) server->stream_end(ticket, trailers);
        });
}

void Stream::on_writable(Task fn) {
    if (!open_) return;
    loop_->run_on_worker([ticket = ticket_, fn = std::move(fn)](WorkerServer* server) mutable {
        if (server != nullptr) server->stream_on_writable(ticket, std::move(fn));
    });
}

void Stream::on_abort(Task fn) {
    if (!open_ || !fn) return;
    loop_->run_on_worker(abort_setter(ticket_, std::move(fn)));
}

}  // namespace nexure::net
