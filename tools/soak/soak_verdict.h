// File: tools/soak/soak_verdict.h
//
// The soak test's verdict on one metric's series (descriptors, threads, memory): does
// it grow without levelling off? Pure functions, so the rule is unit-tested on made-up
// series (levelling off, linear growth, noisy flat, a step then flat).
//
// The rule. Leave out the warm-up (the first `warmup_fraction` of the run: caches,
// thread pools and allocator arenas fill up there). Split the samples after it into
// `windows` windows of equal sample count. The metric FAILS only when both hold:
//   1. it grew: the last window's median exceeds the first window's median by more
//      than the allowance, `allow_abs + allow_rel * first median`; and
//   2. it is still rising: the least-squares slope over the second half of the samples
//      after warm-up is significantly positive (t statistic > `min_t`) and large enough
//      to matter (it would add more than `min_rise_share` of the allowance across
//      that half).
// Medians make one spike harmless; the allowance absorbs a step that then stays flat;
// the slope test tells a curve that has levelled off (passes, however it got there)
// from one still climbing at the end (fails: a leak, or a queue that never drains).
#ifndef CONNSCHED_SOAK_SOAK_VERDICT_H_
#define CONNSCHED_SOAK_SOAK_VERDICT_H_

#include <cstddef>
#include <span>
#include <string>

namespace soak {

struct SeriesPoint {
  double t = 0;      ///< seconds since the load started
  double value = 0;  ///< the metric at that time
};

struct GrowthRule {
  double allow_abs = 0;  ///< growth always allowed, in the metric's unit
  double allow_rel = 0;  ///< growth allowed as a share of the first window's median
  double warmup_fraction = 0.25;
  std::size_t windows = 4;
  double min_t = 3.0;            ///< slope t statistic that counts as "still rising"
  double min_rise_share = 0.25;  ///< ... and the rise over the second half it must add
};

struct GrowthVerdict {
  bool pass = true;
  bool judged = false;  ///< false: too few samples after warm-up to judge (passes)
  double first_median = 0;
  double last_median = 0;
  double allowance = 0;
  double slope_per_s = 0;  ///< over the second half of the samples after warm-up
  double slope_t = 0;
  std::string reason;  ///< one line, for the report
};

/// Judges `series` (in time order) under `rule`.
GrowthVerdict judge_growth(std::span<const SeriesPoint> series, const GrowthRule& rule);

/// The median of `values` (0 for none).
double median(std::span<const double> values);

struct SlopeFit {
  double slope = 0;  ///< value units per second
  double t = 0;      ///< slope / its standard error (infinite for an exact positive line)
};

/// Least-squares line through `points`.
SlopeFit fit_slope(std::span<const SeriesPoint> points);

}  // namespace soak

#endif  // CONNSCHED_SOAK_SOAK_VERDICT_H_
