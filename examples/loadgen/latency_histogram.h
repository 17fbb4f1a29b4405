// File: examples/loadgen/latency_histogram.h
//
// A log-linear latency histogram in the manner of HdrHistogram: values below 32 are
// counted exactly; above, every power of two [2^k, 2^(k+1)) is split into 32 linear
// sub-buckets, so a reported percentile is within 1/64 of the true value (the bucket
// midpoint is reported) at any magnitude, in a fixed 16 KiB of counters.
#ifndef CONNSCHED_LOADGEN_LATENCY_HISTOGRAM_H_
#define CONNSCHED_LOADGEN_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace loadgen {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 5;
  static constexpr std::uint64_t kSubBuckets = 1u << kSubBucketBits;  // 32
  static constexpr std::size_t kBucketCount = kSubBuckets + (64 - kSubBucketBits) * kSubBuckets;

  /// Counts one value (nanoseconds, or any unit: the histogram is unit-free).
  void record(std::uint64_t value);
  /// Adds every count of `other` (merging per-thread histograms).
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  /// The value at percentile `p` (0 < p <= 100): the midpoint of the bucket holding the
  /// ceil(p% * count)-th smallest value, clamped to [min, max]; the exact max for the
  /// last rank; 0 when empty.
  std::uint64_t percentile(double p) const;

  /// The bucket a value falls into, and that bucket's [lower, upper] inclusive bounds.
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_lower(std::size_t bucket);
  static std::uint64_t bucket_upper(std::size_t bucket);

 private:
  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_LATENCY_HISTOGRAM_H_
