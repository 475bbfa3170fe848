#include "bench/load/histogram.h"

#include <algorithm>
#include <cmath>
#include <memory>

namespace nexure::load {

namespace {
constexpr uint64_t kExactBelow = uint64_t{1} << (LatencyHistogram::kSubBucketBits + 1);  // 2048
constexpr uint32_t kSubBuckets = uint32_t{1} << LatencyHistogram::kSubBucketBits;        // 1024
}  // namespace

uint32_t LatencyHistogram::index_of(uint64_t micros) noexcept {
    micros = std::clamp<uint64_t>(micros, 1, kMaxMicros);
    if (micros < kExactBelow) return static_cast<uint32_t>(micros);
    const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(micros));
    const unsigned shift = msb - kSubBucketBits;              // >= 1 here
    const auto sub = static_cast<uint32_t>(micros >> shift);  // in [1024, 2048)
    return shift * kSubBuckets + sub;
}

uint64_t LatencyHistogram::lowest_of(uint32_t index) noexcept {
    if (index < kExactBelow) return index;
    const unsigned shift = index / kSubBuckets - 1;
    const uint64_t sub = index - shift * kSubBuckets;
    return sub << shift;
}

uint64_t LatencyHistogram::highest_of(uint32_t index) noexcept {
    if (index < kExactBelow) return index;
    const unsigned shift = index / kSubBuckets - 1;
    const uint64_t sub = index - shift * kSubBuckets;
    return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::record(uint64_t micros, uint64_t count) noexcept {
    if (count == 0) return;
    if (micros > kMaxMicros) {
        saturated_ += count;
        micros = kMaxMicros;
    }
    if (micros == 0) micros = 1;
    counters_[index_of(micros)] += count;
    total_ += count;
    min_ = std::min(min_, micros);
    max_ = std::max(max_, micros);
    sum_ += static_cast<long double>(micros) * static_cast<long double>(count);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
    for (size_t i = 0; i < kCounters; ++i)
        counters_[i] += other.counters_[i];
    total_ += other.total_;
    saturated_ += other.saturated_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
}

void LatencyHistogram::reset() noexcept {
    *this = LatencyHistogram{};
}

double LatencyHistogram::mean() const noexcept {
    return total_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(total_));
}

uint64_t LatencyHistogram::percentile(double percent) const noexcept {
    if (total_ == 0) return 0;
    if (!(percent > 0)) return min_;  // also NaN
    if (percent >= 100) return max_;
    // The rank of the value asked for: the smallest whose share reaches `percent`.
    auto rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < kCounters; ++i) {
        seen += counters_[i];
        if (seen >= rank) {
            return std::clamp(highest_of(static_cast<uint32_t>(i)), min_, max_);
        }
    }
    return max_;
}

std::vector<std::pair<uint32_t, uint64_t>> LatencyHistogram::counts() const {
    std::vector<std::pair<uint32_t, uint64_t>> out;
    for (size_t i = 0; i < kCounters; ++i) {
        if (counters_[i] != 0) out.emplace_back(static_cast<uint32_t>(i), counters_[i]);
    }
    return out;
}

bool LatencyHistogram::from_counts(const std::vector<std::pair<uint32_t, uint64_t>>& counts,
                                   uint64_t min, uint64_t max, uint64_t saturated,
                                   LatencyHistogram* out) {
    auto h = std::make_unique<LatencyHistogram>();
    uint32_t previous = 0;
    for (const auto& [index, count] : counts) {
        if (index >= kCounters || index <= previous || count == 0 ||
            count > UINT64_MAX - h->total_) {
            out->reset();
            return false;
        }
        previous = index;
        h->counters_[index] = count;
        h->total_ += count;
        // The exact values are gone; the middle of each counter's range stands in for the mean.
        const long double mid =
            (static_cast<long double>(lowest_of(index)) + highest_of(index)) / 2;
        h->sum_ += mid * static_cast<long double>(count);
    }
    const bool consistent =
        h->total_ == 0
            ? (min == 0 && max == 0 && saturated == 0)
            : (min != 0 && min <= max && max <= kMaxMicros && saturated <= h->total_ &&
               index_of(min) == counts.front().first && index_of(max) == counts.back().first);
    if (!consistent) {
        out->reset();
        return false;
    }
    if (h->total_ != 0) {
        h->min_ = min;
        h->max_ = max;
        h->saturated_ = saturated;
    }
    *out = *h;
    return true;
}

}  // namespace nexure::load
