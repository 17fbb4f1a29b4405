// File: tools/compare/report_chart.h
//
// One PNG per scenario, drawn by gnuplot (run as a subprocess): throughput and p99
// latency against the connection count, a line per backend; scenarios measured at a
// single count get bars per backend, with peak memory as a third panel.
#ifndef CONNSCHED_COMPARE_REPORT_CHART_H_
#define CONNSCHED_COMPARE_REPORT_CHART_H_

#include <string>
#include <vector>

#include "compare_row.h"
#include "scenarios.h"

namespace compare_tool {

struct ChartResult {
  std::vector<std::string> images;  ///< the PNGs written
  std::string error;                ///< why charts are missing (gnuplot absent or failed)
};

/// `text` as a gnuplot string literal: in double quotes, with quotes and backslashes
/// escaped (labels and paths go into scripts this way).
std::string gnuplot_quoted(const std::string& text);

/// The backends of `rows` in the order they first appear: the order of a chart's lines.
std::vector<std::string> labels_in_order(const std::vector<CompareRow>& rows);

/// The gnuplot script (and its data files, written next to it) for one scenario's
/// chart at `png_path`. Pure apart from the data files.
std::string chart_script(const Scenario& scenario, const std::vector<CompareRow>& rows,
                         const std::string& data_path, const std::string& png_path);

/// Runs gnuplot on `script` (written to `base`.gp) to make `base`.png; an empty string
/// when the image was written, else why not. An old image is removed first.
std::string render_png(const std::string& base, const std::string& script);

/// Writes a chart for each scenario with rows into `out_dir`.
ChartResult write_charts(const std::string& out_dir, const std::vector<Scenario>& scenarios,
                         const std::vector<CompareRow>& rows);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_REPORT_CHART_H_
