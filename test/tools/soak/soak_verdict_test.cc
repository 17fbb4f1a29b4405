// File: test/tools/soak/soak_verdict_test.cc
//
// The soak verdict on made-up series: growth that levels off passes, growth that goes
// on fails, noise and a one-off step pass; and the report helpers around it.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "soak_report.h"
#include "soak_verdict.h"

using namespace soak;

namespace {

// 30 minutes sampled every 5 s, as the full soak does.
template <typename F>
std::vector<SeriesPoint> series(F f, double seconds = 1800, double period = 5) {
  std::vector<SeriesPoint> out;
  for (double t = 0; t <= seconds; t += period) out.push_back({t, f(t)});
  return out;
}

// Deterministic noise in [-1, 1] (a fixed LCG), so the tests do not flake.
struct Noise {
  std::uint32_t state = 12345;
  double operator()() {
    state = state * 1664525u + 1013904223u;
    return static_cast<double>(state >> 8) / static_cast<double>(1u << 23) - 1.0;
  }
};

const GrowthRule kRss{.allow_abs = 8, .allow_rel = 0.10};

}  // namespace

TEST_CASE("a series that rises and levels off passes") {
  // 5 MB up to 45 MB with a 3-minute time constant: all growth is early.
  const auto s = series([](double t) { return 5 + 40 * (1 - std::exp(-t / 180)); });
  const auto v = judge_growth(s, kRss);
  CAPTURE(v.reason);
  CHECK(v.judged);
  CHECK(v.pass);
}

TEST_CASE("a series that grows linearly fails") {
  // 1 MB a minute: a slow leak, 30 MB over the run.
  const auto s = series([](double t) { return 5 + t / 60; });
  const auto v = judge_growth(s, kRss);
  CAPTURE(v.reason);
  CHECK(v.judged);
  CHECK_FALSE(v.pass);
  CHECK(v.slope_per_s * 60 == doctest::Approx(1.0));
}

TEST_CASE("a slow linear leak with noise still fails") {
  Noise noise;
  const auto s = series([&](double t) { return 200 + t / 15 + 5 * noise(); });  // 4 fds/min
  const auto v = judge_growth(s, GrowthRule{.allow_abs = 64, .allow_rel = 0});
  CAPTURE(v.reason);
  CHECK_FALSE(v.pass);
}

TEST_CASE("a noisy flat series passes") {
  Noise noise;
  const auto s = series([&](double) { return 12 + 6 * noise(); });
  const auto v = judge_growth(s, kRss);
  CAPTURE(v.reason);
  CHECK(v.pass);
  // Even with no allowance at all, noise is not a trend.
  const auto strict = judge_growth(s, GrowthRule{.allow_abs = 0, .allow_rel = 0});
  CAPTURE(strict.reason);
  CHECK(strict.pass);
}

TEST_CASE("a step up after warm-up that then stays flat passes") {
  Noise noise;
  const auto s = series([&](double t) { return (t < 700 ? 10 : 40) + noise(); });
  const auto v = judge_growth(s, kRss);
  CAPTURE(v.reason);
  CHECK(v.last_median - v.first_median > v.allowance);  // it did grow ...
  CHECK(v.pass);                                        // ... but levelled off
}

TEST_CASE("growth within the allowance passes even while rising") {
  const auto s = series([](double t) { return 100 + t / 600; });  // 3 MB over the run
  const auto v = judge_growth(s, kRss);
  CAPTURE(v.reason);
  CHECK(v.pass);
}

TEST_CASE("too few samples are not judged") {
  const std::vector<SeriesPoint> s{{0, 1}, {1, 100}, {2, 1000}};
  const auto v = judge_growth(s, kRss);
  CHECK_FALSE(v.judged);
  CHECK(v.pass);
}

TEST_CASE("median and slope") {
  const std::vector<double> odd{3, 1, 2}, even{4, 1, 3, 2};
  CHECK(median(odd) == 2);
  CHECK(median(even) == 2.5);
  const std::vector<SeriesPoint> line{{0, 1}, {1, 3}, {2, 5}, {3, 7}};
  const auto fit = fit_slope(line);
  CHECK(fit.slope == doctest::Approx(2));
  CHECK(std::isinf(fit.t));
}

TEST_CASE("the backend's verdict ignores the pre-load sample and judges fds over connections") {
  BackendSeries b;
  b.label = "x";
  b.samples.push_back({.t = 0, .fds = 10, .threads = 5, .rss_kb = 4096});
  for (int i = 1; i <= 100; ++i) {
    // 300 fds, of which 290 are client connections: flat; memory flat.
    b.samples.push_back(
        {.t = i * 5.0, .fds = 300, .client_conns = 290, .threads = 8, .rss_kb = 8192});
  }
  const auto verdicts = judge_backend(b, SoakRules{});
  REQUIRE(verdicts.size() == 3);
  for (const auto& m : verdicts) {
    CAPTURE(m.metric);
    CAPTURE(m.verdict.reason);
    CHECK(m.verdict.pass);
  }
  CHECK(verdicts[0].verdict.first_median == 10);
  CHECK(sample_at(b, 0).t == 5.0);
  CHECK(sample_at(b, 0.5).t == doctest::Approx(250).epsilon(0.03));
  CHECK(sample_at(b, 1).t == 500.0);
  CHECK(format_backend_table(b).find("fds over client conns") != std::string::npos);
}
