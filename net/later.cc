#include "net/later.h"

#include <utility>

#include "net/detail/loop_state.h"
#include "net/http/response.h"
#include "net/worker_server.h"

namespace nexure::net {

Later::Later(Later&& other) noexcept
    : loop_(std::move(other.loop_)),
      ticket_(other.ticket_),
      pending_(std::exchange(other.pending_, false)) {}

Later& Later::operator=(Later&& other) noexcept {
    if (this != &other) {
        Later dropped(std::move(*this));  // an unanswered one answers 500 as it goes
        loop_ = std::move(other.loop_);
        ticket_ = other.ticket_;
        pending_ = std::exchange(other.pending_, false);
    }
    return *this;
}

Later::~Later() {
    if (!pending_) return;
    pending_ = false;
    const Ticket ticket = ticket_;
    if (loop_->on_worker()) {
        if (WorkerServer* server = loop_->state_->server) server->answer_dropped(ticket);
        return;
    }
    loop_->post([state = loop_->state_, ticket] {
        if (state->server != nullptr) state->server->answer_dropped(ticket);
    });
}

void Later::respond(UniqueFunction<void(http::Response&)> fill) {
    if (!pending_) return;
    pending_ = false;
    if (loop_->on_worker()) {
        if (WorkerServer* server = loop_->state_->server) server->respond(ticket_, fill);
        return;
    }
    loop_->post([state = loop_->state_, ticket = ticket_, fill = std::move(fill)]() mutable {
        if (state->server != nullptr) state->server->respond(ticket, fill);
    });
}

void Later::on_abort(Task fn) {
    if (!pending_ || !fn) return;
    auto set = [state = loop_->state_, ticket = ticket_](Task f) {
        // Gone already (the client left, the timeout answered): it runs at once.
        if (state->server == nullptr || !state->server->set_abort(ticket, f)) f();
    };
    if (loop_->on_worker()) {
        set(std::move(fn));
    } else {
        loop_->post([set, fn = std::move(fn)]() mutable { set(std::move(fn)); });
    }
}

}  // namespace nexure::net
