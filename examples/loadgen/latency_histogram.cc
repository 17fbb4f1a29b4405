// File: examples/loadgen/latency_histogram.cc
#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace loadgen {

std::size_t LatencyHistogram::bucket_of(std::uint64_t value) {
  // Small values index themselves; larger ones by (power of two, top 5 bits below it).
  if (value < kSubBuckets) return static_cast<std::size_t>(value);
  const int k = std::bit_width(value) - 1;  // value in [2^k, 2^(k+1)), k >= 5
  const int shift = k - kSubBucketBits;
  const std::uint64_t sub = (value >> shift) - kSubBuckets;
  return static_cast<std::size_t>(kSubBuckets + static_cast<std::uint64_t>(shift) * kSubBuckets +
                                  sub);
}

std::uint64_t LatencyHistogram::bucket_lower(std::size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const std::uint64_t shift = (bucket - kSubBuckets) / kSubBuckets;
  const std::uint64_t sub = (bucket - kSubBuckets) % kSubBuckets;
  return (kSubBuckets + sub) << shift;
}

std::uint64_t LatencyHistogram::bucket_upper(std::size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const std::uint64_t shift = (bucket - kSubBuckets) / kSubBuckets;
  return bucket_lower(bucket) + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t value) {
  ++counts_[bucket_of(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::percentile(double p) const {
  // Walk the cumulative counts to the bucket holding the wanted rank; report its
  // midpoint, which halves the worst-case error of reporting either bound.
  if (count_ == 0) return 0;
  const double wanted = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
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

}  // namespace loadgen
