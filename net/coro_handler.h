// How a route whose handler is a coroutine (net/coro.h) runs. Server::route recognises a handler
// that returns Async<void> and wraps it in a CoroutineRoute (a plain Handler); each worker keeps
// the exchanges of its coroutines that suspended in its CoroutineHandlers (a member of
// WorkerServer). The behaviour users see is described in net/README.md, "Coroutine handlers".
//
// One exchange per coroutine request, from a per-worker free list: the coroutine's Request (a
// copy of the request's views, pointed into the exchange's own memory when it first suspends),
// its own Response, and the request's place in its connection's order (a Later) while it is
// suspended. A coroutine that finishes without suspending costs a copy of the Request's views
// (not of the bytes) and a frame from the frame cache: its answer is swapped into the worker's
// Response and goes out like a plain handler's. Worker thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>

#include "alloc/region.h"
#include "net/coro.h"
#include "net/handoff.h"
#include "net/http/request.h"
#include "net/http/response.h"
#include "net/later.h"
#include "net/stream.h"

namespace nexure::net {
class WorkerServer;
}

namespace nexure::net::detail {

using CoroutineEntry = Async<void> (*)(void* handler, http::Request& req, http::Response& res);

// ---- telling coroutine handlers from plain ones (Server::route) ---------------------------------

template <typename T>
struct IsAsync : std::false_type {};
template <typename T>
struct IsAsync<Async<T>> : std::true_type {};

// Whether F, called with a request and a response, returns an Async (is a coroutine).
template <typename F>
constexpr bool returns_async() {
    if constexpr (std::is_invocable_v<F&, http::Request&, http::Response&>) {
        return IsAsync<
            std::remove_cvref_t<std::invoke_result_t<F&, http::Request&, http::Response&>>>::value;
    } else {
        return false;
    }
}

// The parameter types of a callable with one known call signature (a function pointer, a lambda
// that is not generic); `known` is false otherwise.
template <typename F>
struct CallSignature {
    static constexpr bool known = false;
};
template <typename R, typename A, typename B>
struct CallSignature<R (*)(A, B)> {
    static constexpr bool known = true;
    using First = A;
    using Second = B;
};
template <typename R, typename A, typename B>
struct CallSignature<R (*)(A, B) noexcept> : CallSignature<R (*)(A, B)> {};
template <typename C, typename R, typename A, typename B>
struct CallSignature<R (C::*)(A, B)> : CallSignature<R (*)(A, B)> {};
template <typename C, typename R, typename A, typename B>
struct CallSignature<R (C::*)(A, B) const> : CallSignature<R (*)(A, B)> {};
template <typename C, typename R, typename A, typename B>
struct CallSignature<R (C::*)(A, B) noexcept> : CallSignature<R (*)(A, B)> {};
template <typename C, typename R, typename A, typename B>
struct CallSignature<R (C::*)(A, B) const noexcept> : CallSignature<R (*)(A, B)> {};
// clang-format off
template <typename F>
    requires requires { &F::operator(); }
struct CallSignature<F> : CallSignature<decltype(&F::operator())> {};
// clang-format on

template <typename F>
constexpr void check_coroutine_handler() {
    static_assert(
        std::is_same_v<std::invoke_result_t<F&, http::Request&, http::Response&>, Async<void>>,
        "a coroutine handler returns Async<void> (its answer goes into the Response)");
    if constexpr (CallSignature<F>::known) {
        static_assert(std::is_reference_v<typename CallSignature<F>::First> &&
                          std::is_reference_v<typename CallSignature<F>::Second>,
                      "a coroutine handler takes (Request& or const Request&, Response&): a "
                      "copy of the request would keep views that dangle once it suspends");
    }
}

// ---- running them ------------------------------------------------------------------------------

class CoroutineHandlers {
  public:
    CoroutineHandlers(WorkerServer& hub, int node) noexcept;
    ~CoroutineHandlers();
    CoroutineHandlers(const CoroutineHandlers&) = delete;
    CoroutineHandlers& operator=(const CoroutineHandlers&) = delete;

    // Runs `entry(handler, ...)` for the request being handled by the calling worker, inside the
    // route's Handler call (`req` and `res` are the handler call's). A coroutine that finishes
    // at once answers through `res` (its exception rethrown: the plain handler's 500); one that
    // suspends keeps the request's place and answers when it finishes.
    static void enter(void* handler, CoroutineEntry entry, const http::Request& req,
                      http::Response& res);

    // End of the loop turn: destroys the frames of the coroutines that finished (never inside
    // their own final suspension) and takes their exchanges back.
    void reap() noexcept;
    bool has_finished() const noexcept { return done_ != nullptr; }
    // The worker is going away (its connections are closed): destroys every coroutine still
    // suspended — what they awaited is cancelled with them — and everything kept for reuse.
    void destroy_all() noexcept;
    // Coroutines suspended now (for tests and the worker's drain).
    size_t suspended() const noexcept { return live_count_; }

  private:
    class Exchange;
    void run(void* handler, CoroutineEntry entry, const http::Request& req, http::Response& res);
    void suspend(Exchange& ex, Async<void> task, http::Response& res);
    static void finished(void* exchange) noexcept;
    Exchange& take();
    void give_back(Exchange& ex) noexcept;
    void report(std::exception_ptr error) noexcept;

    // Later's and Stream's insides: the place a coroutine's answer goes to.
    static const Ticket& ticket_of(const Later& later) noexcept { return later.ticket_; }
    static const Ticket& ticket_of(const Stream& stream) noexcept { return stream.ticket_; }
    static void spend(Later& later) noexcept { later.pending_ = false; }

    WorkerServer& hub_;
    alloc::ChunkCache chunks_;  // the exchanges' regions
    Exchange* free_ = nullptr;  // kept for reuse (singly linked)
    size_t free_count_ = 0;
    Exchange* live_ = nullptr;  // suspended (doubly linked)
    size_t live_count_ = 0;
    Exchange* done_ = nullptr;  // finished this turn, frames not yet destroyed
};

// The plain Handler Server::route makes of a coroutine handler `F`.
template <typename F>
struct CoroutineRoute {
    F handler;
    void operator()(const http::Request& req, http::Response& res) {
        CoroutineHandlers::enter(&handler, &CoroutineRoute::call, req, res);
    }
    static Async<void> call(void* handler, http::Request& req, http::Response& res) {
        return std::invoke(*static_cast<F*>(handler), req, res);
    }
};

}  // namespace nexure::net::detail
