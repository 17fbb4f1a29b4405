// File: tools/compare/sweep.cc
#include "sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "report_chart.h"

namespace compare_tool {

namespace {

// "12,345": rates read better grouped.
std::string grouped(double value) {
  const auto digits = fmt::format("{:.0f}", value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

std::vector<double> sweep_percents(bool full) {
  // 80 % is in both: the targets are read there.
  if (full) return {10, 25, 50, 75, 80, 90, 100, 110, 120};
  return {10, 50, 80, 100, 120};
}

Scenario sweep_windows(Scenario scenario, bool full) {
  using std::chrono::milliseconds;
  scenario.warmup = std::max(scenario.warmup, milliseconds(full ? 2000 : 1000));
  scenario.duration = std::max(scenario.duration, milliseconds(full ? 10000 : 2000));
  return scenario;
}

double best_capacity(const std::vector<CompareRow>& closed) {
  double best = 0;
  for (const auto& row : closed) {
    if (row.ran) best = std::max(best, row.achieved_rate());
  }
  return best;
}

std::string format_sweep_table(const Scenario& scenario, const std::vector<CompareRow>& closed,
                               const std::vector<CompareRow>& open) {
  // Latencies are corrected (from the intended send time); "svc p99" is the service
  // time, which a closed-loop client would have reported instead.
  const double best = best_capacity(closed);
  std::string out = fmt::format("\n== {} sweep — {}, {} connections ==\n", scenario.name,
                                scenario.summary, closed.empty() ? 0 : closed.front().connections);
  out += "  closed-loop capacity (first class):";
  for (const auto& row : closed) {
    out += row.ran ? fmt::format("  {} {}/s{}", row.backend, grouped(row.achieved_rate()),
                                 row.clean() ? "" : " (!)")
                   : fmt::format("  {} not run: {}", row.backend, row.note);
  }
  out += fmt::format("; best {}/s\n", grouped(best));
  out +=
      "  offered/s  %best  backend                          achieved/s  ×offered     p50 ms     "
      "p99 ms   p99.9 ms     max ms  svc p99 ms   waited   unsent  errors\n";
  double last_rate = -1;
  for (const auto& row : open) {
    if (row.offered_rate != last_rate && last_rate >= 0) out += "\n";
    last_rate = row.offered_rate;
    const double pct = best > 0 ? row.offered_rate / best * 100 : 0;
    if (!row.ran) {
      out += fmt::format("  {:>9}  {:>4.0f}%  {:<32} not run: {}\n", grouped(row.offered_rate), pct,
                         row.backend, row.note);
      continue;
    }
    out += fmt::format(
        "  {:>9}  {:>4.0f}%  {:<32} {:>10} {:>9.2f} {:>10.3f} {:>10.3f} {:>10.3f} {:>10.3f} "
        "{:>11.3f} {:>8} {:>8} {:>7}{}\n",
        grouped(row.offered_rate), pct, row.backend, grouped(row.achieved_rate()),
        row.offered_rate > 0 ? row.achieved_rate() / row.offered_rate : 0, row.latency.p50_us / 1e3,
        row.latency.p99_us / 1e3, row.latency.p999_us / 1e3, row.latency.max_us / 1e3,
        row.service.p99_us / 1e3, row.queued, row.unsent, row.errors,
        row.clean() ? ""
                    : fmt::format("  ! exit {}{}", row.exit_status,
                                  row.note.empty() ? "" : "; " + row.note));
  }
  return out;
}

std::string sweep_chart_script(const Scenario& scenario, const std::vector<CompareRow>& open,
                               const std::string& data_path, const std::string& png_path) {
  // One data block per backend (gnuplot's "index"): offered, achieved, p99 ms.
  const auto labels = labels_in_order(open);
  std::ofstream data(data_path);
  double top = 0;
  for (const auto& label : labels) {
    data << "# " << label << "\n";
    for (const auto& row : open) {
      if (row.backend != label || !row.ran) continue;
      data << fmt::format("{:.1f} {:.1f} {:.3f}\n", row.offered_rate, row.achieved_rate(),
                          std::max(row.latency.p99_us / 1e3, 0.001));
      top = std::max({top, row.offered_rate, row.achieved_rate()});
    }
    data << "\n\n";
  }
  std::string p99_plot, achieved_plot;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const char* sep = i == 0 ? "" : ", ";
    // Explicit line types, so a backend has the same colour in both panels.
    p99_plot += fmt::format("{}{} index {} using 1:3 with linespoints lt {} lw 2 pt 7 title {}",
                            sep, gnuplot_quoted(data_path), i, i + 1, gnuplot_quoted(labels[i]));
    achieved_plot +=
        fmt::format("{}{} index {} using 1:2 with linespoints lt {} lw 2 pt 7 title {}", sep,
                    gnuplot_quoted(data_path), i, i + 1, gnuplot_quoted(labels[i]));
  }
  const std::string unit = scenario.mix ? fmt::format("{} requests per second", scenario.request)
                                        : "requests per second";
  return fmt::format(
      "set terminal pngcairo noenhanced size 1300,520 font 'sans,10'\nset output {}\n"
      "set multiplot layout 1,2 title {}\n"
      "set grid\nset key top left\nset xlabel 'offered {}'\nset xrange [0:{:.0f}]\n"
      "set ylabel 'p99 latency, corrected (ms, log scale)'\nset logscale y\nplot {}\n"
      "unset logscale y\nset ylabel 'achieved {}'\nset yrange [0:{:.0f}]\n"
      "plot x with lines dt 2 lc rgb '#888888' title 'achieved = offered', {}\n"
      "unset multiplot\n",
      gnuplot_quoted(png_path),
      gnuplot_quoted(fmt::format("{} sweep ({} connections): latency against offered load",
                                 scenario.name, open.empty() ? 0 : open.front().connections)),
      unit, top * 1.05, p99_plot, unit, top * 1.05, achieved_plot);
}

std::string timeline_chart_script(const Scenario& scenario, const std::vector<CompareRow>& rows,
                                  const std::string& title, const std::string& data_path,
                                  const std::string& png_path) {
  // Time on x; an interval that completed nothing has no p99 (NaN breaks the line), so
  // a stall is a gap in the lower panel and a drop to zero in the upper one.
  std::ofstream data(data_path);
  std::vector<std::string> labels;
  std::string markers;
  for (const auto& row : rows) {
    if (!row.ran) continue;
    labels.push_back(row.backend);
    data << "# " << row.backend << "\n";
    const double step = row.timeline.size() > 1 ? row.timeline[1].start_s : 0.1;
    for (const auto& s : row.switches) {
      // A switch: a line at its start, its length and target at the top.
      markers += fmt::format(
          "set arrow from {0:.3f}, graph 0 to {0:.3f}, graph 1 nohead lc rgb '#cc0000' dt 2 "
          "# switch\n"
          "set label {1} at {0:.3f}, graph 0.98 rotate by 90 right font 'sans,7' tc rgb "
          "'#cc0000'\n",
          s.at_s,
          gnuplot_quoted(fmt::format("{} {}", s.to.substr(0, s.to.find('-')),
                                     s.done ? fmt::format("{:.0f} ms", s.took_ms) : "not done")));
    }
    for (const auto& at : row.timeline) {
      data << fmt::format(
          "{:.3f} {:.1f} {}\n", at.start_s, static_cast<double>(at.completed) / step,
          at.completed == 0 ? std::string("NaN")
                            : fmt::format("{:.3f}", std::max(at.p99_us / 1e3, 0.001)));
    }
    data << "\n\n";
  }
  std::string rate_plot, p99_plot;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const char* sep = i == 0 ? "" : ", ";
    rate_plot += fmt::format("{}{} index {} using 1:2 with steps lt {} lw 2 title {}", sep,
                             gnuplot_quoted(data_path), i, i + 1, gnuplot_quoted(labels[i]));
    p99_plot +=
        fmt::format("{}{} index {} using 1:3 with linespoints lt {} lw 1 pt 7 ps 0.5 title {}", sep,
                    gnuplot_quoted(data_path), i, i + 1, gnuplot_quoted(labels[i]));
  }
  return fmt::format(
      "set terminal pngcairo noenhanced size 1300,720 font 'sans,10'\nset output {}\n"
      "set multiplot layout 2,1 title {}\nset grid\nset key outside right\n"
      "set xlabel 'seconds into the measured window'\n"
      "{}set ylabel 'completed per second ({:.0f} ms intervals)'\nset yrange [0:*]\nplot {}\n"
      "set ylabel 'p99 of the interval, corrected (ms, log)'\nset logscale y\nset yrange [*:*]\n"
      "plot {}\nunset multiplot\n",
      gnuplot_quoted(png_path), gnuplot_quoted(fmt::format("{}: {}", scenario.name, title)),
      markers, static_cast<double>(scenario.timeline_interval.count()),
      rate_plot.empty() ? "NaN notitle" : rate_plot, p99_plot.empty() ? "NaN notitle" : p99_plot);
}

bool wants_timeline(const std::string& scenario) {
  return scenario.starts_with("mixed") || scenario == "locks" || scenario == "unreported" ||
         scenario == "switch";
}

std::string write_sweep_chart(const std::string& out_dir, const Scenario& scenario,
                              const std::vector<CompareRow>& open, std::string& image) {
  const std::string base = fmt::format("{}/compare-{}-sweep", out_dir, scenario.name);
  auto error = render_png(base, sweep_chart_script(scenario, open, base + ".dat", base + ".png"));
  if (error.empty()) image = base + ".png";
  return error;
}

std::string write_timeline_chart(const std::string& out_dir, const Scenario& scenario,
                                 const std::vector<CompareRow>& rows, const std::string& title,
                                 std::string& image) {
  const std::string base = fmt::format("{}/compare-{}-timeline", out_dir, scenario.name);
  auto error =
      render_png(base, timeline_chart_script(scenario, rows, title, base + ".dat", base + ".png"));
  if (error.empty()) image = base + ".png";
  return error;
}

}  // namespace compare_tool
