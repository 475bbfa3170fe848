#include "net/loop.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "alloc/result.h"
#include "net/detail/loop_state.h"

namespace nexure::net {

namespace detail {

namespace {

thread_local const std::shared_ptr<LoopState>* t_current = nullptr;
// The post ring: 4,096 posts between two loop turns before the (locked) overflow is used.
constexpr size_t kPostRingBytes = 64 * 1024;

// A timer or task callback runs like a handler: an exception is logged, the worker goes on.
void run_guarded(Task& fn, unsigned worker, const char* what) noexcept {
    try {
        fn();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nexure: worker %u: a %s threw: %s\n", worker, what, e.what());
    } catch (...) {
        std::fprintf(stderr, "nexure: worker %u: a %s threw a non-standard exception\n", worker,
                     what);
    }
}

void on_timer(void* arg) noexcept {
    auto* slot = static_cast<LoopState::TimerSlot*>(arg);
    LoopState* loop = slot->owner;
    Task fn = std::move(slot->fn);
    slot->fn = nullptr;
    ++slot->generation;  // its id is spent: cancel() now says false
    loop->free_timers.push_back(slot->index);
    run_guarded(fn, loop->index, "timer callback");
}

}  // namespace

const std::shared_ptr<LoopState>* current_loop() noexcept {
    return t_current;
}

void set_current_loop(const std::shared_ptr<LoopState>* state) noexcept {
    t_current = state;
}

Result<void> LoopState::init(int node) noexcept {
    return posts.init(kPostRingBytes, node);
}

void LoopState::run_posted() noexcept {
    engine::Mailbox::Record record;
    bool any = false;
    while (posts.next(&record)) {
        Task* task = nullptr;
        std::memcpy(&task, record.data, sizeof task);
        run_guarded(*task, index, "posted task");
        delete task;
        any = true;
    }
    if (any) posts.release();
    if (!has_overflow.load(std::memory_order_acquire)) return;
    {
        std::lock_guard lock(mutex);
        has_overflow.store(false, std::memory_order_relaxed);
        running.swap(overflow);
    }
    for (Task& fn : running)
        run_guarded(fn, index, "posted task");
    running.clear();
}

void LoopState::close() noexcept {
    std::vector<Task> dropped;
    {
        std::lock_guard lock(mutex);
        worker = nullptr;
        dropped.swap(overflow);
    }
    engine::Mailbox::Record record;
    while (posts.next(&record)) {  // dropped without running, like the overflow
        Task* task = nullptr;
        std::memcpy(&task, record.data, sizeof task);
        delete task;
    }
    posts.release();
    server = nullptr;
    timers.clear();  // disarms them (engine::Timer unlinks itself) while the wheel still exists
    free_timers.clear();
}

}  // namespace detail

Loop Loop::current() {
    const std::shared_ptr<detail::LoopState>* state = detail::current_loop();
    NEXURE_CHECK(state != nullptr && "Loop::current() called outside a worker thread");
    return Loop(*state);
}

TimerId Loop::after(uint64_t ms, Task fn) {
    NEXURE_CHECK(on_worker() && "Loop::after() called outside the loop's worker thread");
    detail::LoopState& s = *state_;
    detail::LoopState::TimerSlot* slot;
    if (!s.free_timers.empty()) {
        slot = s.timers[s.free_timers.back()].get();
        s.free_timers.pop_back();
    } else {
        auto fresh = std::make_unique<detail::LoopState::TimerSlot>();
        fresh->index = static_cast<uint32_t>(s.timers.size());
        fresh->owner = &s;
        fresh->timer.set_callback(detail::on_timer, fresh.get());
        slot = fresh.get();
        s.timers.push_back(std::move(fresh));
    }
    slot->fn = std::move(fn);
    engine::Worker& w = *s.worker;
    w.timers().schedule(&slot->timer, w.now_ns() + ms * 1'000'000);
    return (uint64_t{slot->generation} << 32) | (uint64_t{slot->index} + 1);
}

bool Loop::cancel(TimerId id) noexcept {
    if (!on_worker() || id == 0) return false;
    detail::LoopState& s = *state_;
    const uint64_t index = (id & 0xffffffffu) - 1;
    if (index >= s.timers.size()) return false;
    detail::LoopState::TimerSlot& slot = *s.timers[index];
    if (slot.generation != (id >> 32) || !slot.timer.armed()) return false;
    s.worker->timers().cancel(&slot.timer);
    slot.fn = nullptr;
    ++slot.generation;
    s.free_timers.push_back(slot.index);
    return true;
}

bool Loop::post(Task fn) const {
    detail::LoopState& s = *state_;
    std::lock_guard lock(s.mutex);  // one producer at a time; the worker cannot go meanwhile
    if (s.worker == nullptr) return false;
    bool wake = true;
    char* record = s.overflow.empty() ? s.posts.try_reserve(sizeof(Task*)) : nullptr;
    if (record != nullptr) {
        Task* task = new Task(std::move(fn));
        std::memcpy(record, &task, sizeof task);
        wake = s.posts.publish();  // true only when the worker is asleep or going to sleep
    } else {
        s.overflow.push_back(std::move(fn));  // the ring is full: rare, and still in order
        s.has_overflow.store(true, std::memory_order_release);
    }
    if (wake) s.worker->wake();
    return true;
}

unsigned Loop::index() const noexcept {
    return state_->index;
}

bool Loop::on_worker() const noexcept {
    const std::shared_ptr<detail::LoopState>* current = detail::current_loop();
    return current != nullptr && current->get() == state_.get();
}

}  // namespace nexure::net
