// Coroutine handlers: a handler written as a C++20 coroutine that waits — for a timer, a job on a
// thread pool, a callback API (an outbound call), the next piece of a request body — without
// blocking its worker, and answers when it is done.
//
//   server.get("/price/:item", [&pool](Request& req, Response& res) -> Async<void> {
//       std::string item(req.param("item"));
//       unsigned price = co_await offload(pool, fetch_price, item);  // fetch_price(item) there
//       co_await sleep(10);
//       res.type("text/plain").body(std::to_string(price));
//   });
//
// Async<T> is the coroutine type. It starts eagerly: calling the coroutine runs it until its
// first suspension (or to its end) before the call returns, like a plain function. Another Async
// awaits it with `co_await child` (the result, or the child's exception rethrown); at its end the
// coroutine hands control straight to its awaiter (symmetric transfer, through a trampoline that
// keeps the stack flat however long the chain, also in -O0 builds). An Async is move-only;
// destroying one that is suspended destroys its frame (and with it whatever it was waiting for:
// a timer is cancelled, a callback's late answer is dropped). Frames come from a small
// per-thread free list (plain new/delete in sanitizer builds).
//
// The awaitables below resume the coroutine on the worker it waits on, never in the middle of
// someone else's call:
//   sleep(ms)             a timer of the worker (Loop::after): resumes from the timer, ms later.
//   offload(ex, fn, a...) fn(a...) runs on another thread (ex.run(Task) or ex(Task)); the
//                         coroutine resumes on its worker (Loop::post) with the result, or the
//                         exception. (GCC 12: see offload() for lambdas written in a co_await.)
//   callback<T>(start)    the bridge from callback APIs: start(Resolver<T>) is called when
//                         awaited; the coroutine resumes when the resolver gets its value. A
//                         resolver called on the worker while start() runs resumes nothing: the
//                         coroutine goes on at once, without suspending; called on the worker
//                         later, it schedules the coroutine for the end of the current loop turn
//                         (the resolver returns first, so the caller's state is never re-entered);
//                         called on any other thread, it posts the resumption to the worker. A
//                         resolver destroyed without a value resumes the coroutine with a
//                         std::runtime_error saying so: a lost callback never hangs silently.
//   BodyChunks            a streamed request body (RouteOptions::stream_body) piece by piece.
//
// GCC 12 (the project's compiler) destroys twice a lambda with owning by-value captures, or any
// brace-initialised temporary, written inside a co_await expression: make it a variable first,
// or pass offload() the values as arguments (see offload()).
//
// Thread rules: a coroutine that awaits these runs on a worker thread (a handler, a timer, a
// posted task), and is resumed and destroyed there. Resolver<T> may be moved to and called from
// any thread. Async itself has no thread affinity (it can be used off the workers with
// awaitables of one's own; those must resume the coroutine outside any engine callback).
//
// How a route's coroutine runs (Server::route, net/coro_handler.h) — the request and response it
// is given, what it may do after it suspends, abandonment — is described in net/README.md,
// "Coroutine handlers".
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "net/body.h"
#include "net/detail/ready_list.h"
#include "net/loop.h"
#include "net/unique_function.h"

namespace nexure::net {

template <typename T = void>
class Async;
template <typename T>
class Resolver;

namespace detail {

// Resumes `h` on this thread through the trampoline: coroutines that finish inside it hand their
// awaiter to the loop here instead of resuming it from their own frame, so a chain of any length
// completes in constant stack. Every resumption the awaitables of this header make goes here.
void resume(std::coroutine_handle<> h) noexcept;
// A finishing coroutine's continuation: inside the trampoline, queued for it (the noop handle is
// returned); elsewhere `next` itself (the compiler's symmetric transfer).
std::coroutine_handle<> continue_with(std::coroutine_handle<> next) noexcept;
// Worker thread only: resumes `h` (through the trampoline) at the end of the current loop turn,
// from the worker's ready list. `node` must stay alive until then or be unlinked.
void resume_at_turn_end(ReadyNode& node, std::coroutine_handle<> h) noexcept;

// Coroutine frames: from a per-thread free list of a few size classes (plain operator new in
// sanitizer builds, so frames are checked like any other memory).
void* allocate_frame(std::size_t bytes);
void free_frame(void* frame, std::size_t bytes) noexcept;

class PromiseBase {
  public:
    std::suspend_never initial_suspend() const noexcept { return {}; }

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <typename P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
            PromiseBase& p = h.promise();
            if (p.continuation_) return continue_with(p.continuation_);
            // A root with an owner (a route's coroutine): the owner answers now and destroys the
            // frame later (never here, inside the frame's own suspension).
            if (p.on_done_ != nullptr) p.on_done_(p.on_done_arg_);
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    FinalAwaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { error_ = std::current_exception(); }

    static void* operator new(std::size_t bytes) { return allocate_frame(bytes); }
    static void operator delete(void* frame, std::size_t bytes) noexcept {
        free_frame(frame, bytes);
    }

    std::coroutine_handle<> continuation_;  // the coroutine awaiting this one
    void (*on_done_)(void*) noexcept = nullptr;
    void* on_done_arg_ = nullptr;
    std::exception_ptr error_;
};

template <typename T>
class PromiseValue : public PromiseBase {
  public:
    void return_value(T value) { value_.emplace(std::move(value)); }
    std::optional<T> value_;
};

template <>
class PromiseValue<void> : public PromiseBase {
  public:
    void return_void() const noexcept {}
};

// For the engine's own use of a root Async (net/coro_handler.cc).
struct AsyncAccess {
    template <typename T>
    static PromiseBase& promise(Async<T>& a) noexcept {
        return a.handle_.promise();
    }
};

}  // namespace detail

// The coroutine type. `co_return value;` (or nothing for Async<void>); `co_await` another
// Async, an awaitable of this header, or any awaitable that resumes on this thread.
template <typename T>
class [[nodiscard]] Async {
    static_assert(!std::is_reference_v<T>,
                  "Async<T>: T is a value type (return a copy or a pointer)");

  public:
    struct promise_type final : detail::PromiseValue<T> {
        Async get_return_object() noexcept {
            return Async(std::coroutine_handle<promise_type>::from_promise(*this));
        }
    };

    Async() noexcept = default;
    Async(Async&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    Async& operator=(Async&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    Async(const Async&) = delete;
    Async& operator=(const Async&) = delete;
    ~Async() { reset(); }

    // Whether it has finished (with a result or an exception). False for an empty Async.
    bool done() const noexcept { return handle_ && handle_.done(); }
    // False once moved from.
    explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

    // Awaiting: `co_await child` (or `co_await make_child()`) suspends until the child finishes
    // (not at all when it has), then gives its result or rethrows its exception. The child's
    // frame stays with the Async.
    class Awaiter {
      public:
        bool await_ready() const noexcept { return !handle_ || handle_.done(); }
        void await_suspend(std::coroutine_handle<> awaiting) const noexcept {
            handle_.promise().continuation_ = awaiting;
        }
        T await_resume() const {
            if (!handle_) throw std::logic_error("co_await on an empty Async (moved from)");
            auto& p = handle_.promise();
            if (p.error_) std::rethrow_exception(p.error_);
            if constexpr (!std::is_void_v<T>) {
                if (!p.value_)
                    throw std::logic_error("co_await on an Async whose result was taken");
                T value = std::move(*p.value_);
                p.value_.reset();
                return value;
            }
        }

      private:
        friend class Async;
        explicit Awaiter(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
        std::coroutine_handle<promise_type> handle_;
    };
    Awaiter operator co_await() const& noexcept { return Awaiter(handle_); }
    Awaiter operator co_await() const&& noexcept { return Awaiter(handle_); }

  private:
    friend struct detail::AsyncAccess;
    explicit Async(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
    void reset() noexcept {
        if (handle_) std::exchange(handle_, {}).destroy();
    }

    std::coroutine_handle<promise_type> handle_;
};

// ---- sleep -----------------------------------------------------------------------------------

// co_await sleep(ms): resumes on the same worker after `ms` milliseconds (Loop::after; 0 resumes
// at the next loop turn). Worker thread only. (Where <unistd.h>'s ::sleep is visible too, name
// it net::sleep.)
class [[nodiscard]] Sleep {
  public:
    explicit Sleep(uint64_t ms) noexcept : ms_(ms) {}
    Sleep(const Sleep&) = delete;
    Sleep& operator=(const Sleep&) = delete;
    // A coroutine destroyed while it sleeps: its timer is cancelled.
    ~Sleep();

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h);
    void await_resume() const noexcept {}

  private:
    uint64_t ms_;
    TimerId timer_ = 0;  // pending while non-zero
    std::coroutine_handle<> waiter_;
};

inline Sleep sleep(uint64_t ms) noexcept {
    return Sleep(ms);
}

// ---- callback --------------------------------------------------------------------------------

namespace detail {

// What one callback() await shares with its Resolver: the awaiting coroutine (worker side), the
// value or error (written by whoever resolves, read by the worker after the hand-over) and a
// reference count, since either side may go first, on different threads.
class CallbackStateBase {
  public:
    CallbackStateBase(const CallbackStateBase&) = delete;
    CallbackStateBase& operator=(const CallbackStateBase&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // ---- the awaiter's side (the worker)
    void begin_start() noexcept { starting_ = true; }
    // start() returned: true to suspend (the value comes later), false to go on at once.
    bool finish_start(std::coroutine_handle<> waiter) noexcept;
    // start() threw: the awaiter goes on with that exception; a later value is dropped.
    void fail_start() noexcept { starting_ = false; }
    // The awaiter goes away (resumed, or its frame destroyed): drops its reference.
    void detach() noexcept;

    // ---- the resolver's side (any thread): the value or error is stored; hands the
    // resumption to the worker, with the resolver's reference.
    void deliver() noexcept;

  protected:
    explicit CallbackStateBase(Loop loop) noexcept : loop_(std::move(loop)) {}
    virtual ~CallbackStateBase() = default;

    std::exception_ptr error_;

  private:
    std::atomic<uint32_t> refs_{1};
    const Loop loop_;  // the awaiting worker's
    // The worker's only:
    ReadyNode node_;
    std::coroutine_handle<> waiter_;
    bool starting_ = false;  // inside start(): a value given now needs no suspension
    bool settled_ = false;   // a value came while starting
    bool waiting_ = false;   // suspended, not yet scheduled to resume
};

template <typename T>
class CallbackState final : public CallbackStateBase {
  public:
    explicit CallbackState(Loop loop) noexcept : CallbackStateBase(std::move(loop)) {}

    template <typename... V>
    void set(V&&... value) {
        if constexpr (!std::is_void_v<T>) value_.emplace(std::forward<V>(value)...);
    }
    void set_error(std::exception_ptr error) noexcept { error_ = std::move(error); }
    T take() {
        if (error_) std::rethrow_exception(error_);
        if constexpr (!std::is_void_v<T>) return std::move(*value_);
    }

  private:
    struct None {};
    std::conditional_t<std::is_void_v<T>, None, std::optional<T>> value_{};
};

template <typename T, typename Start>
class CallbackAwaiter;

}  // namespace detail

// The resolving end of a callback() await: call it once with the value (`resolver(v)`, or
// `resolver()` for T = void), or fail(error). Movable, not copyable; callable once (later calls do
// nothing); usable from any thread. Destroyed without being called, it resumes the coroutine with
// a std::runtime_error.
template <typename T>
class Resolver {
  public:
    Resolver() noexcept = default;
    Resolver(Resolver&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    Resolver& operator=(Resolver&& other) noexcept {
        if (this != &other) {
            drop();
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;
    ~Resolver() { drop(); }

    // clang-format off
    template <typename... V>
        requires(std::is_void_v<T> ? sizeof...(V) == 0
                                   : sizeof...(V) >= 1 && std::is_constructible_v<T, V...>)
    void operator()(V&&... value) noexcept {
        // clang-format on
        detail::CallbackState<T>* s = std::exchange(state_, nullptr);
        if (s == nullptr) return;
        try {
            s->set(std::forward<V>(value)...);
        } catch (...) {
            s->set_error(std::current_exception());  // the value could not be stored
        }
        s->deliver();
    }
    void fail(std::exception_ptr error) noexcept {
        detail::CallbackState<T>* s = std::exchange(state_, nullptr);
        if (s == nullptr) return;
        s->set_error(error ? std::move(error)
                           : std::make_exception_ptr(std::runtime_error(
                                 "callback(): Resolver::fail() was given no exception")));
        s->deliver();
    }
    // False once called (or moved from).
    explicit operator bool() const noexcept { return state_ != nullptr; }

  private:
    template <typename, typename>
    friend class detail::CallbackAwaiter;
    explicit Resolver(detail::CallbackState<T>* state) noexcept : state_(state) {
        state->add_ref();
    }
    void drop() noexcept {
        if (state_ == nullptr) return;
        // (The exception is made before the hand-over: the temporary runtime_error shares its
        // message with the copy the worker gets, and must be gone before the worker reads it.)
        std::exception_ptr error = std::make_exception_ptr(std::runtime_error(
            "callback(): the Resolver was destroyed without a value (the callback API or the "
            "executor dropped it), so the awaited operation will never complete"));
        fail(std::move(error));
    }

    detail::CallbackState<T>* state_ = nullptr;
};

namespace detail {

template <typename T, typename Start>
class [[nodiscard]] CallbackAwaiter {
    static_assert(std::is_invocable_v<Start&, Resolver<T>>,
                  "callback<T>(start): start must be callable with a Resolver<T> (by value)");

  public:
    explicit CallbackAwaiter(Start start) noexcept(std::is_nothrow_move_constructible_v<Start>)
        : start_(std::move(start)) {}
    CallbackAwaiter(const CallbackAwaiter&) = delete;
    CallbackAwaiter& operator=(const CallbackAwaiter&) = delete;
    ~CallbackAwaiter() {
        if (state_ != nullptr) state_->detach();
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        state_ = new CallbackState<T>(Loop::current());
        state_->begin_start();
        try {
            start_(Resolver<T>(state_));
        } catch (...) {
            start_error_ = std::current_exception();
            state_->fail_start();
            return false;
        }
        return state_->finish_start(h);
    }
    T await_resume() {
        if (start_error_) std::rethrow_exception(start_error_);
        return state_->take();
    }

  private:
    Start start_;
    CallbackState<T>* state_ = nullptr;  // one reference, from await_suspend on
    std::exception_ptr start_error_;
};

}  // namespace detail

// co_await callback<T>(start): see the top of this file. Worker thread only.
template <typename T, typename Start>
detail::CallbackAwaiter<T, Start> callback(Start start) {
    return detail::CallbackAwaiter<T, Start>(std::move(start));
}

// ---- offload ---------------------------------------------------------------------------------

// co_await offload(ex, fn, args...): runs fn(args...) on another thread — `ex.run(Task)`, or
// `ex(Task)` when ex has no run() — and resumes on the awaiting worker with its result (its
// exception rethrown). The arguments are copied (moved) into the job, so they may be the
// coroutine's own values: `co_await offload(pool, fetch_price, item)` (see "GCC 12" below). The
// job is a move-only net::Task: an executor that takes std::function<void()> cannot hold it
// (examples/cpp/thread_pool.h takes a Task). An executor that drops the job unrun resumes the
// coroutine with a std::runtime_error. `ex` is used only while the await starts. Worker thread
// only.
//
// GCC 12 (Debian 12's 12.2, at every optimisation level): a lambda that captures by value
// something with a destructor (a std::string, a shared_ptr), or another brace-initialised
// temporary, written inside a co_await expression is destroyed twice — a double free. Pass the
// values as offload's arguments, or make the lambda first:
//   auto job = [item] { return fetch_price(item); };
//   unsigned price = co_await offload(pool, std::move(job));
// (Lambdas that capture only references, pointers, numbers or `this` are not affected; neither
// is clang.)
template <typename Executor, typename Fn, typename... Args>
auto offload(Executor& ex, Fn fn, Args... args) {
    static_assert(std::is_invocable_v<Fn&, Args&...>,
                  "offload(ex, fn, args...): fn is called with the arguments given");
    using R = std::remove_cvref_t<std::invoke_result_t<Fn&, Args&...>>;
    static_assert(
        requires(Task job) { ex.run(std::move(job)); } ||
            requires(Task job) { ex(std::move(job)); },
        "offload(ex, fn): the executor must accept a net::Task as ex.run(task) or "
        "ex(task)");
    return callback<R>([&ex, fn = std::move(fn),
                        args = std::tuple<Args...>(std::move(args)...)](Resolver<R> done) mutable {
        Task job([fn = std::move(fn), args = std::move(args), done = std::move(done)]() mutable {
            std::exception_ptr error;
            try {
                if constexpr (std::is_void_v<R>) {
                    std::apply(fn, args);
                    done();
                } else {
                    done(std::apply(fn, args));
                }
            } catch (...) {
                error = std::current_exception();
            }
            // Handed over once this thread's catch has let go of the exception: from here on
            // only the worker touches it.
            if (error) done.fail(std::move(error));
        });
        if constexpr (requires { ex.run(std::move(job)); }) {
            ex.run(std::move(job));
        } else {
            ex(std::move(job));
        }
    });
}

// ---- request bodies --------------------------------------------------------------------------

// A streamed request body (RouteOptions::stream_body), awaited piece by piece:
//
//   server.route(Method::kPost, "/upload", [](Request& req, Response& res) -> Async<void> {
//       BodyChunks chunks(req.body_stream());           // before the first co_await
//       uint64_t n = 0;
//       while (auto piece = co_await chunks.next()) n += piece->size();
//       res.body(std::to_string(n));
//   }, RouteOptions{.stream_body = true, .max_body_size = 0});
//
// next() yields the bytes received since the last call (std::nullopt once the body is complete)
// and throws std::runtime_error when the body cannot complete: the client left, or the body broke
// its framing or the route's max_body_size (the request is answered 400/413 by the engine). A
// piece stays valid until the next call to next() (or the BodyChunks' end). Flow control: while
// the coroutine is not waiting in next() and a piece is held, the reader is paused (what the
// receive in progress still brings is kept: at most one receive buffer beyond the piece held) and
// it is resumed when the coroutine waits again; memory stays bounded however large the body.
// Take the reader before the coroutine first suspends (req.body_stream() is empty afterwards):
// bytes that arrive before it is set up are dropped, as for a BodyReader without on_data.
// Destroying a BodyChunks before the end drops the rest of the body (it is read and discarded).
// Worker thread only.
class BodyChunks {
  public:
    explicit BodyChunks(BodyReader reader);
    BodyChunks(BodyChunks&& other) noexcept;
    BodyChunks& operator=(BodyChunks&&) = delete;
    BodyChunks(const BodyChunks&) = delete;
    BodyChunks& operator=(const BodyChunks&) = delete;
    ~BodyChunks();

    class Next;
    // co_await next(): the next piece, or std::nullopt at the end. One await at a time. A
    // BodyChunks over an empty reader (not a streaming route, or the body taken already) throws
    // std::logic_error.
    Next next() noexcept;
    // Body bytes received so far.
    uint64_t received() const noexcept;

  private:
    struct State;
    std::shared_ptr<State> state_;
};

class [[nodiscard]] BodyChunks::Next {
  public:
    Next(const Next&) = delete;
    Next& operator=(const Next&) = delete;
    ~Next();

    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> h);
    std::optional<std::string_view> await_resume();

  private:
    friend class BodyChunks;
    explicit Next(State* state) noexcept : state_(state) {}
    State* state_;
};

}  // namespace nexure::net
