// TimerWheel: a hashed timing wheel for one worker (its owner thread only).
//
// Timers are intrusive: the owner embeds a Timer and keeps it alive while it is armed (destroying
// an armed Timer cancels it). Scheduling and cancelling are O(1). advance() fires every timer whose
// deadline has passed, in no particular order within one tick; a callback may schedule or cancel
// any timer, including its own. Deadlines beyond one rotation of the wheel wait in their slot and
// are skipped until their round comes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace nexure::engine {

class TimerWheel;

class Timer {
  public:
    using Callback = void (*)(void* arg) noexcept;

    Timer() = default;
    Timer(Callback callback, void* arg) noexcept : callback_(callback), arg_(arg) {}
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    void set_callback(Callback callback, void* arg) noexcept {
        callback_ = callback;
        arg_ = arg;
    }
    bool armed() const noexcept { return wheel_ != nullptr; }

  private:
    friend class TimerWheel;
    Timer* prev_ = nullptr;
    Timer* next_ = nullptr;
    TimerWheel* wheel_ = nullptr;
    uint64_t expires_tick_ = 0;
    bool firing_ = false;  // due, on the wheel's firing list, callback not yet run
    Callback callback_ = nullptr;
    void* arg_ = nullptr;
};

class TimerWheel {
  public:
    static constexpr unsigned kSlots = 1024;  // power of two

    // `tick_ns` is the resolution; a timer fires at the first advance() at or after its deadline,
    // rounded up to a tick.
    TimerWheel(uint64_t tick_ns, uint64_t now_ns) noexcept;
    ~TimerWheel();
    TimerWheel(const TimerWheel&) = delete;
    TimerWheel& operator=(const TimerWheel&) = delete;

    // Arms `timer` for `deadline_ns` (same clock as advance()); re-arms it if already armed.
    void schedule(Timer* timer, uint64_t deadline_ns) noexcept;
    void cancel(Timer* timer) noexcept;

    // Fires all timers due at `now_ns`.
    void advance(uint64_t now_ns) noexcept;

    // Nanoseconds from `now_ns` until the next occupied tick, 0 if one is due, -1 if none armed.
    int64_t ns_until_next(uint64_t now_ns) const noexcept;

    size_t size() const noexcept { return count_; }

  private:
    struct Slot {
        Timer* head = nullptr;
    };
    void link(Timer* timer) noexcept;
    void unlink(Timer* timer) noexcept;
    void run_slot(uint64_t tick) noexcept;

    // Due timers are moved here before any callback runs. They stay armed until their own
    // callback starts, so a callback can still cancel or re-arm a timer due in the same tick.
    Timer* firing_head_ = nullptr;
    uint64_t tick_ns_;
    uint64_t current_tick_;  // every tick before this one has been processed
    size_t count_ = 0;
    std::array<Slot, kSlots> slots_{};
    std::array<uint64_t, kSlots / 64> occupied_{};  // bit per non-empty slot
};

}  // namespace nexure::engine
