// File: tools/compare/report_table.cc
#include "report_table.h"

#include <fmt/format.h>

namespace compare_tool {

namespace {

constexpr std::string_view kHeader =
    "  conns  backend                               ops/s   ×1st     p50 ms     p99 ms   ×1st   "
    "p99.9 ms     max ms  errors   RSS MB  procs  threads    fds   CPU s  us/op  cs/op v/i  "
    "load CPU  exit";
// The proxy scenario's extra column: the upstream's peak connections.
constexpr std::string_view kUpstreamHeader = "  upstream peak";
// A GET_LOCK sequence's: how many GET_LOCKs timed out.
constexpr std::string_view kLockHeader = "  lock timeouts";

std::string ratio(double value, double base) {
  if (base <= 0 || value <= 0) return "-";
  return fmt::format("{:.2f}", value / base);
}

std::string row_line(const CompareRow& row, const CompareRow& base, bool upstream_column,
                     bool lock_column) {
  if (!row.ran) {
    return fmt::format("  {:>5}  {:<34}  not run: {}\n", row.connections, row.backend, row.note);
  }
  std::string line = fmt::format(
      "  {:>5}  {:<34} {:>9.0f} {:>6} {:>10.3f} {:>10.3f} {:>6} {:>10.3f} {:>10.3f} {:>7} {:>8.1f} "
      "{:>6} {:>8} {:>6} {:>7.2f} {:>6.1f} {:>10} {:>9.2f} {:>5}",
      row.connections, row.backend, row.throughput, ratio(row.throughput, base.throughput),
      row.latency.p50_us / 1e3, row.latency.p99_us / 1e3,
      ratio(row.latency.p99_us, base.latency.p99_us), row.latency.p999_us / 1e3,
      row.latency.max_us / 1e3, row.errors, row.rss_peak_mb, row.processes_peak, row.threads_peak,
      row.fds_peak, row.cpu_seconds, row.cpu_us_per_op(),
      fmt::format("{:.2f}/{:.2f}", row.voluntary_cs_per_op(), row.involuntary_cs_per_op()),
      row.client_cpu_seconds, row.exit_status);
  if (upstream_column) {
    line += fmt::format(" {:>14}", row.upstream_peak ? std::to_string(*row.upstream_peak) : "?");
  }
  if (lock_column) line += fmt::format(" {:>14}", row.lock_timeouts);
  line += "\n";
  // A sequence's steps, each timed from its send to its reply.
  for (std::size_t i = 0; i < row.steps.size(); ++i) {
    const auto& step = row.steps[i];
    line += fmt::format(
        "  {:>5}    └ {:<30} {:>9} {:>6} {:>10.3f} {:>10.3f} {:>6} {:>10.3f} {:>10.3f}\n", "",
        fmt::format("step {} {}", i + 1, step.name), fmt::format("{} replies", step.replies), "",
        step.latency.p50_us / 1e3, step.latency.p99_us / 1e3, "", step.latency.p999_us / 1e3,
        step.latency.max_us / 1e3);
  }
  if (row.holder_requests.count > 0) {
    line += fmt::format(
        "  {:>5}    └ {:<30} {:>9} {:>6} {:>10.3f} {:>10.3f} {:>6} {:>10.3f} {:>10.3f}\n", "",
        "requests holding the lock", fmt::format("{} replies", row.holder_requests.count), "",
        row.holder_requests.p50_us / 1e3, row.holder_requests.p99_us / 1e3, "",
        row.holder_requests.p999_us / 1e3, row.holder_requests.max_us / 1e3);
  }
  if (!row.class2.empty()) {
    line += fmt::format(
        "  {:>5}    └ {:<30} {:>9} {:>6} {:>10.3f} {:>10.3f} {:>6} {:>10.3f} {:>10.3f}\n", "",
        row.class2, fmt::format("{} replies", row.class2_requests), "",
        row.class2_latency.p50_us / 1e3, row.class2_latency.p99_us / 1e3, "",
        row.class2_latency.p999_us / 1e3, row.class2_latency.max_us / 1e3);
  }
  if (row.errors > 0 || row.exit_status != 0) {
    line += fmt::format(
        "         ! errors: {} error replies, {} refused, {} connect failures, {} dropped, {} "
        "unanswered, {} invalid; exit status {}{}\n",
        row.error_replies, row.refused, row.connect_failures, row.dropped, row.unanswered,
        row.invalid_replies, row.exit_status, row.note.empty() ? "" : "; first: " + row.note);
  }
  return line;
}

}  // namespace

std::string format_table(const Scenario& scenario, const std::vector<CompareRow>& rows) {
  // Ratios compare backends at the same connection count: the block's first row is
  // the base.
  std::string out = fmt::format("\n== {} — {}{} ==\n", scenario.name, scenario.summary,
                                scenario.churn          ? " (ops/s = connections per second)"
                                : is_sequence(scenario) ? " (ops/s = sequences per second)"
                                                        : "");
  const bool upstream_column = scenario.server == ServerKind::kProxy;
  const bool lock_column = has_lock_wait(scenario);
  out += kHeader;
  if (upstream_column) out += kUpstreamHeader;
  if (lock_column) out += kLockHeader;
  out += "\n";
  const CompareRow* base = nullptr;
  for (const auto& row : rows) {
    if (base == nullptr || base->connections != row.connections) {
      if (base != nullptr) out += "\n";
      base = &row;
    }
    out += row_line(row, *base, upstream_column, lock_column);
  }
  return out;
}

}  // namespace compare_tool
