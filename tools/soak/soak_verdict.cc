// File: tools/soak/soak_verdict.cc
#include "soak_verdict.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace soak {

double median(std::span<const double> values) {
  // A copy is sorted: the caller's series keeps its time order.
  if (values.empty()) return 0;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  const std::size_t mid = sorted.size() / 2;
  return sorted.size() % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

SlopeFit fit_slope(std::span<const SeriesPoint> points) {
  // Ordinary least squares; the t statistic tells a real trend from noise.
  SlopeFit fit;
  const auto n = static_cast<double>(points.size());
  if (points.size() < 3) return fit;
  double mean_t = 0, mean_v = 0;
  for (const auto& p : points) {
    mean_t += p.t;
    mean_v += p.value;
  }
  mean_t /= n;
  mean_v /= n;
  double sxx = 0, sxy = 0;
  for (const auto& p : points) {
    sxx += (p.t - mean_t) * (p.t - mean_t);
    sxy += (p.t - mean_t) * (p.value - mean_v);
  }
  if (sxx <= 0) return fit;
  fit.slope = sxy / sxx;
  double residuals = 0;
  for (const auto& p : points) {
    const double r = p.value - (mean_v + fit.slope * (p.t - mean_t));
    residuals += r * r;
  }
  const double standard_error = std::sqrt(residuals / (n - 2) / sxx);
  if (standard_error > 0) {
    fit.t = fit.slope / standard_error;
  } else if (fit.slope != 0) {
    fit.t = std::copysign(std::numeric_limits<double>::infinity(), fit.slope);
  }
  return fit;
}

GrowthVerdict judge_growth(std::span<const SeriesPoint> series, const GrowthRule& rule) {
  // See the header for the rule and why it is shaped this way.
  GrowthVerdict out;
  if (series.size() < 2 || rule.windows == 0) {
    out.reason = "too few samples to judge";
    return out;
  }
  const double start = series.front().t;
  const double cut = start + rule.warmup_fraction * (series.back().t - start);
  const auto first_kept =
      std::find_if(series.begin(), series.end(), [&](const SeriesPoint& p) { return p.t >= cut; });
  const std::span<const SeriesPoint> kept(first_kept, series.end());
  const std::size_t per_window = kept.size() / rule.windows;
  if (per_window < 2) {
    out.reason = fmt::format("too few samples after warm-up to judge ({})", kept.size());
    return out;
  }
  out.judged = true;
  const auto window_median = [&](std::span<const SeriesPoint> window) {
    std::vector<double> values;
    for (const auto& p : window) values.push_back(p.value);
    return median(values);
  };
  out.first_median = window_median(kept.first(per_window));
  out.last_median = window_median(kept.last(per_window));
  out.allowance = rule.allow_abs + rule.allow_rel * std::abs(out.first_median);
  const auto second_half = kept.last(kept.size() - kept.size() / 2);
  const SlopeFit fit = fit_slope(second_half);
  out.slope_per_s = fit.slope;
  out.slope_t = fit.t;
  const double growth = out.last_median - out.first_median;
  const double half_span = second_half.back().t - second_half.front().t;
  const bool grew = growth > out.allowance;
  const bool rising =
      fit.t > rule.min_t && fit.slope * half_span > rule.min_rise_share * out.allowance;
  out.pass = !(grew && rising);
  out.reason = fmt::format(
      "{:.1f} -> {:.1f} (growth {:+.1f}, allowed {:.1f}){}; slope over the second half "
      "{:+.3f}/min (t {:.1f}){}",
      out.first_median, out.last_median, growth, out.allowance, grew ? " GREW" : "", fit.slope * 60,
      fit.t, rising ? " STILL RISING" : ", levelled off");
  return out;
}

}  // namespace soak
