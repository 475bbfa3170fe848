#include "net/coro_handler.h"

#include <exception>
#include <string>

#include "net/detail/loop_state.h"
#include "net/worker_server.h"

namespace nexure::net::detail {

namespace {

// The exchanges' regions (a request's copied views and its scratch memory): 16 KiB chunks, a few
// kept for reuse, and up to 1 MiB of large mappings (copied bodies) kept too.
constexpr size_t kChunkBytes = 16 * 1024;
constexpr size_t kCachedChunks = 16;
constexpr size_t kCachedLargeBytes = 1024 * 1024;
// Exchanges a worker keeps for reuse; more are freed as they finish.
constexpr size_t kKeptExchanges = 64;

}  // namespace

// One coroutine request. It is the Responder of the coroutine's own Response: before the first
// suspension every defer()/stream()/upgrade() goes to the handler call's responder (and the
// exchange notes that the coroutine took its answer); after it, defer() hands over the place the
// exchange holds, stream() turns that place into a streamed answer, and upgrade() is refused.
class CoroutineHandlers::Exchange final : public http::Responder, public http::AnswerWatch {
  public:
    Exchange(CoroutineHandlers& handlers, alloc::ChunkCache& chunks) noexcept
        : owner(handlers), region(chunks) {}

    Later defer() noexcept override {
        if (call != nullptr) {
            Later later = call->defer();
            if (later.pending()) took(ticket_of(later));
            return later;
        }
        if (taken || !place.pending()) return {};
        taken = true;  // the coroutine answers through it now
        return std::move(place);
    }

    Stream stream(const http::Response& head, http::BodyFraming body,
                  uint64_t length) noexcept override {
        if (call != nullptr) {
            Stream s = call->stream(head, body, length);
            if (s.open()) took(ticket_of(s));
            return s;
        }
        if (taken || !place.pending()) return {};
        Stream s = owner.hub_.stream_deferred(ticket_of(place), head, body, length);
        if (s.open()) {
            taken = true;
            spend(place);  // the place is the stream's now
        }
        return s;
    }

    bool upgrade(const http::Response& head,
                 UniqueFunction<void(Upgraded)> take) noexcept override {
        if (call != nullptr) {
            const bool ok = call->upgrade(head, std::move(take));
            if (ok) taken = true;
            return ok;
        }
        response.fail(
            "upgrade() after the coroutine suspended: a protocol upgrade is accepted before the "
            "handler's first co_await");
        return false;
    }

    bool abandoned() const noexcept override {
        return has_ticket && !owner.hub_.answer_wanted(ticket);
    }

    void took(const Ticket& t) noexcept {
        taken = true;
        ticket = t;
        has_ticket = true;
    }

    CoroutineHandlers& owner;
    http::Request request;
    http::Response response;
    alloc::Region region;             // the request's copied views and its scratch memory
    Async<void> task;                 // the coroutine, once it has suspended
    Later place;                      // the request's place while the engine answers for it
    http::Responder* call = nullptr;  // the handler call's responder, until the first suspension
    Ticket ticket{};                  // where the answer goes (for abandoned())
    bool has_ticket = false;
    bool taken = false;        // the coroutine took its answer (a stream, a Later, an upgrade)
    Exchange* prev = nullptr;  // in the owner's live list
    Exchange* next = nullptr;  // in the live, free or finished list
};

CoroutineHandlers::CoroutineHandlers(WorkerServer& hub, int node) noexcept
    : hub_(hub),
      chunks_(alloc::ChunkCache::Options{.chunk_bytes = kChunkBytes,
                                         .max_cached = kCachedChunks,
                                         .node = node,
                                         .max_cached_oversize_bytes = kCachedLargeBytes}) {}

CoroutineHandlers::~CoroutineHandlers() {
    destroy_all();
}

void CoroutineHandlers::enter(void* handler, CoroutineEntry entry, const http::Request& req,
                              http::Response& res) {
    const std::shared_ptr<LoopState>* loop = current_loop();
    NEXURE_CHECK(loop != nullptr && (*loop)->server != nullptr &&
                 "a coroutine route handler was called outside a worker's request");
    (*loop)->server->coroutines_.run(handler, entry, req, res);
}

void CoroutineHandlers::run(void* handler, CoroutineEntry entry, const http::Request& req,
                            http::Response& res) {
    Exchange& ex = take();
    // The views stay where they are until the coroutine suspends; its scratch memory is the
    // exchange's from the start, so what it allocates there survives a suspension.
    ex.request = req;
    ex.request.use_scratch(&ex.region);
    ex.call = res.responder();
    ex.response.set_responder(&ex);
    Async<void> task;
    try {
        task = entry(handler, ex.request, ex.response);
    } catch (...) {
        give_back(ex);  // the frame could not be made (the body's own throws are in the promise)
        throw;
    }
    if (!task.done()) [[unlikely]] {
        suspend(ex, std::move(task), res);
        return;
    }
    // Finished without suspending: its answer is the worker's, like a plain handler's.
    std::exception_ptr error = AsyncAccess::promise(task).error_;
    task = {};
    res.swap(ex.response);
    give_back(ex);
    if (error) std::rethrow_exception(error);  // the handler's 500, logged by the worker
}

void CoroutineHandlers::suspend(Exchange& ex, Async<void> task, http::Response& res) {
    ex.call = nullptr;  // from here on the exchange answers defer() and stream() itself
    if (!ex.taken) {
        // The request keeps its place; the coroutine's Response fills it when it finishes.
        Later place = res.defer();
        if (!place.pending()) {
            // No place could be held (out of memory): `res` says why and is answered 500. The
            // coroutine could never answer: it is destroyed.
            task = {};
            give_back(ex);
            return;
        }
        ex.ticket = ticket_of(place);
        ex.has_ticket = true;
        ex.place = std::move(place);
    }
    // Now the receive buffer is about to be reused: the coroutine's request gets its own bytes.
    ex.request.own_views(ex.region, &ex);
    ex.task = std::move(task);
    PromiseBase& promise = AsyncAccess::promise(ex.task);
    promise.on_done_ = &CoroutineHandlers::finished;
    promise.on_done_arg_ = &ex;
    ex.prev = nullptr;
    ex.next = live_;
    if (live_ != nullptr) live_->prev = &ex;
    live_ = &ex;
    ++live_count_;
}

void CoroutineHandlers::finished(void* exchange) noexcept {
    // Inside the coroutine's final suspension: answer now, destroy the frame at the turn's end.
    Exchange& ex = *static_cast<Exchange*>(exchange);
    CoroutineHandlers& self = ex.owner;
    std::exception_ptr error = AsyncAccess::promise(ex.task).error_;
    if (ex.place.pending()) {
        // A throw is the handler error's 500 (logged by the worker); an answer nobody waits
        // for any more is dropped (its error still logged).
        if (error && !self.hub_.answer_wanted(ex.ticket)) self.report(error);
        ex.place.respond([&ex, error](http::Response& r) {
            if (error) std::rethrow_exception(error);
            r.swap(ex.response);
        });
    } else if (error) {
        self.report(error);  // it had taken its answer (a stream, a Later): no 500 can follow
    }
    // From the live list to this turn's finished ones.
    if (ex.prev != nullptr) {
        ex.prev->next = ex.next;
    } else {
        self.live_ = ex.next;
    }
    if (ex.next != nullptr) ex.next->prev = ex.prev;
    --self.live_count_;
    ex.prev = nullptr;
    ex.next = self.done_;
    self.done_ = &ex;
}

void CoroutineHandlers::reap() noexcept {
    while (done_ != nullptr) {
        Exchange& ex = *done_;
        done_ = ex.next;
        ex.task = {};  // the finished frame
        give_back(ex);
    }
    chunks_.trim();
}

void CoroutineHandlers::destroy_all() noexcept {
    reap();
    while (live_ != nullptr) {
        Exchange& ex = *live_;
        live_ = ex.next;
        --live_count_;
        ex.task = {};   // a suspended frame: its awaiters cancel their timers and callbacks
        ex.place = {};  // (its connection is gone: nothing is answered)
        ex.prev = nullptr;
        delete &ex;
    }
    while (free_ != nullptr) {
        Exchange* ex = free_;
        free_ = ex->next;
        delete ex;
    }
    free_count_ = 0;
}

CoroutineHandlers::Exchange& CoroutineHandlers::take() {
    if (free_ == nullptr) return *new Exchange(*this, chunks_);
    Exchange& ex = *free_;
    free_ = ex.next;
    --free_count_;
    ex.next = nullptr;
    return ex;
}

void CoroutineHandlers::give_back(Exchange& ex) noexcept {
    ex.response.reset();
    ex.response.set_responder(nullptr);
    ex.region.reset();
    ex.call = nullptr;
    ex.has_ticket = false;
    ex.taken = false;
    if (free_count_ >= kKeptExchanges) {
        delete &ex;
        return;
    }
    ex.next = free_;
    free_ = &ex;
    ++free_count_;
}

void CoroutineHandlers::report(std::exception_ptr error) noexcept {
    try {
        std::rethrow_exception(std::move(error));
    } catch (const std::exception& e) {
        hub_.report("a coroutine handler threw after it had answered or lost its client: ",
                    e.what());
    } catch (...) {
        hub_.report(
            "a coroutine handler threw a non-standard exception after it had answered "
            "or lost its client");
    }
}

}  // namespace nexure::net::detail
