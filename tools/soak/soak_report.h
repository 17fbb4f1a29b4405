// File: tools/soak/soak_report.h
//
// The soak's outputs: a table per backend (the curves at start, quarter points, end
// and maximum), the verdict lines, and a CSV of every sample.
#ifndef CONNSCHED_SOAK_SOAK_REPORT_H_
#define CONNSCHED_SOAK_SOAK_REPORT_H_

#include <string>
#include <vector>

#include "soak_sample.h"
#include "soak_verdict.h"

namespace soak {

/// One judged metric of one backend.
struct MetricVerdict {
  std::string metric;  ///< "fds over client connections"
  GrowthVerdict verdict;
};

/// The rules per metric (descriptors beyond the clients' connections, threads, RSS),
/// with the run's warm-up fraction and window count.
struct SoakRules {
  GrowthRule fds{.allow_abs = 64, .allow_rel = 0};
  GrowthRule threads{.allow_abs = 16, .allow_rel = 0.10};
  GrowthRule rss_mb{.allow_abs = 8, .allow_rel = 0.10};
};

/// Judges the three metrics of `series`.
std::vector<MetricVerdict> judge_backend(const BackendSeries& series, const SoakRules& rules);

/// The sample nearest to `fraction` of the run (0: first loaded sample, 1: last).
const SoakSample& sample_at(const BackendSeries& series, double fraction);

/// The table for one backend: before load, start, 25 %, 50 %, 75 %, end, max, after.
std::string format_backend_table(const BackendSeries& series);

/// Writes every sample of every backend; false if the file cannot be written.
bool write_samples_csv(const std::string& path, const std::vector<BackendSeries>& all);

}  // namespace soak

#endif  // CONNSCHED_SOAK_SOAK_REPORT_H_
