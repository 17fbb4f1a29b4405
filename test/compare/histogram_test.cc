// File: test/compare/histogram_test.cc
//
// The load generator's log-linear latency histogram: exact below 32, every bucket
// within 1/32 of its lower bound, percentiles of a known distribution within the
// bound, merging equal to recording together.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "latency_histogram.h"

using loadgen::LatencyHistogram;

namespace {
// |reported - exact| / exact, the histogram's promise being at most 1/64 (a midpoint).
double relative_error(std::uint64_t reported, double exact) {
  return std::abs(static_cast<double>(reported) - exact) / exact;
}
}  // namespace

TEST_CASE("values below 32 are counted exactly") {
  LatencyHistogram h;
  for (std::uint64_t v = 0; v < 32; ++v) {
    CHECK(LatencyHistogram::bucket_of(v) == v);
    CHECK(LatencyHistogram::bucket_lower(v) == v);
    CHECK(LatencyHistogram::bucket_upper(v) == v);
    h.record(v);
  }
  CHECK(h.percentile(50) == 15);
  CHECK(h.percentile(100) == 31);
  CHECK(h.min() == 0);
}

TEST_CASE("every value falls in a bucket whose width is at most 1/32 of its lower bound") {
  std::mt19937_64 random(42);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t v = random() >> (random() % 64);
    const auto bucket = LatencyHistogram::bucket_of(v);
    REQUIRE(bucket < LatencyHistogram::kBucketCount);
    const auto lower = LatencyHistogram::bucket_lower(bucket);
    const auto upper = LatencyHistogram::bucket_upper(bucket);
    CAPTURE(v);
    CHECK(lower <= v);
    CHECK(v <= upper);
    if (lower >= 32) CHECK(static_cast<double>(upper - lower + 1) / lower <= 1.0 / 32 + 1e-12);
  }
  CHECK(LatencyHistogram::bucket_of(UINT64_MAX) == LatencyHistogram::kBucketCount - 1);
}

TEST_CASE("buckets are contiguous: each starts one past the previous one's end") {
  for (std::size_t b = 1; b < LatencyHistogram::kBucketCount; ++b) {
    CAPTURE(b);
    REQUIRE(LatencyHistogram::bucket_lower(b) == LatencyHistogram::bucket_upper(b - 1) + 1);
  }
}

TEST_CASE("percentiles of a uniform distribution are within 1/64 of the exact values") {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 1000000; ++v) h.record(v * 1000);  // 1 us .. 1 s in ns
  CHECK(h.count() == 1000000);
  CHECK(h.max() == 1000000000);
  CHECK(h.min() == 1000);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    CAPTURE(p);
    const double exact = p / 100 * 1e6 * 1000;
    CHECK(relative_error(h.percentile(p), exact) <= 1.0 / 64);
  }
  CHECK(h.percentile(100) == h.max());
  CHECK(std::abs(h.mean() - 500000.5 * 1000) < 1.0);
}

TEST_CASE("a heavy tail shows in p99.9 and max, not in p50") {
  LatencyHistogram h;
  for (int i = 0; i < 9990; ++i) h.record(100000);   // 100 us
  for (int i = 0; i < 10; ++i) h.record(200000000);  // 200 ms
  CHECK(relative_error(h.percentile(50), 100000) <= 1.0 / 64);
  CHECK(relative_error(h.percentile(99), 100000) <= 1.0 / 64);
  CHECK(relative_error(h.percentile(99.95), 200000000) <= 1.0 / 64);
  CHECK(h.max() == 200000000);
}

TEST_CASE("merging histograms equals recording every value in one") {
  LatencyHistogram a, b, both;
  std::mt19937_64 random(7);
  for (int i = 0; i < 50000; ++i) {
    const std::uint64_t v = random() % 10000000;
    (i % 2 == 0 ? a : b).record(v);
    both.record(v);
  }
  a.merge(b);
  CHECK(a.count() == both.count());
  CHECK(a.max() == both.max());
  CHECK(a.min() == both.min());
  for (double p : {1.0, 50.0, 99.0, 99.99}) CHECK(a.percentile(p) == both.percentile(p));
}

TEST_CASE("an empty histogram reports zeros") {
  LatencyHistogram h;
  CHECK(h.count() == 0);
  CHECK(h.percentile(99) == 0);
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  CHECK(h.mean() == 0);
}
