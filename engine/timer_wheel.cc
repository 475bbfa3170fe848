#include "engine/timer_wheel.h"

#include <bit>

namespace nexure::engine {

Timer::~Timer() {
    if (wheel_ != nullptr) wheel_->cancel(this);
}

TimerWheel::TimerWheel(uint64_t tick_ns, uint64_t now_ns) noexcept
    : tick_ns_(tick_ns == 0 ? 1 : tick_ns), current_tick_(now_ns / tick_ns_) {}

TimerWheel::~TimerWheel() {
    for (Slot& slot : slots_) {
        while (slot.head != nullptr)
            unlink(slot.head);
    }
    while (firing_head_ != nullptr)
        unlink(firing_head_);
}

void TimerWheel::link(Timer* timer) noexcept {
    const unsigned index = timer->expires_tick_ & (kSlots - 1);
    Slot& slot = slots_[index];
    timer->prev_ = nullptr;
    timer->next_ = slot.head;
    if (slot.head != nullptr) slot.head->prev_ = timer;
    slot.head = timer;
    timer->wheel_ = this;
    occupied_[index / 64] |= uint64_t{1} << (index % 64);
    ++count_;
}

void TimerWheel::unlink(Timer* timer) noexcept {
    if (timer->firing_) {
        if (timer->prev_ != nullptr)
            timer->prev_->next_ = timer->next_;
        else
            firing_head_ = timer->next_;
        if (timer->next_ != nullptr) timer->next_->prev_ = timer->prev_;
        timer->prev_ = timer->next_ = nullptr;
        timer->wheel_ = nullptr;
        timer->firing_ = false;
        --count_;
        return;
    }
    const unsigned index = timer->expires_tick_ & (kSlots - 1);
    Slot& slot = slots_[index];
    if (timer->prev_ != nullptr)
        timer->prev_->next_ = timer->next_;
    else
        slot.head = timer->next_;
    if (timer->next_ != nullptr) timer->next_->prev_ = timer->prev_;
    timer->prev_ = timer->next_ = nullptr;
    timer->wheel_ = nullptr;
    if (slot.head == nullptr) occupied_[index / 64] &= ~(uint64_t{1} << (index % 64));
    --count_;
}

void TimerWheel::schedule(Timer* timer, uint64_t deadline_ns) noexcept {
    if (timer->wheel_ != nullptr) unlink(timer);
    uint64_t tick = (deadline_ns + tick_ns_ - 1) / tick_ns_;
    if (tick < current_tick_) tick = current_tick_;  // already due: fire at the next advance
    timer->expires_tick_ = tick;
    link(timer);
}

void TimerWheel::cancel(Timer* timer) noexcept {
    if (timer->wheel_ == this) unlink(timer);
}

void TimerWheel::run_slot(uint64_t tick) noexcept {
    // Move every due timer to the firing list first: callbacks may schedule into this very slot.
    const unsigned index = tick & (kSlots - 1);
    for (Timer* t = slots_[index].head; t != nullptr;) {
        Timer* next = t->next_;
        if (t->expires_tick_ <= tick) {
            unlink(t);
            t->wheel_ = this;
            t->firing_ = true;
            t->prev_ = nullptr;
            t->next_ = firing_head_;
            if (firing_head_ != nullptr) firing_head_->prev_ = t;
            firing_head_ = t;
            ++count_;
        }
        t = next;
    }
    // A callback may cancel or re-arm any timer still on the list; each pop re-reads the head.
    while (firing_head_ != nullptr) {
        Timer* t = firing_head_;
        unlink(t);
        if (t->callback_ != nullptr) t->callback_(t->arg_);
    }
}

void TimerWheel::advance(uint64_t now_ns) noexcept {
    const uint64_t target = now_ns / tick_ns_;
    if (target < current_tick_) return;
    // After a long pause, visiting each slot once is enough: run_slot fires everything due.
    uint64_t tick = target - current_tick_ >= kSlots ? target - kSlots + 1 : current_tick_;
    for (; tick <= target && count_ != 0; ++tick) {
        // Advance first, so that a timer scheduled "now" from a callback lands in the next tick
        // (which this loop or the next advance() visits), not in a slot already passed.
        current_tick_ = tick + 1;
        const unsigned index = tick & (kSlots - 1);
        if (occupied_[index / 64] & (uint64_t{1} << (index % 64))) run_slot(tick);
    }
    current_tick_ = target + 1;
}

int64_t TimerWheel::ns_until_next(uint64_t now_ns) const noexcept {
    if (count_ == 0) return -1;
    // Find the first occupied slot at or after current_tick_, wrapping once around the wheel.
    const unsigned start = current_tick_ & (kSlots - 1);
    unsigned step = 0;
    while (step <= kSlots) {
        const unsigned index = (start + step) & (kSlots - 1);
        const unsigned word = index / 64;
        const uint64_t bits = occupied_[word] >> (index % 64);
        if (bits != 0) {
            const unsigned distance = step + static_cast<unsigned>(std::countr_zero(bits));
            const uint64_t deadline = (current_tick_ + distance) * tick_ns_;
            return deadline > now_ns ? static_cast<int64_t>(deadline - now_ns) : 0;
        }
        step += 64 - (index % 64);
    }
    return static_cast<int64_t>(tick_ns_);
}

}  // namespace nexure::engine
