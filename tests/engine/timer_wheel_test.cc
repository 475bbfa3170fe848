#include "engine/timer_wheel.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace nexure::engine {
namespace {

// A synthetic clock: 1 µs ticks, starting at an arbitrary tick-aligned time.
constexpr uint64_t kTick = 1000;
constexpr uint64_t kT0 = 5'000'000;
constexpr uint64_t at(uint64_t ticks) {
    return kT0 + ticks * kTick;
}

void count_fired(void* arg) noexcept {
    ++*static_cast<int*>(arg);
}

TEST(TimerWheel, FiresAtTheDeadlineAndNotBefore) {
    TimerWheel wheel(kTick, kT0);
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(5));
    EXPECT_TRUE(t.armed());
    EXPECT_EQ(wheel.size(), 1u);

    wheel.advance(at(4));
    EXPECT_EQ(fired, 0);
    wheel.advance(at(5) - 1);
    EXPECT_EQ(fired, 0);
    wheel.advance(at(5));
    EXPECT_EQ(fired, 1);
    EXPECT_FALSE(t.armed());
    EXPECT_EQ(wheel.size(), 0u);

    wheel.advance(at(50));
    EXPECT_EQ(fired, 1) << "a timer fires once";
}

TEST(TimerWheel, UnalignedDeadlineFiresAtTheNextTickBoundary) {
    TimerWheel wheel(kTick, kT0);
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(2) + kTick / 2);
    wheel.advance(at(2) + kTick / 2);  // within the tick that holds the deadline: rounded up
    EXPECT_EQ(fired, 0);
    wheel.advance(at(3) - 1);
    EXPECT_EQ(fired, 0);
    wheel.advance(at(3));
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, LateAdvanceFiresAnOverdueTimer) {
    TimerWheel wheel(kTick, kT0);
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(3));
    wheel.advance(at(9));
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, DeadlineInThePastFiresAtTheNextAdvance) {
    TimerWheel wheel(kTick, kT0);
    wheel.advance(at(10));
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(2));
    EXPECT_LE(wheel.ns_until_next(at(10)), static_cast<int64_t>(kTick))
        << "overdue: at most one tick away";
    wheel.advance(at(11));
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, CancelledTimerDoesNotFire) {
    TimerWheel wheel(kTick, kT0);
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(5));
    wheel.cancel(&t);
    EXPECT_FALSE(t.armed());
    EXPECT_EQ(wheel.size(), 0u);
    wheel.advance(at(100));
    EXPECT_EQ(fired, 0);
    wheel.cancel(&t);  // cancelling an unarmed timer is harmless
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, CancelLeavesOtherTimersInTheSameSlotArmed) {
    TimerWheel wheel(kTick, kT0);
    int a = 0;
    int b = 0;
    int c = 0;
    Timer ta(count_fired, &a);
    Timer tb(count_fired, &b);
    Timer tc(count_fired, &c);
    for (Timer* t : {&ta, &tb, &tc})
        wheel.schedule(t, at(7));
    wheel.cancel(&tb);  // the middle of the slot's list
    EXPECT_EQ(wheel.size(), 2u);
    wheel.advance(at(7));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(c, 1);
}

TEST(TimerWheel, RescheduleMovesTheDeadline) {
    TimerWheel wheel(kTick, kT0);
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(5));
    wheel.schedule(&t, at(10));  // later
    EXPECT_EQ(wheel.size(), 1u);
    wheel.advance(at(9));
    EXPECT_EQ(fired, 0);
    wheel.advance(at(10));
    EXPECT_EQ(fired, 1);

    wheel.schedule(&t, at(30));
    wheel.schedule(&t, at(12));  // earlier
    wheel.advance(at(12));
    EXPECT_EQ(fired, 2);
    wheel.advance(at(40));
    EXPECT_EQ(fired, 2);
}

// A timer that re-arms itself `period` ticks after each firing, a fixed number of times.
struct Periodic {
    TimerWheel* wheel;
    Timer timer;
    uint64_t now = 0;  // the test sets this before each advance
    uint64_t period_ticks = 2;
    int remaining = 0;
    std::vector<uint64_t> fired_at;

    static void on_fire(void* arg) noexcept {
        auto* self = static_cast<Periodic*>(arg);
        self->fired_at.push_back(self->now);
        if (--self->remaining > 0)
            self->wheel->schedule(&self->timer, self->now + self->period_ticks * kTick);
    }
};

TEST(TimerWheel, CallbackCanRescheduleItsOwnTimer) {
    TimerWheel wheel(kTick, kT0);
    Periodic p{&wheel, Timer(), 0, 2, 4, {}};
    p.timer.set_callback(Periodic::on_fire, &p);
    wheel.schedule(&p.timer, at(2));
    for (uint64_t tick = 1; tick <= 20; ++tick) {
        p.now = at(tick);
        wheel.advance(p.now);
    }
    EXPECT_EQ(p.fired_at, (std::vector<uint64_t>{at(2), at(4), at(6), at(8)}));
    EXPECT_FALSE(p.timer.armed());
}

struct Chain {
    TimerWheel* wheel;
    Timer* next;
    uint64_t next_deadline;
    int fired = 0;
    static void on_fire(void* arg) noexcept {
        auto* self = static_cast<Chain*>(arg);
        ++self->fired;
        self->wheel->schedule(self->next, self->next_deadline);
    }
};

TEST(TimerWheel, CallbackCanScheduleAnotherTimer) {
    TimerWheel wheel(kTick, kT0);
    int second = 0;
    Timer t2(count_fired, &second);
    Chain chain{&wheel, &t2, at(8)};
    Timer t1(Chain::on_fire, &chain);
    wheel.schedule(&t1, at(3));
    wheel.advance(at(3));
    EXPECT_EQ(chain.fired, 1);
    EXPECT_TRUE(t2.armed());
    wheel.advance(at(7));
    EXPECT_EQ(second, 0);
    wheel.advance(at(8));
    EXPECT_EQ(second, 1);
}

// The timer wheel promises that a timer fires at the first advance() at or after its deadline,
// and that callbacks may schedule timers. A timer scheduled from a callback with a deadline that
// has already been reached must therefore fire at the latest at the next advance.
TEST(TimerWheel, TimerScheduledAsDueFromACallbackFiresByTheNextAdvance) {
    TimerWheel wheel(kTick, kT0);
    int second = 0;
    Timer t2(count_fired, &second);
    Chain chain{&wheel, &t2, at(3)};  // due at the very tick being processed
    Timer t1(Chain::on_fire, &chain);
    wheel.schedule(&t1, at(3));
    wheel.advance(at(3));
    ASSERT_EQ(chain.fired, 1);
    EXPECT_LE(wheel.ns_until_next(at(3)), static_cast<int64_t>(kTick))
        << "a due timer is armed, so the loop must not sleep longer than a tick";
    wheel.advance(at(4));
    EXPECT_EQ(second, 1) << "the due timer was not fired by the next advance";
    if (second == 0) {
        // How late is it? (Only for the failure message.)
        uint64_t tick = 5;
        for (; tick < 3000 && second == 0; ++tick)
            wheel.advance(at(tick));
        ADD_FAILURE() << "it fired only at tick " << tick - 1 << " (scheduled for tick 3)";
    }
}

// Two timers due in the same tick: whichever fires first cancels the other.
struct Canceller {
    TimerWheel* wheel;
    Timer* other = nullptr;
    int fired = 0;
    static void on_fire(void* arg) noexcept {
        auto* self = static_cast<Canceller*>(arg);
        ++self->fired;
        self->wheel->cancel(self->other);
    }
};

TEST(TimerWheel, CallbackCancellingATimerDueInTheSameTickPreventsIt) {
    TimerWheel wheel(kTick, kT0);
    Canceller a{&wheel};
    Canceller b{&wheel};
    Timer ta(Canceller::on_fire, &a);
    Timer tb(Canceller::on_fire, &b);
    a.other = &tb;
    b.other = &ta;
    wheel.schedule(&ta, at(4));
    wheel.schedule(&tb, at(4));
    wheel.advance(at(4));
    EXPECT_EQ(a.fired + b.fired, 1) << "a timer cancelled before its callback ran must not fire";
    EXPECT_FALSE(ta.armed());
    EXPECT_FALSE(tb.armed());
    EXPECT_EQ(wheel.size(), 0u);
}

// Two timers due in the same tick: whichever fires first moves the other 10 ticks later.
struct PostponePair {
    TimerWheel* wheel;
    Timer timers[2];
    int fired[2] = {0, 0};
    uint64_t fired_at[2] = {0, 0};
    bool postponed = false;
    uint64_t now = 0;
};
struct PostponeRef {
    PostponePair* pair;
    int index;
    static void on_fire(void* arg) noexcept {
        auto* self = static_cast<PostponeRef*>(arg);
        PostponePair& p = *self->pair;
        ++p.fired[self->index];
        p.fired_at[self->index] = p.now;
        if (!p.postponed) {
            p.postponed = true;
            p.wheel->schedule(&p.timers[1 - self->index], p.now + 10 * kTick);
        }
    }
};

TEST(TimerWheel, CallbackReschedulingATimerDueInTheSameTickDefersIt) {
    TimerWheel wheel(kTick, kT0);
    PostponePair pair{&wheel, {}, {0, 0}, {0, 0}, false, 0};
    PostponeRef refs[2] = {{&pair, 0}, {&pair, 1}};
    for (int i = 0; i < 2; ++i) {
        pair.timers[i].set_callback(PostponeRef::on_fire, &refs[i]);
        wheel.schedule(&pair.timers[i], at(4));
    }
    pair.now = at(4);
    wheel.advance(pair.now);
    // Exactly one fired now; the other was moved to tick 14 before its callback ran.
    ASSERT_EQ(pair.fired[0] + pair.fired[1], 1) << "the postponed timer fired at its old deadline";
    const int later = pair.fired[0] == 1 ? 1 : 0;
    EXPECT_TRUE(pair.timers[later].armed());
    EXPECT_EQ(wheel.size(), 1u);
    for (uint64_t tick = 5; tick <= 20; ++tick) {
        pair.now = at(tick);
        wheel.advance(pair.now);
    }
    EXPECT_EQ(pair.fired[later], 1);
    EXPECT_EQ(pair.fired_at[later], at(14));
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, FarDeadlinesBeyondOneRotationFireOnlyWhenDue) {
    TimerWheel wheel(kTick, kT0);
    const uint64_t far[] = {TimerWheel::kSlots + 476, 3 * TimerWheel::kSlots + 1, 5000};
    int fired[3] = {};
    uint64_t fired_tick[3] = {};
    Timer timers[3];
    for (int i = 0; i < 3; ++i) {
        timers[i].set_callback(count_fired, &fired[i]);
        wheel.schedule(&timers[i], at(far[i]));
    }
    for (uint64_t tick = 1; tick <= 6000; ++tick) {
        wheel.advance(at(tick));
        for (int i = 0; i < 3; ++i) {
            if (fired[i] == 1 && fired_tick[i] == 0) fired_tick[i] = tick;
        }
    }
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(fired[i], 1) << "timer " << i;
        EXPECT_EQ(fired_tick[i], far[i]) << "timer " << i;
    }
}

TEST(TimerWheel, TimerInTheSameSlotButALaterRotationWaits) {
    TimerWheel wheel(kTick, kT0);
    int near_fired = 0;
    int far_fired = 0;
    Timer near(count_fired, &near_fired);
    Timer far(count_fired, &far_fired);
    wheel.schedule(&near, at(10));
    wheel.schedule(&far, at(10 + TimerWheel::kSlots));  // same slot, one rotation later
    wheel.advance(at(10));
    EXPECT_EQ(near_fired, 1);
    EXPECT_EQ(far_fired, 0);
    EXPECT_TRUE(far.armed());
    wheel.advance(at(10 + TimerWheel::kSlots));
    EXPECT_EQ(far_fired, 1);
}

TEST(TimerWheel, NsUntilNextReportsTheNearestDeadline) {
    TimerWheel wheel(kTick, kT0);
    EXPECT_EQ(wheel.ns_until_next(kT0), -1) << "nothing armed";
    int fired = 0;
    Timer t1(count_fired, &fired);
    Timer t2(count_fired, &fired);
    wheel.schedule(&t1, at(40));
    wheel.schedule(&t2, at(5));
    EXPECT_EQ(wheel.ns_until_next(kT0), static_cast<int64_t>(5 * kTick));
    EXPECT_EQ(wheel.ns_until_next(kT0 + 300), static_cast<int64_t>(5 * kTick - 300));
    EXPECT_EQ(wheel.ns_until_next(at(5)), 0) << "due now";
    EXPECT_EQ(wheel.ns_until_next(at(7)), 0) << "overdue";
    wheel.advance(at(5));
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(wheel.ns_until_next(at(5)), static_cast<int64_t>(35 * kTick));
    wheel.cancel(&t1);
    EXPECT_EQ(wheel.ns_until_next(at(5)), -1);
}

TEST(TimerWheel, NsUntilNextNeverOverstatesAFarDeadline) {
    TimerWheel wheel(kTick, kT0);
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(3000));
    const int64_t wait = wheel.ns_until_next(kT0);
    EXPECT_GT(wait, 0);
    EXPECT_LE(wait, static_cast<int64_t>(3000 * kTick));
}

TEST(TimerWheel, DestroyingAnArmedTimerUnlinksIt) {
    TimerWheel wheel(kTick, kT0);
    int kept = 0;
    int dropped = 0;
    Timer before(count_fired, &kept);
    wheel.schedule(&before, at(6));
    {
        auto doomed = std::make_unique<Timer>(count_fired, &dropped);
        wheel.schedule(doomed.get(), at(6));  // same slot as the others
        EXPECT_EQ(wheel.size(), 2u);
    }
    Timer after(count_fired, &kept);
    wheel.schedule(&after, at(6));
    EXPECT_EQ(wheel.size(), 2u);
    wheel.advance(at(6));
    EXPECT_EQ(kept, 2);
    EXPECT_EQ(dropped, 0);
    EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, DestroyingTheWheelDisarmsItsTimers) {
    int fired = 0;
    Timer t(count_fired, &fired);
    {
        TimerWheel wheel(kTick, kT0);
        wheel.schedule(&t, at(3));
        EXPECT_TRUE(t.armed());
    }
    EXPECT_FALSE(t.armed());
    EXPECT_EQ(fired, 0);
}

TEST(TimerWheel, AdvanceAfterALongGapFiresEverythingDue) {
    TimerWheel wheel(kTick, kT0);
    constexpr int kCount = 3000;
    std::vector<int> fired(kCount, 0);
    std::vector<Timer> timers(kCount);
    for (int i = 0; i < kCount; ++i) {
        timers[i].set_callback(count_fired, &fired[i]);
        wheel.schedule(&timers[i],
                       at(1 + static_cast<uint64_t>(i) * 3));  // spread over ~9000 ticks
    }
    int not_due = 0;
    Timer later(count_fired, &not_due);
    wheel.schedule(&later, at(20'000));

    wheel.advance(at(10'000));
    for (int i = 0; i < kCount; ++i)
        ASSERT_EQ(fired[i], 1) << "timer " << i;
    EXPECT_EQ(not_due, 0);
    EXPECT_EQ(wheel.size(), 1u);
    wheel.advance(at(19'999));
    EXPECT_EQ(not_due, 0);
    wheel.advance(at(20'000));
    EXPECT_EQ(not_due, 1);
}

TEST(TimerWheel, AdvanceBackwardsDoesNothing) {
    TimerWheel wheel(kTick, kT0);
    wheel.advance(at(10));
    int fired = 0;
    Timer t(count_fired, &fired);
    wheel.schedule(&t, at(12));
    wheel.advance(at(5));
    EXPECT_EQ(fired, 0);
    EXPECT_TRUE(t.armed());
    wheel.advance(at(12));
    EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, ManyTimersInOneSlotAllFire) {
    TimerWheel wheel(kTick, kT0);
    constexpr int kCount = 500;
    int fired = 0;
    std::vector<Timer> timers(kCount);
    for (Timer& t : timers) {
        t.set_callback(count_fired, &fired);
        wheel.schedule(&t, at(9));
    }
    EXPECT_EQ(wheel.size(), static_cast<size_t>(kCount));
    wheel.advance(at(9));
    EXPECT_EQ(fired, kCount);
    EXPECT_EQ(wheel.size(), 0u);
}

}  // namespace
}  // namespace nexure::engine
