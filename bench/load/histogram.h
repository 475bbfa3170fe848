// LatencyHistogram: a log-linear histogram of latencies in microseconds, from 1 µs to 60 s, with
// three significant digits, in the manner of HdrHistogram (nexload, issue 7).
//
// Values below 2048 µs are counted exactly. Above, each power of two [2^k, 2^(k+1)) is split into
// 1024 equal sub-buckets, so a value is known to within 1/1024 of itself (< 0.1%: three
// significant digits). 16 such powers reach 2^26 µs (67 s): 17,408 counters, 136 KiB, fixed — no
// allocation while recording, and recording is an index computation and an increment.
// Histograms of the same shape merge by adding counters, so runs taken by several threads or
// machines combine exactly (`nexload merge`). Percentiles report the highest value that is
// equivalent (within the precision) to the one at that rank, as HdrHistogram does; the exact
// minimum and maximum are kept beside the counters.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace nexure::load {

class LatencyHistogram {
  public:
    static constexpr uint64_t kMaxMicros = 60'000'000;  // larger values count as this
    static constexpr unsigned kSubBucketBits = 10;      // 1024 sub-buckets per power of two
    static constexpr unsigned kBuckets = 17;            // [0, 2^11) exact, then 2^11 .. 2^27
    static constexpr size_t kCounters = size_t{kBuckets} << kSubBucketBits;

    // Counts one value (`count` values) of `micros`; 0 counts as 1 µs, beyond kMaxMicros as
    // kMaxMicros (and as saturated()).
    void record(uint64_t micros, uint64_t count = 1) noexcept;
    // Adds every count of `other`.
    void merge(const LatencyHistogram& other) noexcept;
    void reset() noexcept;

    uint64_t count() const noexcept { return total_; }
    uint64_t saturated() const noexcept { return saturated_; }
    uint64_t min() const noexcept { return total_ == 0 ? 0 : min_; }
    uint64_t max() const noexcept { return max_; }
    double mean() const noexcept;
    // The value at or below which `percent` (0..100) of the recorded values lie, to within the
    // precision (the highest value equivalent to it, never above max()); 0 when empty.
    uint64_t percentile(double percent) const noexcept;

    // The counters that are not zero, as (index, count) pairs in index order: what a report
    // stores so that histograms can be merged later. from_counts() rebuilds one from them and the
    // exact min, max and saturated count; it returns false (and leaves `out` empty) when they do
    // not fit together (an index out of range or out of order, a zero or overflowing count, a min
    // or max outside the first or last counter). The mean of a rebuilt histogram takes each
    // counter's middle value.
    std::vector<std::pair<uint32_t, uint64_t>> counts() const;
    static bool from_counts(const std::vector<std::pair<uint32_t, uint64_t>>& counts, uint64_t min,
                            uint64_t max, uint64_t saturated, LatencyHistogram* out);

    // The counter a value falls in, and the range of values that counter stands for.
    static uint32_t index_of(uint64_t micros) noexcept;
    static uint64_t lowest_of(uint32_t index) noexcept;
    static uint64_t highest_of(uint32_t index) noexcept;

  private:
    std::array<uint64_t, kCounters> counters_{};
    uint64_t total_ = 0;
    uint64_t saturated_ = 0;
    uint64_t min_ = UINT64_MAX;
    uint64_t max_ = 0;
    long double sum_ = 0;  // for the mean
};

}  // namespace nexure::load
