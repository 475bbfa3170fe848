#include "net/coro.h"

#include <new>
#include <string>

#include "alloc/result.h"
#include "net/detail/loop_state.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NEXURE_FRAME_CACHE 0  // frames checked like any other heap memory
#else
#define NEXURE_FRAME_CACHE 1
#endif

namespace nexure::net {

namespace detail {

namespace {

// The trampoline (resume()): set while it runs on this thread, with the continuation a
// finishing coroutine left for it.
constinit thread_local bool t_trampoline = false;
constinit thread_local std::coroutine_handle<> t_next{};

}  // namespace

void resume(std::coroutine_handle<> h) noexcept {
    // (Nested: a coroutine resumed from inside another one's run gets a trampoline of its own.)
    const bool outer = t_trampoline;
    const std::coroutine_handle<> saved = std::exchange(t_next, {});
    t_trampoline = true;
    for (;;) {
        h.resume();
        if (!t_next) break;
        h = std::exchange(t_next, {});
    }
    t_trampoline = outer;
    t_next = saved;
}

std::coroutine_handle<> continue_with(std::coroutine_handle<> next) noexcept {
    // Inside the trampoline (with its slot free), the finishing frame returns to it, off the
    // stack, and the trampoline resumes `next`; otherwise the compiler's symmetric transfer.
    if (t_trampoline && !t_next) {
        t_next = next;
        return std::noop_coroutine();
    }
    return next;
}

void resume_at_turn_end(ReadyNode& node, std::coroutine_handle<> h) noexcept {
    const std::shared_ptr<LoopState>* loop = current_loop();
    NEXURE_CHECK(loop != nullptr && "a coroutine was scheduled outside a worker thread");
    node.handle = h;
    (*loop)->ready.push(node);
}

void ReadyList::run() noexcept {
    if (empty()) return;
    // Takes the ready ones now; those they make ready wait for the next turn.
    ReadyList batch;
    batch.head_.next = head_.next;
    batch.head_.prev = head_.prev;
    batch.head_.next->prev = &batch.head_;
    batch.head_.prev->next = &batch.head_;
    head_.next = head_.prev = &head_;
    while (!batch.empty()) {
        ReadyNode* node = batch.head_.next;
        node->unlink();
        resume(node->handle);  // (the node may be gone afterwards)
    }
}

// ---- frames ----------------------------------------------------------------------------------

namespace {

#if NEXURE_FRAME_CACHE
// Size classes of 64 bytes up to 2 KiB; larger frames go to the heap every time. A thread keeps
// at most kMaxCachedBytes of freed frames for reuse (a worker's coroutines reuse a handful of
// sizes, so a few frames of each cover a steady load).
constexpr size_t kClassBytes = 64;
constexpr size_t kClasses = 32;
constexpr size_t kMaxCachedBytes = 256 * 1024;

struct FreeFrame {
    FreeFrame* next;
};

// Constant-initialised, trivially destructible: no guard on the allocation path, and usable
// while the thread exits (after `dead` is set, frames go straight back to the heap).
struct FrameCache {
    FreeFrame* heads[kClasses];
    size_t cached_bytes;
    bool reaper_armed;
    bool dead;
};
constinit thread_local FrameCache t_frames{};

// Frees a thread's cached frames when it exits; armed by the first frame cached.
struct FrameReaper {
    bool armed = false;
    ~FrameReaper() {
        t_frames.dead = true;
        for (FreeFrame*& head : t_frames.heads) {
            while (head != nullptr) {
                FreeFrame* f = head;
                head = f->next;
                ::operator delete(f);
            }
        }
        t_frames.cached_bytes = 0;
    }
};
thread_local FrameReaper t_reaper;

size_t class_of(size_t bytes) noexcept {
    return (bytes + kClassBytes - 1) / kClassBytes - 1;
}
#endif

}  // namespace

void* allocate_frame(size_t bytes) {
#if NEXURE_FRAME_CACHE
    const size_t c = class_of(bytes);
    if (c < kClasses) {
        if (FreeFrame* f = t_frames.heads[c]) {
            t_frames.heads[c] = f->next;
            t_frames.cached_bytes -= (c + 1) * kClassBytes;
            return f;
        }
        return ::operator new((c + 1) * kClassBytes);
    }
#endif
    return ::operator new(bytes);
}

void free_frame(void* frame, size_t bytes) noexcept {
#if NEXURE_FRAME_CACHE
    const size_t c = class_of(bytes);
    if (c < kClasses) {
        const size_t size = (c + 1) * kClassBytes;
        if (t_frames.dead || t_frames.cached_bytes + size > kMaxCachedBytes) {
            ::operator delete(frame);
            return;
        }
        if (!t_frames.reaper_armed) {
            t_frames.reaper_armed = true;
            t_reaper.armed = true;  // constructs it: its destructor runs at the thread's exit
        }
        auto* f = static_cast<FreeFrame*>(frame);
        f->next = t_frames.heads[c];
        t_frames.heads[c] = f;
        t_frames.cached_bytes += size;
        return;
    }
#endif
    (void)bytes;
    ::operator delete(frame);  // (unsized: clang enables sized deallocation only on request)
}

// ---- callback --------------------------------------------------------------------------------

bool CallbackStateBase::finish_start(std::coroutine_handle<> waiter) noexcept {
    starting_ = false;
    if (settled_) return false;
    waiter_ = waiter;
    waiting_ = true;
    return true;
}

void CallbackStateBase::detach() noexcept {
    waiting_ = false;
    node_.unlink();  // scheduled, but its frame is being destroyed
    release();
}

void CallbackStateBase::deliver() noexcept {
    if (loop_.on_worker()) {
        if (starting_) {
            settled_ = true;  // finish_start() goes on without suspending
        } else if (waiting_) {
            waiting_ = false;
            resume_at_turn_end(node_, waiter_);  // after the caller has returned
        }
        release();
        return;
    }
    // Another thread: the worker resumes the coroutine at its next turn. The task holds the
    // resolver's reference; a task that never runs (the server stopped) drops it.
    struct Held {
        explicit Held(CallbackStateBase* s) noexcept : state(s) {}
        Held(Held&& other) noexcept : state(std::exchange(other.state, nullptr)) {}
        Held(const Held&) = delete;
        ~Held() {
            if (state != nullptr) state->release();
        }
        CallbackStateBase* state;
    };
    loop_.post([held = Held(this)] {
        CallbackStateBase& s = *held.state;
        if (!s.waiting_) return;  // its frame was destroyed meanwhile
        s.waiting_ = false;
        resume(s.waiter_);
    });
}

}  // namespace detail

// ---- sleep -----------------------------------------------------------------------------------

Sleep::~Sleep() {
    if (timer_ != 0) Loop::current().cancel(timer_);
}

void Sleep::await_suspend(std::coroutine_handle<> h) {
    waiter_ = h;
    timer_ = Loop::current().after(ms_, [this] {
        timer_ = 0;
        detail::resume(waiter_);
    });
}

// ---- request bodies --------------------------------------------------------------------------

struct BodyChunks::State {
    explicit State(BodyReader r) noexcept : reader(std::move(r)) {}

    void wake() noexcept {
        if (!waiting) return;
        waiting = false;
        detail::resume_at_turn_end(node, waiter);  // never inside the connection's callback
    }
    void on_data(std::string_view bytes) {
        incoming.append(bytes);
        received += bytes.size();
        if (waiting) {
            wake();
        } else if (!paused) {
            // The coroutine is busy with a piece: keep this one, and stop reading until it asks.
            paused = true;
            reader.pause();
        }
    }
    void on_end() noexcept {
        ended = true;
        wake();
    }
    void on_abort() noexcept {
        aborted = true;
        wake();
    }

    BodyReader reader;
    std::string current;   // the piece handed out (valid until the next next())
    std::string incoming;  // received since
    detail::ReadyNode node;
    std::coroutine_handle<> waiter;
    uint64_t received = 0;
    bool waiting = false;  // a coroutine waits in next() and is not yet scheduled
    bool paused = false;   // we paused the reader
    bool ended = false;
    bool aborted = false;
};

BodyChunks::BodyChunks(BodyReader reader) : state_(std::make_shared<State>(std::move(reader))) {
    if (!state_->reader) return;
    // The connection owns the callbacks (and through them the state) until the body ends.
    state_->reader.on_data([s = state_](std::string_view bytes) { s->on_data(bytes); });
    state_->reader.on_end([s = state_] { s->on_end(); });
    state_->reader.on_abort([s = state_] { s->on_abort(); });
}

BodyChunks::BodyChunks(BodyChunks&& other) noexcept : state_(std::move(other.state_)) {}

BodyChunks::~BodyChunks() {
    if (!state_ || !state_->reader || state_->ended || state_->aborted) return;
    // Left before the end: the rest of the body is read and dropped.
    state_->reader.on_data(nullptr);
    state_->reader.on_end(nullptr);
    state_->reader.on_abort(nullptr);
    if (state_->paused) state_->reader.resume();
}

BodyChunks::Next BodyChunks::next() noexcept {
    if (state_) state_->current.clear();  // the previous piece ends here
    return Next(state_.get());
}

uint64_t BodyChunks::received() const noexcept {
    return state_ ? state_->received : 0;
}

BodyChunks::Next::~Next() {
    if (state_ == nullptr) return;
    state_->waiting = false;  // its frame is destroyed while it waits
    state_->node.unlink();
}

bool BodyChunks::Next::await_ready() const noexcept {
    const State* s = state_;
    return s == nullptr || !s->reader || s->aborted || s->ended || !s->incoming.empty();
}

void BodyChunks::Next::await_suspend(std::coroutine_handle<> h) {
    State& s = *state_;
    s.waiter = h;
    s.waiting = true;
    // Reading again may deliver what was held back at once: that schedules the resumption.
    if (s.paused) {
        s.paused = false;
        s.reader.resume();
    }
}

std::optional<std::string_view> BodyChunks::Next::await_resume() {
    State* s = state_;
    if (s == nullptr || !s->reader) {
        throw std::logic_error(
            "BodyChunks: no body to read (the route does not stream its body, or the body was "
            "taken already)");
    }
    if (s->aborted) {
        throw std::runtime_error(
            "BodyChunks: the request body ended before it was complete (the client left, or the "
            "body broke its framing or the route's size limit)");
    }
    if (!s->incoming.empty()) {
        s->current.swap(s->incoming);
        s->incoming.clear();
        return std::string_view(s->current);
    }
    return std::nullopt;
}

}  // namespace nexure::net
