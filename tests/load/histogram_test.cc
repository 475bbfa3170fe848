// LatencyHistogram: exact below 2048 µs, three significant digits up to 60 s, exact merges and
// percentiles that agree with a sorted list of the same values.
#include "bench/load/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace nexure::load {
namespace {

// The histograms are 136 KiB each: on the heap.
std::unique_ptr<LatencyHistogram> make() {
    return std::make_unique<LatencyHistogram>();
}

// The value at `percent` of a sorted list, by the same rank rule (the smallest value whose share
// of the list reaches `percent`).
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double percent) {
    auto rank =
        static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(sorted.size())));
    rank = std::clamp<size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

TEST(LatencyHistogram, EmptyReportsZeros) {
    auto h = make();
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->min(), 0u);
    EXPECT_EQ(h->max(), 0u);
    EXPECT_EQ(h->percentile(50), 0u);
    EXPECT_EQ(h->mean(), 0.0);
    EXPECT_TRUE(h->counts().empty());
}

TEST(LatencyHistogram, ValuesBelow2048MicrosecondsAreExact) {
    auto h = make();
    for (uint64_t v = 1; v < 2048; ++v)
        h->record(v);
    EXPECT_EQ(h->count(), 2047u);
    for (uint64_t v = 1; v < 2048; v += 97) {
        // Halfway into the v-th value's share, clear of rounding at the edges.
        const double percent = 100.0 * (static_cast<double>(v) - 0.5) / 2047.0;
        EXPECT_EQ(h->percentile(percent), v) << percent;
    }
    EXPECT_EQ(h->percentile(100), 2047u);
    EXPECT_EQ(h->min(), 1u);
}

TEST(LatencyHistogram, EveryCounterCoversAContiguousRangeWithinOneThousandth) {
    uint64_t expected_low = 1;
    const uint32_t last = LatencyHistogram::index_of(LatencyHistogram::kMaxMicros);
    ASSERT_LT(last, LatencyHistogram::kCounters);
    for (uint32_t i = 1; i <= last; ++i) {
        const uint64_t low = LatencyHistogram::lowest_of(i);
        const uint64_t high = LatencyHistogram::highest_of(i);
        ASSERT_EQ(low, expected_low) << "gap or overlap before counter " << i;
        ASSERT_GE(high, low);
        ASSERT_LE(static_cast<double>(high - low), static_cast<double>(low) / 1024.0 + 1e-9) << i;
        ASSERT_EQ(LatencyHistogram::index_of(low), i);
        ASSERT_EQ(LatencyHistogram::index_of(high), i);
        expected_low = high + 1;
    }
    EXPECT_GT(expected_low, LatencyHistogram::kMaxMicros);  // the counters reach 60 s
}

TEST(LatencyHistogram, PercentilesMatchASortedListToThreeSignificantDigits) {
    std::mt19937_64 rng(12345);
    std::lognormal_distribution<double> latency(std::log(800.0), 1.5);  // µs, a long tail
    auto h = make();
    std::vector<uint64_t> values;
    for (int i = 0; i < 200'000; ++i) {
        const auto v = std::clamp<uint64_t>(static_cast<uint64_t>(latency(rng)), 1,
                                            LatencyHistogram::kMaxMicros);
        values.push_back(v);
        h->record(v);
    }
    std::sort(values.begin(), values.end());
    for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 99.999}) {
        const uint64_t exact = exact_percentile(values, p);
        const uint64_t got = h->percentile(p);
        EXPECT_GE(got, exact) << "p" << p;  // the highest equivalent value, never below
        EXPECT_LE(static_cast<double>(got - exact), static_cast<double>(exact) / 1000.0) << p;
    }
    EXPECT_EQ(h->min(), values.front());
    EXPECT_EQ(h->max(), values.back());
    EXPECT_EQ(h->percentile(100), values.back());
    double sum = 0;
    for (uint64_t v : values)
        sum += static_cast<double>(v);
    EXPECT_NEAR(h->mean(), sum / static_cast<double>(values.size()), 1e-6 * sum);
}

TEST(LatencyHistogram, OutOfRangeValuesAreClampedAndCounted) {
    auto h = make();
    h->record(0);
    h->record(LatencyHistogram::kMaxMicros + 1, 3);
    EXPECT_EQ(h->count(), 4u);
    EXPECT_EQ(h->saturated(), 3u);
    EXPECT_EQ(h->min(), 1u);
    EXPECT_EQ(h->max(), LatencyHistogram::kMaxMicros);
    EXPECT_EQ(h->percentile(99), LatencyHistogram::kMaxMicros);
}

TEST(LatencyHistogram, MergingEqualsRecordingEverythingInOne) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<uint64_t> small(1, 5000);
    std::uniform_int_distribution<uint64_t> large(5000, 30'000'000);
    auto a = make();
    auto b = make();
    auto both = make();
    for (int i = 0; i < 50'000; ++i) {
        const uint64_t x = small(rng);
        const uint64_t y = large(rng);
        a->record(x);
        b->record(y);
        both->record(x);
        both->record(y);
    }
    a->merge(*b);
    EXPECT_EQ(a->count(), both->count());
    EXPECT_EQ(a->min(), both->min());
    EXPECT_EQ(a->max(), both->max());
    EXPECT_EQ(a->counts(), both->counts());
    for (double p : {50.0, 90.0, 99.0, 99.9})
        EXPECT_EQ(a->percentile(p), both->percentile(p)) << p;
}

TEST(LatencyHistogram, CountsRoundTripThroughFromCounts) {
    auto h = make();
    for (uint64_t v : {3u, 3u, 900u, 4100u, 123'456u, 59'000'000u})
        h->record(v);
    h->record(LatencyHistogram::kMaxMicros + 5);
    auto back = make();
    ASSERT_TRUE(
        LatencyHistogram::from_counts(h->counts(), h->min(), h->max(), h->saturated(), back.get()));
    EXPECT_EQ(back->counts(), h->counts());
    EXPECT_EQ(back->count(), h->count());
    EXPECT_EQ(back->saturated(), 1u);
    for (double p : {10.0, 50.0, 75.0, 99.0, 100.0})
        EXPECT_EQ(back->percentile(p), h->percentile(p)) << p;
}

TEST(LatencyHistogram, FromCountsRejectsWhatDoesNotFitTogether) {
    auto out = make();
    using Counts = std::vector<std::pair<uint32_t, uint64_t>>;
    const Counts ok = {{5, 1}, {10, 2}};
    EXPECT_TRUE(LatencyHistogram::from_counts(ok, 5, 10, 0, out.get()));
    EXPECT_FALSE(LatencyHistogram::from_counts({{10, 1}, {5, 1}}, 5, 10, 0, out.get()));
    EXPECT_FALSE(LatencyHistogram::from_counts({{5, 0}}, 5, 5, 0, out.get()));
    EXPECT_FALSE(LatencyHistogram::from_counts(
        {{static_cast<uint32_t>(LatencyHistogram::kCounters), 1}}, 5, 5, 0, out.get()));
    EXPECT_FALSE(LatencyHistogram::from_counts(ok, 4, 10, 0, out.get()));  // min elsewhere
    EXPECT_FALSE(LatencyHistogram::from_counts(ok, 5, 11, 0, out.get()));  // max elsewhere
    EXPECT_FALSE(LatencyHistogram::from_counts(ok, 5, 10, 4, out.get()));  // saturated > count
    EXPECT_FALSE(LatencyHistogram::from_counts({{5, UINT64_MAX}, {10, 1}}, 5, 10, 0, out.get()));
    EXPECT_EQ(out->count(), 0u);  // left empty on failure
}

}  // namespace
}  // namespace nexure::load
