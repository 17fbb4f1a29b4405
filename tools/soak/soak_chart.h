// File: tools/soak/soak_chart.h
//
// The soak's curves as PNGs drawn by gnuplot (like the comparison tool's charts): one
// image per metric (descriptors, threads, memory), time on x, a line per backend,
// from the first sample to the last.
#ifndef CONNSCHED_SOAK_SOAK_CHART_H_
#define CONNSCHED_SOAK_SOAK_CHART_H_

#include <string>
#include <vector>

#include "soak_sample.h"

namespace soak {

struct SoakCharts {
  std::vector<std::string> images;  ///< the PNGs written
  std::string error;                ///< why some are missing (gnuplot absent or failed)
};

/// The gnuplot script for `metric` ("fds", "threads" or "rss"), its data written to
/// `data_path`. Pure apart from the data file.
std::string soak_chart_script(const std::string& metric, const std::vector<BackendSeries>& all,
                              const std::string& data_path, const std::string& png_path);

/// Writes soak-fds.png, soak-threads.png and soak-rss.png into `out_dir`.
SoakCharts write_soak_charts(const std::string& out_dir, const std::vector<BackendSeries>& all);

}  // namespace soak

#endif  // CONNSCHED_SOAK_SOAK_CHART_H_
