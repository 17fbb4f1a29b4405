// File: tools/compare/report_csv.cc
#include "report_csv.h"

#include <fmt/format.h>

#include <fstream>

#include "report_switch.h"

namespace compare_tool {

namespace {

// RFC 4180 quoting, only where a field needs it.
std::string field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

std::string ms(double us) {
  return fmt::format("{:.3f}", us / 1e3);
}

// One figure per step of a sequence, in step order, separated by ';' (empty when the
// row's load is not a sequence).
template <typename Figure>
std::string step_list(const CompareRow& r, Figure figure) {
  std::string out;
  for (const auto& step : r.steps) out += (out.empty() ? "" : ";") + figure(step);
  return field(out);
}

}  // namespace

std::string csv_header() {
  return "scenario,server,backend,connections,idle_connections,ran,seconds,requests,throughput,"
         "p50_ms,p90_ms,p99_ms,p999_ms,max_ms,class2,class2_requests,class2_p50_ms,class2_p99_ms,"
         "class2_max_ms,errors,error_replies,refused,connect_failures,dropped,unanswered,"
         "invalid_replies,idle_open_at_end,rss_peak_mb,threads_peak,cpu_seconds,cpu_us_per_op,"
         "client_cpu_seconds,"
         "exit_status,upstream_peak_connections,offered_rate,achieved_rate,p9999_ms,"
         "service_p50_ms,service_p99_ms,service_p999_ms,queued,unsent,fds_peak,processes_peak,"
         "lock_timeouts,steps,step_replies,step_p50_ms,step_p99_ms,step_max_ms,key_step,"
         "key_step_p99_ms,holder_p99_ms,mismatched_replies,switches,switches_done,switch_median_ms,"
         "switch_max_ms,steady_p99_ms,switch_p99_ms,around_switch_p99_ms,voluntary_switches,"
         "involuntary_switches,vol_cs_per_op,invol_cs_per_op,note";
}

std::string csv_line(const CompareRow& r) {
  const StepFigures* key = r.key_step.empty() ? nullptr : r.step(r.key_step);
  const auto times = switch_times_of(r);
  return fmt::format(
      "{},{},{},{},{},{},{:.3f},{},{:.1f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{},{},{:.3f},{:.3f},"
      "{:.3f},{},{},{},{},{},{},{},{},{:.1f},{},{:.3f},{:.2f},{:.3f},{},{},{:.1f},{:.1f},{:.3f},"
      "{:.3f},{:.3f},{:.3f},{},{},{},{},{},{},{},{},{},{},{},{},{:.3f},{},{},{},{:.0f},{:.0f},"
      "{:.3f},{:.3f},{:.3f},{},{},{:.3f},{:.3f},{}",
      field(r.scenario), field(r.server), field(r.backend), r.connections, r.idle, r.ran ? 1 : 0,
      r.seconds, r.requests, r.throughput, r.latency.p50_us / 1e3, r.latency.p90_us / 1e3,
      r.latency.p99_us / 1e3, r.latency.p999_us / 1e3, r.latency.max_us / 1e3, field(r.class2),
      r.class2_requests, r.class2_latency.p50_us / 1e3, r.class2_latency.p99_us / 1e3,
      r.class2_latency.max_us / 1e3, r.errors, r.error_replies, r.refused, r.connect_failures,
      r.dropped, r.unanswered, r.invalid_replies, r.idle_open_at_end, r.rss_peak_mb, r.threads_peak,
      r.cpu_seconds, r.cpu_us_per_op(), r.client_cpu_seconds, r.exit_status,
      r.upstream_peak ? std::to_string(*r.upstream_peak) : std::string(), r.offered_rate,
      r.achieved_rate(), r.latency.p9999_us / 1e3, r.service.p50_us / 1e3, r.service.p99_us / 1e3,
      r.service.p999_us / 1e3, r.queued, r.unsent, r.fds_peak, r.processes_peak, r.lock_timeouts,
      step_list(r, [](const StepFigures& s) { return s.name; }),
      step_list(r, [](const StepFigures& s) { return std::to_string(s.replies); }),
      step_list(r, [](const StepFigures& s) { return ms(s.latency.p50_us); }),
      step_list(r, [](const StepFigures& s) { return ms(s.latency.p99_us); }),
      step_list(r, [](const StepFigures& s) { return ms(s.latency.max_us); }), field(r.key_step),
      key ? ms(key->latency.p99_us) : std::string(), r.holder_requests.p99_us / 1e3,
      r.mismatched_replies, r.switches.size(), times.done, times.median_ms, times.max_ms,
      r.steady_p99_us / 1e3, r.switch_p99_us / 1e3, r.around_switch_p99_us / 1e3,
      r.voluntary_switches, r.involuntary_switches, r.voluntary_cs_per_op(),
      r.involuntary_cs_per_op(), field(r.note));
}

bool write_csv(const std::string& path, const std::vector<CompareRow>& rows) {
  std::ofstream out(path);
  out << csv_header() << '\n';
  for (const auto& row : rows) out << csv_line(row) << '\n';
  return static_cast<bool>(out);
}

}  // namespace compare_tool
