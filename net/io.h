// io: io_uring operations of the application's own — opening, reading, stat-ing a file — on the
// calling worker's ring, with a callback for the completion. What lets a module above net/
// (net/files/) do its file I/O on the worker without a thread and without a blocking syscall.
//
//   net::io([&](io_uring_sqe* sqe) { io_uring_prep_read(sqe, fd, buf, len, offset); },
//           [state](int res) { /* res: bytes read, or -errno, like cqe->res */ });
//
// Thread rules: worker thread only (inside a handler, a timer, a posted task or another io
// callback); the callback runs on that worker, never inside io() itself, with the completion's
// result. Whatever the operation points at (buffers, a path, an open_how) must stay valid until
// the callback runs: let the callback own it. Multishot operations are not supported (the
// callback runs for the first completion). While operations are in flight the worker's drain
// waits for them; at teardown the ones still pending are cancelled and their callbacks dropped
// unrun.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <utility>

#include "net/unique_function.h"

namespace nexure::net {

using IoDone = UniqueFunction<void(int res)>;

namespace detail {
// The calling worker's ring's next SQE and the user_data that routes its completion to `done`.
// Fatal (NEXURE_CHECK) off a worker thread.
io_uring_sqe* io_sqe() noexcept;
uint64_t io_track(IoDone done);
}  // namespace detail

// Worker thread only: `prep(sqe)` fills one SQE (any io_uring_prep_* call; it must not set the
// user_data), `done(res)` runs on this worker when the operation completes.
template <typename Prep>
void io(Prep&& prep, IoDone done) {
    io_uring_sqe* sqe = detail::io_sqe();
    std::forward<Prep>(prep)(sqe);
    io_uring_sqe_set_data64(sqe, detail::io_track(std::move(done)));
}

}  // namespace nexure::net
