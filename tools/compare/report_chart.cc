// File: tools/compare/report_chart.cc
#include "report_chart.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>

#include "backend_catalog.h"
#include "child_process.h"

namespace compare_tool {

std::vector<std::string> labels_in_order(const std::vector<CompareRow>& rows) {
  std::vector<std::string> labels;
  for (const auto& row : rows) {
    if (std::find(labels.begin(), labels.end(), row.backend) == labels.end()) {
      labels.push_back(row.backend);
    }
  }
  return labels;
}

namespace {

// Lines: one data block per backend (gnuplot's "index"), x = connections.
std::string line_chart(const Scenario& scenario, const std::vector<CompareRow>& rows,
                       const std::string& data_path) {
  const auto labels = labels_in_order(rows);
  std::ofstream data(data_path);
  for (const auto& label : labels) {
    data << "# " << label << "\n";
    for (const auto& row : rows) {
      if (row.backend == label && row.ran) {
        data << fmt::format("{} {:.1f} {:.3f}\n", row.connections, row.throughput,
                            row.latency.p99_us / 1e3);
      }
    }
    data << "\n\n";
  }
  std::string throughput_plot, p99_plot;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const char* sep = i == 0 ? "" : ", ";
    throughput_plot += fmt::format("{}{} index {} using 1:2 with linespoints lw 2 pt 7 title {}",
                                   sep, gnuplot_quoted(data_path), i, gnuplot_quoted(labels[i]));
    p99_plot += fmt::format("{}{} index {} using 1:3 with linespoints lw 2 pt 7 title {}", sep,
                            gnuplot_quoted(data_path), i, gnuplot_quoted(labels[i]));
  }
  return fmt::format(
      "set multiplot layout 1,2 title {}\n"
      "set logscale x\nset xlabel 'connections'\nset grid\nset key top right\n"
      "set ylabel '{}'\nset yrange [0:*]\nplot {}\n"
      "set ylabel 'p99 latency (ms)'\nset logscale y\nset yrange [*:*]\nplot {}\n"
      "unset multiplot\n",
      gnuplot_quoted(scenario.name + ": " + scenario.summary),
      scenario.churn ? "connections per second" : "requests per second", throughput_plot, p99_plot);
}

// Bars: one per backend, for scenarios measured at a single connection count. The third
// panel is the server's RSS, except in the proxy scenario, whose point is how many
// connections reach the upstream.
std::string bar_chart(const Scenario& scenario, const std::vector<CompareRow>& rows,
                      const std::string& data_path) {
  const bool proxy = scenario.server == ServerKind::kProxy;
  std::ofstream data(data_path);
  int x = 0;
  for (const auto& row : rows) {
    if (!row.ran) continue;
    const double third =
        proxy ? static_cast<double>(row.upstream_peak.value_or(0)) : row.rss_peak_mb;
    data << fmt::format("{} {} {:.1f} {:.3f} {:.1f}\n", x++, gnuplot_quoted(row.backend),
                        row.throughput, row.latency.p99_us / 1e3, third);
  }
  const std::string file = gnuplot_quoted(data_path);
  return fmt::format(
      "set multiplot layout 1,3 title {}\n"
      "set style fill solid 0.7 border -1\nset boxwidth 0.6\nset grid ytics\n"
      "set xtics rotate by -25 scale 0 font ',9'\nset yrange [0:*]\nset xrange [-0.6:{}]\n"
      "set ylabel '{}'\nplot {} using 1:3:xtic(2) with boxes lc rgb '#4477aa' notitle\n"
      "set ylabel 'p99 latency (ms){}'\nplot {} using 1:4:xtic(2) with boxes lc rgb '#cc6677' "
      "notitle\n"
      "{}set ylabel '{}'\nplot {} using 1:5:xtic(2) with boxes lc rgb '#228833' notitle\n"
      "unset multiplot\n",
      gnuplot_quoted(
          fmt::format("{}: {} ({} connections{})", scenario.name, scenario.summary,
                      rows.empty() ? 0 : rows.front().connections,
                      scenario.idle > 0 ? fmt::format(" + {} idle", scenario.idle) : "")),
      x - 0.4, scenario.churn ? "connections per second" : "requests per second", file,
      scenario.mix ? fmt::format(", {}", scenario.request) : "", file,
      // Peaks of 16 and of thousands side by side: only a log axis shows both.
      proxy ? "set logscale y\nset yrange [1:*]\n" : "",
      proxy ? "upstream peak connections (log scale)" : "peak server RSS (MB)", file);
}

}  // namespace

std::string gnuplot_quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string chart_script(const Scenario& scenario, const std::vector<CompareRow>& rows,
                         const std::string& data_path, const std::string& png_path) {
  std::set<std::uint32_t> counts;
  for (const auto& row : rows) counts.insert(row.connections);
  const bool lines = counts.size() > 1;
  return fmt::format(
      // noenhanced: names such as kv_server are text, not a subscript markup.
      "set terminal pngcairo noenhanced size {},520 font 'sans,10'\nset output {}\n{}",
      lines ? 1300 : 1500, gnuplot_quoted(png_path),
      lines ? line_chart(scenario, rows, data_path) : bar_chart(scenario, rows, data_path));
}

std::string render_png(const std::string& base, const std::string& script) {
  // gnuplot is the field's standard plotting tool; without it the CSV still stands.
  const auto gnuplot = find_in_path("gnuplot");
  if (!gnuplot) return "gnuplot not found (install gnuplot-nox): no charts written";
  const std::string script_path = base + ".gp";
  ::unlink((base + ".png").c_str());  // a stale image must not pass for a new one
  std::ofstream(script_path) << script;
  const std::string output = run_and_capture(*gnuplot, {script_path}, std::chrono::seconds(60));
  struct stat info {};
  if (::stat((base + ".png").c_str(), &info) == 0 && info.st_size > 0) return {};
  return fmt::format("gnuplot failed for {}: {}", base, output);
}

ChartResult write_charts(const std::string& out_dir, const std::vector<Scenario>& scenarios,
                         const std::vector<CompareRow>& rows) {
  // gnuplot is the field's standard plotting tool; without it the CSV still stands.
  ChartResult out;
  const auto gnuplot = find_in_path("gnuplot");
  if (!gnuplot) {
    out.error = "gnuplot not found (install gnuplot-nox): no charts written";
    return out;
  }
  for (const auto& scenario : scenarios) {
    std::vector<CompareRow> mine;
    for (const auto& row : rows) {
      if (row.scenario == scenario.name) mine.push_back(row);
    }
    if (mine.empty()) continue;
    const std::string base = fmt::format("{}/compare-{}", out_dir, scenario.name);
    const std::string script_path = base + ".gp";
    ::unlink((base + ".png").c_str());  // a stale image must not pass for a new one
    std::ofstream(script_path) << chart_script(scenario, mine, base + ".dat", base + ".png");
    const std::string output = run_and_capture(*gnuplot, {script_path}, std::chrono::seconds(60));
    struct stat info {};
    if (::stat((base + ".png").c_str(), &info) == 0 && info.st_size > 0) {
      out.images.push_back(base + ".png");
    } else if (out.error.empty()) {
      out.error = fmt::format("gnuplot failed for {}: {}", scenario.name, output);
    }
  }
  return out;
}

}  // namespace compare_tool
