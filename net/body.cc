#include "net/body.h"

#include <utility>

#include "net/detail/loop_state.h"
#include "net/http/request.h"
#include "net/worker_server.h"

namespace nexure::net {

template <typename Op>
void BodyReader::on_worker(Op op) {
    if (!loop_) return;
    loop_->run_on_worker([ticket = ticket_, op = std::move(op)](WorkerServer* server) mutable {
        if (server != nullptr) server->with_connection(ticket, op);
    });
}

void BodyReader::on_data(UniqueFunction<void(std::string_view)> fn) {
    on_worker([seq = ticket_.seq, fn = std::move(fn)](http1::Connection& c) mutable {
        c.body_on_data(seq, std::move(fn));
    });
}

void BodyReader::on_end(Task fn) {
    on_worker([seq = ticket_.seq, fn = std::move(fn)](http1::Connection& c) mutable {
        c.body_on_end(seq, std::move(fn));
    });
}

void BodyReader::on_abort(Task fn) {
    on_worker([seq = ticket_.seq, fn = std::move(fn)](http1::Connection& c) mutable {
        c.body_on_abort(seq, std::move(fn));
    });
}

void BodyReader::pause() {
    on_worker([seq = ticket_.seq](http1::Connection& c) { c.body_pause(seq, true); });
}

void BodyReader::resume() {
    on_worker([seq = ticket_.seq](http1::Connection& c) { c.body_pause(seq, false); });
}

}  // namespace nexure::net

namespace nexure::net::http {

BodyReader Request::body_stream() const noexcept {
    return body_source_ != nullptr ? body_source_->take_body() : BodyReader{};
}

}  // namespace nexure::net::http
