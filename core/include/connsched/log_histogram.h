// File: connsched/log_histogram.h
//
// The one log-linear histogram of the tree, in the manner of HdrHistogram
// (http://hdrhistogram.org): values below 64 are counted exactly; above, every power of
// two [2^k, 2^(k+1)) is split into 64 linear sub-buckets, so a reported percentile (the
// bucket's midpoint) is within 1/128 (0.8 %) of the true value at any magnitude, from
// 1 ns to the whole uint64 range, in a fixed 30 KiB of counters. Unit-free: the load
// generator records nanoseconds, pools microseconds.
//
// Header-only and free of core symbols, so a backend (which never links core) may use
// it too. Not thread-safe: keep one per thread, or guard it, and merge.
#ifndef CONNSCHED_LOG_HISTOGRAM_H_
#define CONNSCHED_LOG_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace connsched {

class LogHistogram {
 public:
  static constexpr int kSubBucketBits = 6;
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;  // 64
  static constexpr std::size_t kBucketCount = kSubBuckets + (64 - kSubBucketBits) * kSubBuckets;

  /// Counts one value.
  void record(std::uint64_t value) { record_n(value, 1); }

  /// Counts `n` occurrences of one value (a merged source, a corrected backlog).
  void record_n(std::uint64_t value, std::uint64_t n) {
    if (n == 0) return;
    counts_[bucket_of(value)] += n;
    count_ += n;
    sum_ += value * n;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }

  /// Adds every count of `other` (merging per-thread histograms).
  void merge(const LogHistogram& other) {
    for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  void reset() { *this = LogHistogram{}; }

  std::uint64_t count() const { return count_; }
  std::uint64_t sum() const { return sum_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  /// The value at percentile `p` (0 < p <= 100): the midpoint of the bucket holding the
  /// ceil(p% * count)-th smallest value, clamped to [min, max]; the exact max for the
  /// last rank; 0 when empty.
  std::uint64_t percentile(double p) const {
    // Walk the cumulative counts to the bucket holding the wanted rank; report its
    // midpoint, which halves the worst-case error of reporting either bound.
    if (count_ == 0) return 0;
    const double wanted =
        std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
    const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    if (rank >= count_) return max_;  // the largest value is known exactly
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBucketCount; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const std::uint64_t lower = bucket_lower(i);
        const std::uint64_t mid = lower + (bucket_upper(i) - lower) / 2;
        return std::clamp(mid, min_, max_);
      }
    }
    return max_;
  }

  /// How many recorded values are <= `value`, counting whole buckets (a Prometheus
  /// `le` bound): exact when `value` is a bucket's upper bound.
  std::uint64_t count_at_or_below(std::uint64_t value) const {
    const std::size_t last = bucket_of(value);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i <= last; ++i) seen += counts_[i];
    return seen;
  }

  /// The count in one bucket (to export or plot the whole distribution).
  std::uint64_t bucket_count(std::size_t bucket) const { return counts_[bucket]; }

  /// The bucket a value falls into, and that bucket's [lower, upper] inclusive bounds.
  static constexpr std::size_t bucket_of(std::uint64_t value) {
    // Small values index themselves; larger ones by (power of two, top bits below it).
    if (value < kSubBuckets) return static_cast<std::size_t>(value);
    const int k = std::bit_width(value) - 1;  // value in [2^k, 2^(k+1)), k >= kSubBucketBits
    const int shift = k - kSubBucketBits;
    const std::uint64_t sub = (value >> shift) - kSubBuckets;
    return static_cast<std::size_t>(kSubBuckets + static_cast<std::uint64_t>(shift) * kSubBuckets +
                                    sub);
  }
  static constexpr std::uint64_t bucket_lower(std::size_t bucket) {
    if (bucket < kSubBuckets) return bucket;
    const std::uint64_t shift = (bucket - kSubBuckets) / kSubBuckets;
    const std::uint64_t sub = (bucket - kSubBuckets) % kSubBuckets;
    return (kSubBuckets + sub) << shift;
  }
  static constexpr std::uint64_t bucket_upper(std::size_t bucket) {
    if (bucket < kSubBuckets) return bucket;
    const std::uint64_t shift = (bucket - kSubBuckets) / kSubBuckets;
    return bucket_lower(bucket) + ((std::uint64_t{1} << shift) - 1);
  }

 private:
  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace connsched

#endif  // CONNSCHED_LOG_HISTOGRAM_H_
