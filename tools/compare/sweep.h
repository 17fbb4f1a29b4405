// File: tools/compare/sweep.h
//
// Rate sweeps, the way schedulers are compared in the field (wrk2-style latency
// against offered load): each backend's closed-loop capacity first, then every backend
// at the same open-loop offered rates, from 10 % to 120 % of the best capacity. The
// table gives achieved rate and corrected percentiles per rate and backend; the chart
// is the hockey stick (p99 on a log axis against offered rate) beside achieved against
// offered. A timeline chart shows stalls as gaps, interval by interval.
#ifndef CONNSCHED_COMPARE_SWEEP_H_
#define CONNSCHED_COMPARE_SWEEP_H_

#include <string>
#include <vector>

#include "compare_row.h"
#include "scenarios.h"

namespace compare_tool {

/// The offered rates as percentages of the best capacity: a few in the quick version,
/// more around the knee in the full one.
std::vector<double> sweep_percents(bool full);

/// A scenario's windows for a sweep: an open loop at a low rate sends a few requests
/// per connection per second, so the quick version's 1 s is too short to be read; at
/// least 1 s of warm-up and 2 s measured (full: 2 s and 10 s).
Scenario sweep_windows(Scenario scenario, bool full);

/// The best first-class closed-loop rate among `closed` rows that ran (0 if none).
double best_capacity(const std::vector<CompareRow>& closed);

/// Capacities, then one block per offered rate with a line per backend.
std::string format_sweep_table(const Scenario& scenario, const std::vector<CompareRow>& closed,
                               const std::vector<CompareRow>& open);

/// The gnuplot script of compare-<scenario>-sweep.png (data written to `data_path`).
std::string sweep_chart_script(const Scenario& scenario, const std::vector<CompareRow>& open,
                               const std::string& data_path, const std::string& png_path);

/// The gnuplot script of compare-<scenario>-timeline.png: completed requests and p99
/// per interval, a line per row (backend); the rows' switches, if any, as labelled
/// vertical lines in both panels.
std::string timeline_chart_script(const Scenario& scenario, const std::vector<CompareRow>& rows,
                                  const std::string& title, const std::string& data_path,
                                  const std::string& png_path);

/// Whether a scenario's point is stalls, so its timeline is charted (mixed and its
/// variants, locks, unreported, switch).
bool wants_timeline(const std::string& scenario);

/// Writes `out_dir`/compare-<scenario>-sweep.png; empty string or why not.
std::string write_sweep_chart(const std::string& out_dir, const Scenario& scenario,
                              const std::vector<CompareRow>& open, std::string& image);

/// Writes `out_dir`/compare-<scenario>-timeline.png; empty string or why not.
std::string write_timeline_chart(const std::string& out_dir, const Scenario& scenario,
                                 const std::vector<CompareRow>& rows, const std::string& title,
                                 std::string& image);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_SWEEP_H_
