#include "net/later.h"

#include <utility>

#include "net/detail/loop_state.h"
#include "net/http/response.h"
#include "net/stream.h"
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

Stream Later::stream(const http::Response& head, uint64_t length) noexcept {
    if (!pending_ || !loop_->on_worker()) return {};
    pending_ = false;
    WorkerServer* server = loop_->state_->server;
    if (server == nullptr) return {};
    Stream s = server->stream_deferred(ticket_, head, http::BodyFraming::kLength, length);
    if (!s && server->answer_wanted(ticket_)) server->answer_dropped(ticket_);  // a bad head: 500
    return s;
}

Later Later::adopt(const Ticket& ticket) noexcept {
    return Later(Loop::current(), ticket);
}

void Later::on_abort(Task fn) {
    if (!pending_ || !fn) return;
    loop_->run_on_worker(abort_setter(ticket_, std::move(fn)));
}

}  // namespace nexure::net
