// File: tools/soak/soak_report.cc
#include "soak_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace soak {

namespace {

template <typename Value>
std::vector<SeriesPoint> points(const BackendSeries& series, Value value) {
  // The first sample is taken before the load starts, the last one maybe after it
  // ended: baselines, not points of the curve under load.
  std::vector<SeriesPoint> out;
  for (std::size_t i = 1; i < series.samples.size(); ++i) {
    if (series.samples[i].after_load) continue;
    out.push_back({series.samples[i].t, value(series.samples[i])});
  }
  return out;
}

}  // namespace

std::vector<MetricVerdict> judge_backend(const BackendSeries& series, const SoakRules& rules) {
  // Descriptors are judged beyond the clients' connections: the idle turnover and
  // churn move the raw count, the server's own overhead must not move.
  return {
      {"fds over client connections",
       judge_growth(points(series, [](const SoakSample& s) { return s.fds_over_conns(); }),
                    rules.fds)},
      {"threads",
       judge_growth(
           points(series, [](const SoakSample& s) { return static_cast<double>(s.threads); }),
           rules.threads)},
      {"RSS MB", judge_growth(points(series,
                                     [](const SoakSample& s) {
                                       return static_cast<double>(s.rss_kb) / 1024.0;
                                     }),
                              rules.rss_mb)},
  };
}

const SoakSample& sample_at(const BackendSeries& series, double fraction) {
  // Index 0 is the pre-load baseline, an after-load sample may close the series; the
  // loaded samples are those between.
  static const SoakSample kNone{};
  if (series.samples.empty()) return kNone;
  auto last = series.samples.end();
  if (last - series.samples.begin() > 1 && (last - 1)->after_load) --last;
  if (last - series.samples.begin() <= 1) return series.samples.front();
  const auto first = series.samples.begin() + 1;
  const double target = first->t + fraction * ((last - 1)->t - first->t);
  auto best = first;
  for (auto it = first; it != last; ++it) {
    if (std::abs(it->t - target) < std::abs(best->t - target)) best = it;
  }
  return *best;
}

std::string format_backend_table(const BackendSeries& series) {
  // The curve in eight numbers per metric: enough to see levelling off at a glance.
  if (series.samples.empty()) return fmt::format("== {}: no samples ==\n", series.label);
  const auto& before = series.samples.front();
  const SoakSample* after = series.samples.back().after_load ? &series.samples.back() : nullptr;
  std::vector<const SoakSample*> cols{&before};
  for (double f : {0.0, 0.25, 0.5, 0.75, 1.0}) cols.push_back(&sample_at(series, f));
  const auto max_of = [&](auto value) {
    double best = 0;
    for (const auto& s : series.samples) best = std::max(best, value(s));
    return best;
  };
  std::string out = fmt::format("== {} ==\n{:<28}", series.label, "");
  for (const char* head : {"before", "start", "25%", "50%", "75%", "end", "max", "after"}) {
    out += fmt::format("{:>9}", head);
  }
  out += "\n";
  out += fmt::format("{:<28}", "time (min)");
  for (const auto* s : cols) out += fmt::format("{:>9.1f}", s->t / 60);
  out += fmt::format("{:>9}", "");
  if (after != nullptr) out += fmt::format("{:>9.1f}", after->t / 60);
  out += "\n";
  const auto row = [&](const char* name, auto value, const char* fmt_spec) {
    out += fmt::format("{:<28}", name);
    for (const auto* s : cols) out += fmt::format(fmt::runtime(fmt_spec), value(*s));
    out += fmt::format(fmt::runtime(fmt_spec), max_of(value));
    if (after != nullptr) out += fmt::format(fmt::runtime(fmt_spec), value(*after));
    out += "\n";
  };
  const auto as_double = [](auto member) {
    return [member](const SoakSample& s) { return static_cast<double>(s.*member); };
  };
  row("fds", as_double(&SoakSample::fds), "{:>9.0f}");
  row("  client connections", as_double(&SoakSample::client_conns), "{:>9.0f}");
  row("  server's connections", as_double(&SoakSample::server_conns), "{:>9.0f}");
  row(
      "  fds over client conns", [](const SoakSample& s) { return s.fds_over_conns(); },
      "{:>9.0f}");
  row("threads", as_double(&SoakSample::threads), "{:>9.0f}");
  row(
      "RSS MB", [](const SoakSample& s) { return static_cast<double>(s.rss_kb) / 1024; },
      "{:>9.1f}");
  row(
      "VmHWM MB", [](const SoakSample& s) { return static_cast<double>(s.hwm_kb) / 1024; },
      "{:>9.1f}");
  row("CPU s", as_double(&SoakSample::cpu_seconds), "{:>9.1f}");
  row("requests", as_double(&SoakSample::requests), "{:>9.0f}");
  row("errors", as_double(&SoakSample::errors), "{:>9.0f}");
  row("deliberate resets", as_double(&SoakSample::resets), "{:>9.0f}");
  return out;
}

bool write_samples_csv(const std::string& path, const std::vector<BackendSeries>& all) {
  // Every sample, for re-plotting or a different verdict later.
  std::ofstream out(path);
  if (!out) return false;
  out << "backend,t_s,fds,client_conns,fds_over_conns,server_conns,threads,rss_kb,hwm_kb,cpu_s,"
         "requests,errors,resets\n";
  for (const auto& series : all) {
    for (const auto& s : series.samples) {
      out << fmt::format("{},{:.1f},{},{},{:.0f},{},{},{},{},{:.2f},{},{},{}\n", series.label, s.t,
                         s.fds, s.client_conns, s.fds_over_conns(), s.server_conns, s.threads,
                         s.rss_kb, s.hwm_kb, s.cpu_seconds, s.requests, s.errors, s.resets);
    }
  }
  return static_cast<bool>(out);
}

}  // namespace soak
