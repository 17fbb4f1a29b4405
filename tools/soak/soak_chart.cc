// File: tools/soak/soak_chart.cc
#include "soak_chart.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "backend_catalog.h"
#include "child_process.h"
#include "report_chart.h"

namespace soak {

namespace {

using compare_tool::gnuplot_quoted;

// Two columns per sample after time: the metric and its companion (dashed) line.
struct MetricShape {
  std::string title, ylabel, main_name, second_name;
  double (*main)(const SoakSample&);
  double (*second)(const SoakSample&);
};

MetricShape shape_of(const std::string& metric) {
  // Each chart pairs a metric with the line that explains it (fds with fds beyond
  // the clients' connections, RSS with its peak).
  if (metric == "fds") {
    return {"server open descriptors (/proc/PID/fd)",
            "descriptors",
            "fds",
            "fds over client connections",
            [](const SoakSample& s) { return static_cast<double>(s.fds); },
            [](const SoakSample& s) { return s.fds_over_conns(); }};
  }
  if (metric == "threads") {
    return {"server threads (/proc/PID/status Threads)",
            "threads",
            "threads",
            "",
            [](const SoakSample& s) { return static_cast<double>(s.threads); },
            nullptr};
  }
  return {"server memory (/proc/PID/status)",
          "MB",
          "RSS",
          "VmHWM (peak RSS)",
          [](const SoakSample& s) { return static_cast<double>(s.rss_kb) / 1024; },
          [](const SoakSample& s) { return static_cast<double>(s.hwm_kb) / 1024; }};
}

}  // namespace

std::string soak_chart_script(const std::string& metric, const std::vector<BackendSeries>& all,
                              const std::string& data_path, const std::string& png_path) {
  // One data block per backend (gnuplot's "index"); x in minutes since the load began.
  const auto shape = shape_of(metric);
  std::ofstream data(data_path);
  for (const auto& series : all) {
    data << "# " << series.label << "\n";
    for (const auto& s : series.samples) {
      data << fmt::format("{:.3f} {:.2f} {:.2f}\n", s.t / 60, shape.main(s),
                          shape.second ? shape.second(s) : 0.0);
    }
    data << "\n\n";
  }
  static constexpr const char* kColours[] = {"#4477aa", "#cc6677", "#228833",
                                             "#ccbb44", "#66ccee", "#aa3377"};
  std::string plot;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const char* colour = kColours[i % std::size(kColours)];
    plot += fmt::format("{}{} index {} using 1:2 with lines lw 2 lc rgb '{}' title {}",
                        i == 0 ? "" : ", ", gnuplot_quoted(data_path), i, colour,
                        gnuplot_quoted(all[i].label + " " + shape.main_name));
    if (shape.second) {
      plot += fmt::format(", {} index {} using 1:3 with lines lw 1 dt 2 lc rgb '{}' title {}",
                          gnuplot_quoted(data_path), i, colour,
                          gnuplot_quoted(all[i].label + " " + shape.second_name));
    }
  }
  return fmt::format(
      "set terminal pngcairo noenhanced size 1000,420 font 'sans,10'\nset output {}\n"
      "set title {}\nset xlabel 'minutes since the load started'\nset ylabel '{}'\n"
      "set grid\nset key outside bottom center horizontal\nset yrange [0:*]\nplot {}\n",
      gnuplot_quoted(png_path), gnuplot_quoted("soak: " + shape.title), shape.ylabel, plot);
}

SoakCharts write_soak_charts(const std::string& out_dir, const std::vector<BackendSeries>& all) {
  // gnuplot is optional: without it the CSV and the table still stand.
  SoakCharts out;
  const auto gnuplot = compare_tool::find_in_path("gnuplot");
  if (!gnuplot) {
    out.error = "gnuplot not found (install gnuplot-nox): no charts written";
    return out;
  }
  for (const std::string metric : {"fds", "threads", "rss"}) {
    const std::string base = fmt::format("{}/soak-{}", out_dir, metric);
    ::unlink((base + ".png").c_str());  // a stale image must not pass for a new one
    std::ofstream(base + ".gp") << soak_chart_script(metric, all, base + ".dat", base + ".png");
    const std::string output =
        compare_tool::run_and_capture(*gnuplot, {base + ".gp"}, std::chrono::seconds(60));
    struct stat info {};
    if (::stat((base + ".png").c_str(), &info) == 0 && info.st_size > 0) {
      out.images.push_back(base + ".png");
    } else if (out.error.empty()) {
      out.error = fmt::format("gnuplot failed for {}: {}", metric, output);
    }
  }
  return out;
}

}  // namespace soak
