// File: tools/compare/report_switch.cc
#include "report_switch.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <vector>

namespace compare_tool {

namespace {

// "4.2 MB / 510 threads / 530 fds", or "-" when the server could not be read.
std::string snapshot_text(const ServerSnapshot& s) {
  if (!s.taken) return "-";
  return fmt::format("{:.1f} MB, {} threads, {} fds", static_cast<double>(s.rss_kb) / 1024.0,
                     s.threads, s.fds);
}

// The nearest-rank percentile of sorted values.
double ranked(const std::vector<double>& sorted, double pct) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(pct / 100.0 * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace

SwitchTimes switch_times_of(const CompareRow& row) {
  // Only switches the server reported done have a time to its last connection moved.
  std::vector<double> took;
  for (const auto& s : row.switches) {
    if (s.done) took.push_back(s.took_ms);
  }
  std::sort(took.begin(), took.end());
  SwitchTimes out;
  out.done = took.size();
  out.median_ms = ranked(took, 50);
  out.p90_ms = ranked(took, 90);
  out.max_ms = took.empty() ? 0 : took.back();
  return out;
}

std::string format_switch_report(const CompareRow& row) {
  // The summary first (what the targets are read from), then each switch.
  const auto times = switch_times_of(row);
  std::string out = fmt::format(
      "  {}: {} switch(es), {} done; took median {:.0f} ms, p90 {:.0f}, max {:.0f}\n"
      "  p99 steady {:.3f} ms, inside switch windows {:.3f} ms ({:.2f}x), with the 200 ms after "
      "each {:.3f} ms; failed requests {} "
      "(mismatched replies {}, dropped connections {}, unanswered {})\n"
      "  server idle: {}; loaded, before the first switch: {}; after the last: {}; load "
      "closed: {}\n",
      row.backend, row.switches.size(), times.done, times.median_ms, times.p90_ms, times.max_ms,
      row.steady_p99_us / 1e3, row.switch_p99_us / 1e3,
      row.steady_p99_us > 0 ? row.switch_p99_us / row.steady_p99_us : 0,
      row.around_switch_p99_us / 1e3, row.errors, row.mismatched_replies, row.dropped,
      row.unanswered, snapshot_text(row.idle_server), snapshot_text(row.loaded_server),
      snapshot_text(row.after_switches), snapshot_text(row.after_close));
  out += "     at s  to                           status  took ms  moved/open  before -> after\n";
  for (const auto& s : row.switches) {
    out += fmt::format("  {:>7.3f}  {:<28} {:>6}  {:>7}  {:>5}/{:<5} {} -> {}{}\n", s.at_s, s.to,
                       s.status, s.done ? fmt::format("{:.0f}", s.took_ms) : "-", s.moved,
                       s.connections, snapshot_text(s.before), snapshot_text(s.after),
                       s.error.empty() ? "" : "  ! " + s.error);
  }
  return out;
}

bool write_switch_csv(const std::string& path, const CompareRow& row) {
  // One line per switch; the run's summary is the row in compare.csv.
  std::ofstream out(path);
  out << "switch,at_s,to,status,done,took_ms,connections,moved,threads_before,threads_after,"
         "rss_mb_before,rss_mb_after,fds_before,fds_after,error\n";
  for (std::size_t i = 0; i < row.switches.size(); ++i) {
    const auto& s = row.switches[i];
    std::string error = s.error;
    std::replace(error.begin(), error.end(), '"', '\'');
    out << fmt::format(
        "{},{:.3f},{},{},{},{:.0f},{},{},{},{},{:.1f},{:.1f},{},{},\"{}\"\n", i + 1, s.at_s, s.to,
        s.status, s.done ? 1 : 0, s.took_ms, s.connections, s.moved, s.before.threads,
        s.after.threads, static_cast<double>(s.before.rss_kb) / 1024.0,
        static_cast<double>(s.after.rss_kb) / 1024.0, s.before.fds, s.after.fds, error);
  }
  return static_cast<bool>(out);
}

}  // namespace compare_tool
