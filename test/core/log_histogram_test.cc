// File: test/core/log_histogram_test.cc
//
// The tree's one log-linear histogram (the load generator's latencies, the object
// pool's borrow waits): exact below 64, every bucket within 1/64 of its lower bound,
// percentiles of a known distribution within 1 % from 1 us to 100 s, merging equal to
// recording together.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "connsched/log_histogram.h"

using connsched::LogHistogram;

namespace {
// |reported - exact| / exact, the histogram's promise being at most 1/128 (a midpoint).
double relative_error(std::uint64_t reported, double exact) {
  return std::abs(static_cast<double>(reported) - exact) / exact;
}
}  // namespace

TEST_CASE("values below 64 are counted exactly") {
  LogHistogram h;
  for (std::uint64_t v = 0; v < 64; ++v) {
    CHECK(LogHistogram::bucket_of(v) == v);
    CHECK(LogHistogram::bucket_lower(v) == v);
    CHECK(LogHistogram::bucket_upper(v) == v);
    h.record(v);
  }
  CHECK(h.percentile(50) == 31);
  CHECK(h.percentile(100) == 63);
  CHECK(h.min() == 0);
}

TEST_CASE("every value falls in a bucket whose width is at most 1/64 of its lower bound") {
  std::mt19937_64 random(42);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t v = random() >> (random() % 64);
    const auto bucket = LogHistogram::bucket_of(v);
    REQUIRE(bucket < LogHistogram::kBucketCount);
    const auto lower = LogHistogram::bucket_lower(bucket);
    const auto upper = LogHistogram::bucket_upper(bucket);
    CAPTURE(v);
    CHECK(lower <= v);
    CHECK(v <= upper);
    if (lower >= 64) CHECK(static_cast<double>(upper - lower + 1) / lower <= 1.0 / 64 + 1e-12);
  }
  CHECK(LogHistogram::bucket_of(UINT64_MAX) == LogHistogram::kBucketCount - 1);
}

TEST_CASE("buckets are contiguous: each starts one past the previous one's end") {
  for (std::size_t b = 1; b < LogHistogram::kBucketCount; ++b) {
    CAPTURE(b);
    REQUIRE(LogHistogram::bucket_lower(b) == LogHistogram::bucket_upper(b - 1) + 1);
  }
}

TEST_CASE("percentiles of a uniform distribution are within 1/128 of the exact values") {
  LogHistogram h;
  for (std::uint64_t v = 1; v <= 1000000; ++v) h.record(v * 1000);  // 1 us .. 1 s in ns
  CHECK(h.count() == 1000000);
  CHECK(h.max() == 1000000000);
  CHECK(h.min() == 1000);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    CAPTURE(p);
    const double exact = p / 100 * 1e6 * 1000;
    CHECK(relative_error(h.percentile(p), exact) <= 1.0 / 128);
  }
  CHECK(h.percentile(100) == h.max());
  CHECK(std::abs(h.mean() - 500000.5 * 1000) < 1.0);
}

TEST_CASE("a heavy tail shows in p99.9 and max, not in p50") {
  LogHistogram h;
  for (int i = 0; i < 9990; ++i) h.record(100000);   // 100 us
  for (int i = 0; i < 10; ++i) h.record(200000000);  // 200 ms
  CHECK(relative_error(h.percentile(50), 100000) <= 1.0 / 128);
  CHECK(relative_error(h.percentile(99), 100000) <= 1.0 / 128);
  CHECK(relative_error(h.percentile(99.95), 200000000) <= 1.0 / 128);
  CHECK(h.max() == 200000000);
}

TEST_CASE("merging histograms equals recording every value in one") {
  LogHistogram a, b, both;
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
  LogHistogram h;
  CHECK(h.count() == 0);
  CHECK(h.percentile(99) == 0);
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  CHECK(h.mean() == 0);
}

TEST_CASE("percentiles stay within 1 % at the edges: 1 us and 100 s in nanoseconds") {
  for (std::uint64_t value : {std::uint64_t{1000}, std::uint64_t{100} * 1000 * 1000 * 1000}) {
    LogHistogram h;
    for (int i = 0; i < 99; ++i) h.record(value);
    h.record(value * 2);  // the max, so p50 is read from a bucket, not from max()
    CAPTURE(value);
    CHECK(relative_error(h.percentile(50), static_cast<double>(value)) <= 0.01);
    CHECK(h.max() == value * 2);
  }
}

TEST_CASE("count_at_or_below gives cumulative counts for Prometheus buckets") {
  LogHistogram h;
  h.record_n(10, 3);
  h.record(1000);
  h.record(1000000);
  CHECK(h.count_at_or_below(9) == 0);
  CHECK(h.count_at_or_below(10) == 3);
  CHECK(h.count_at_or_below(LogHistogram::bucket_upper(LogHistogram::bucket_of(1000))) == 4);
  CHECK(h.count_at_or_below(UINT64_MAX) == 5);
  CHECK(h.sum() == 30 + 1000 + 1000000);
}
