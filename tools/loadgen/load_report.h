// File: tools/loadgen/load_report.h
//
// A LoadResult as text for people and as JSON for the comparison tool and scripts.
#ifndef CONNSCHED_LOADGEN_LOAD_REPORT_H_
#define CONNSCHED_LOADGEN_LOAD_REPORT_H_

#include <string>

#include "load_spec.h"

namespace loadgen {

/// The percentiles every report shows, in microseconds.
struct LatencySummary {
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, p9999_us = 0, max_us = 0, mean_us = 0;
  std::uint64_t count = 0;
};
LatencySummary summarize(const connsched::LogHistogram& nanoseconds);

/// A few aligned lines: throughput, latency percentiles (overall and per class), errors.
std::string format_text(const LoadSpec& spec, const LoadResult& result);

/// The non-empty buckets of a histogram as a JSON array of [lower, upper, count]
/// (inclusive bounds, the histogram's unit): the whole distribution, for spectra.
std::string json_distribution(const connsched::LogHistogram& histogram);

/// One JSON object (one line) with every figure: percentiles, the whole distribution
/// of corrected and service latency, and the timeline when one was kept.
std::string format_json(const LoadSpec& spec, const LoadResult& result);

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_LOAD_REPORT_H_
