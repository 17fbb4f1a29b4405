// File: tools/compare/report_chart.cc
#include "report_chart.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
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

// The p99 a chart draws: the scenario's key step's (RELEASE_LOCK in locks) when it has
// one, else the whole request's.
double chart_p99_ms(const CompareRow& row) {
  const StepFigures* key = row.key_step.empty() ? nullptr : row.step(row.key_step);
  return (key != nullptr ? key->latency.p99_us : row.latency.p99_us) / 1e3;
}

std::string p99_label(const Scenario& scenario) {
  std::string step = scenario.key_step;
  for (auto& c : step) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return step.empty() ? "p99 latency (ms)" : fmt::format("{} p99 latency (ms)", step);
}

std::string rate_label(const Scenario& scenario) {
  return scenario.churn          ? "connections per second"
         : is_sequence(scenario) ? "sequences per second"
                                 : "requests per second";
}

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
                            chart_p99_ms(row));
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
      "set ylabel '{}'\nset logscale y\nset yrange [*:*]\nplot {}\n"
      "unset multiplot\n",
      gnuplot_quoted(scenario.name + ": " + scenario.summary), rate_label(scenario),
      throughput_plot, p99_label(scenario), p99_plot);
}

// Bars: one per backend, for scenarios measured at a single connection count. The third
// panel is the server's RSS, except in the proxy scenario, whose point is how many
// connections reach the upstream, and in a GET_LOCK sequence's (locks), whose point is
// how many lock waits timed out.
std::string bar_chart(const Scenario& scenario, const std::vector<CompareRow>& rows,
                      const std::string& data_path) {
  const bool proxy = scenario.server == ServerKind::kProxy;
  const bool locks = has_lock_wait(scenario);
  std::ofstream data(data_path);
  int x = 0;
  for (const auto& row : rows) {
    if (!row.ran) continue;
    const double third = proxy   ? static_cast<double>(row.upstream_peak.value_or(0))
                         : locks ? static_cast<double>(row.lock_timeouts)
                                 : row.rss_peak_mb;
    data << fmt::format("{} {} {:.1f} {:.3f} {:.1f} {:.3f}\n", x++, gnuplot_quoted(row.backend),
                        row.throughput, chart_p99_ms(row), third, row.holder_requests.p99_us / 1e3);
  }
  // A GET_LOCK sequence's middle panel pairs the key step's p99 with the p99 of every
  // request sent holding the lock: in a deadlock the release itself is quick, the
  // holder's request before it is not.
  const std::string file = gnuplot_quoted(data_path);
  const std::string p99_plot =
      locks
          ? fmt::format(
                "{} using ($1-0.15):4:(0.3):xtic(2) with boxes lc rgb '#cc6677' title {}, {} "
                "using ($1+0.15):6:(0.3) with boxes lc rgb '#882255' title 'lock holder requests "
                "p99'",
                file,
                gnuplot_quoted(p99_label(scenario).substr(0, p99_label(scenario).find(" latency"))),
                file)
          : fmt::format("{} using 1:4:xtic(2) with boxes lc rgb '#cc6677' notitle", file);
  return fmt::format(
      "set multiplot layout 1,3 title {}\n"
      "set style fill solid 0.7 border -1\nset boxwidth 0.6\nset grid ytics\n"
      "set xtics rotate by -25 scale 0 font ',9'\nset yrange [0:*]\nset xrange [-0.6:{}]\n"
      "set ylabel '{}'\nplot {} using 1:3:xtic(2) with boxes lc rgb '#4477aa' notitle\n"
      "{}set ylabel '{}{}'\nplot {}\n"
      "{}set ylabel '{}'\nplot {} using 1:5:xtic(2) with boxes lc rgb '#228833' notitle\n"
      "unset multiplot\n",
      gnuplot_quoted(
          fmt::format("{}: {} ({} connections{})", scenario.name, scenario.summary,
                      rows.empty() ? 0 : rows.front().connections,
                      scenario.idle > 0 ? fmt::format(" + {} idle", scenario.idle) : "")),
      x - 0.4, rate_label(scenario), file,
      // A deadlocked release (seconds) beside a served one (a fraction of a millisecond):
      // only a log axis shows both.
      locks ? "set logscale y\nset yrange [0.01:*]\nset key top left\n" : "",
      locks ? "p99 (ms, log scale)" : p99_label(scenario),
      scenario.mix ? fmt::format(", {}", scenario.request) : "", p99_plot,
      // Peaks of 16 and of thousands side by side: only a log axis shows both.
      proxy   ? "set logscale y\nset yrange [1:*]\n"
      : locks ? "unset logscale y\nset yrange [0:*]\n"
              : "",
      proxy   ? "upstream peak connections (log scale)"
      : locks ? "lock-wait timeouts (GET_LOCK answered 0)"
              : "peak server RSS (MB)",
      file);
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
