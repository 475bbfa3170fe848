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
    loop_->run_on_worker([ticket = ticket_](WorkerServer* server) {
        if (server != nullptr) server->answer_dropped(ticket);
    });
}

void Later::respond(UniqueFunction<void(http::Response&)> fill) {
    if (!pending_) return;
    pending_ = false;
    loop_->run_on_worker([ticket = ticket_, fill = std::move(fill)](WorkerServer* server) mutable {
        if (server != nullptr) server->respond(ticket, fill);
    });
}

void Later::on_abort(Task fn) {
    if (!pending_ || !fn) return;
    loop_->run_on_worker(abort_setter(ticket_, std::move(fn)));
}

}  // namespace nexure::net
