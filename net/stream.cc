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

bool Stream::write(std::string_view bytes) {
    if (!open_) return false;
    if (loop_->on_worker()) {
        WorkerServer* server = loop_->state_->server;
        return server != nullptr && server->stream_write(ticket_, bytes);
    }
    return loop_->post([state = loop_->state_, ticket = ticket_, copy = std::string(bytes)] {
        if (state->server != nullptr) state->server->stream_write(ticket, copy);
    });
}

void Stream::end(std::string_view trailer_lines) {
    if (!open_) return;
    open_ = false;
    if (loop_->on_worker()) {
        if (WorkerServer* server = loop_->state_->server)
            server->stream_end(ticket_, trailer_lines);
        return;
    }
    loop_->post([state = loop_->state_, ticket = ticket_, trailers = std::string(trailer_lines)] {
        if (state->server != nullptr) state->server->stream_end(ticket, trailers);
    });
}

void Stream::on_writable(Task fn) {
    if (!open_) return;
    auto set = [state = loop_->state_, ticket = ticket_](Task f) {
        if (state->server != nullptr) state->server->stream_on_writable(ticket, std::move(f));
    };
    if (loop_->on_worker()) {
        set(std::move(fn));
    } else {
        loop_->post([set, fn = std::move(fn)]() mutable { set(std::move(fn)); });
    }
}

void Stream::on_abort(Task fn) {
    if (!open_ || !fn) return;
    auto set = [state = loop_->state_, ticket = ticket_](Task f) {
        // Gone already (the client left): it runs at once.
        if (state->server == nullptr || !state->server->set_abort(ticket, f)) f();
    };
    if (loop_->on_worker()) {
        set(std::move(fn));
    } else {
        loop_->post([set, fn = std::move(fn)]() mutable { set(std::move(fn)); });
    }
}

}  // namespace nexure::net
