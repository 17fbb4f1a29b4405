// File: tools/loadgen/load_report.cc
#include "load_report.h"

#include <fmt/format.h>

#include "request_sequence.h"

namespace loadgen {

namespace {

// JSON string escaping for the few texts a report carries (names, an error line).
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string json_latency(const LatencySummary& s) {
  return fmt::format(
      "{{\"count\":{},\"mean_us\":{:.1f},\"p50_us\":{:.1f},\"p90_us\":{:.1f},\"p99_us\":{:.1f},"
      "\"p999_us\":{:.1f},\"p9999_us\":{:.1f},\"max_us\":{:.1f}}}",
      s.count, s.mean_us, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.p9999_us, s.max_us);
}

std::string text_latency(std::string_view label, const LatencySummary& s) {
  return fmt::format(
      "  {:<10} {:>9} replies   p50 {:>9.3f} ms  p90 {:>9.3f} ms  p99 {:>9.3f} ms  p99.9 {:>9.3f} "
      "ms  p99.99 {:>9.3f} ms  max {:>9.3f} ms\n",
      label, s.count, s.p50_us / 1e3, s.p90_us / 1e3, s.p99_us / 1e3, s.p999_us / 1e3,
      s.p9999_us / 1e3, s.max_us / 1e3);
}

// A sequence's steps, one line each, from each step's send to its reply.
std::string text_steps(const ClassResult& cls) {
  std::string out = fmt::format("  steps of {} (each from its send to its reply):\n", cls.name);
  for (std::size_t i = 0; i < cls.steps.size(); ++i) {
    const auto& step = cls.steps[i];
    const auto s = summarize(step.latency);
    out += fmt::format(
        "    {} {:<14} {:>9} replies   p50 {:>9.3f} ms  p99 {:>9.3f} ms  p99.9 {:>9.3f} ms  max "
        "{:>9.3f} ms{}{}\n",
        i + 1, step.name, step.replies, s.p50_us / 1e3, s.p99_us / 1e3, s.p999_us / 1e3,
        s.max_us / 1e3, step.errors > 0 ? fmt::format("  {} errors", step.errors) : "",
        step.lock_timeouts > 0 ? fmt::format("  {} lock-wait timeouts", step.lock_timeouts) : "");
  }
  if (cls.holder_requests.count() > 0) {
    const auto s = summarize(cls.holder_requests);
    out += fmt::format(
        "    holding the lock {:>9} replies   p50 {:>9.3f} ms  p99 {:>9.3f} ms  p99.9 {:>9.3f} ms  "
        "max {:>9.3f} ms  (the steps after GET_LOCK)\n",
        s.count, s.p50_us / 1e3, s.p99_us / 1e3, s.p999_us / 1e3, s.max_us / 1e3);
  }
  return out;
}

bool every_class_a_sequence(const LoadResult& r) {
  for (const auto& cls : r.classes) {
    if (cls.steps.empty()) return false;
  }
  return !r.classes.empty();
}

bool has_lock_wait(const LoadSpec& spec) {
  for (const auto& cls : spec.classes) {
    std::string error;
    const auto sequence = parse_sequence(cls.request, error);
    if (sequence && sequence->has_lock_wait()) return true;
  }
  return false;
}

}  // namespace

LatencySummary summarize(const connsched::LogHistogram& h) {
  const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  return {.p50_us = us(h.percentile(50)),
          .p90_us = us(h.percentile(90)),
          .p99_us = us(h.percentile(99)),
          .p999_us = us(h.percentile(99.9)),
          .p9999_us = us(h.percentile(99.99)),
          .max_us = us(h.max()),
          .mean_us = h.mean() / 1e3,
          .count = h.count()};
}

std::string format_text(const LoadSpec& spec, const LoadResult& r) {
  std::string out = fmt::format(
      "{}:{} {} — {} connections{}{}, pipeline {}, {:.2f} s measured\n", spec.host, spec.port,
      protocol_name(spec.protocol), spec.connections, spec.churn ? " (churn)" : "",
      spec.idle_connections > 0 ? fmt::format(" + {} idle", spec.idle_connections) : "",
      spec.pipeline, r.seconds);
  out += fmt::format("  throughput {:.0f} {}/s", r.throughput(),
                     spec.churn                  ? "connections"
                     : every_class_a_sequence(r) ? "sequences"
                                                 : "requests");
  if (spec.open_loop) {
    out += fmt::format(
        " (offered {:.0f}/s, {} arrivals; {} waited for a busy connection, {} "
        "never sent)",
        spec.rate, spec.arrivals == Arrivals::kPoisson ? "Poisson" : "constant", r.queued,
        r.unsent);
  }
  out += "\n";
  if (spec.open_loop) out += "  latency from the intended send time (corrected):\n";
  out += text_latency("all", summarize(r.all_latency()));
  if (r.classes.size() > 1) {
    for (const auto& cls : r.classes) out += text_latency(cls.name, summarize(cls.latency));
  }
  for (const auto& cls : r.classes) {
    if (!cls.steps.empty()) out += text_steps(cls);
  }
  if (spec.open_loop) {
    out += "  service time, from the actual send:\n";
    out += text_latency("all", summarize(r.all_service()));
  }
  out += fmt::format(
      "  errors {} (error replies {}, refused {}, connect failures {}, dropped {}, unanswered "
      "{}, invalid {}, mismatched {}); idle connections open at end {}/{}\n",
      r.errors(), r.error_replies, r.refused, r.connect_failures, r.dropped, r.unanswered,
      r.invalid_replies, r.mismatched_replies, r.idle_open_at_end, spec.idle_connections);
  if (spec.reconnect) {
    out += fmt::format(
        "  reconnects {} (connections the server closed, reopened; {} request(s) in flight at "
        "those closes got no reply)\n",
        r.reconnects, r.unanswered_at_close);
  }
  if (has_lock_wait(spec)) {
    out += fmt::format(
        "  lock-wait timeouts {} (GET_LOCK answered 0; that run's later steps were not sent)\n",
        r.lock_timeouts);
  }
  if (r.runs_cut > 0) {
    out += fmt::format(
        "  sequence runs in progress when the load stopped: {} (closed, not waited for)\n",
        r.runs_cut);
  }
  if (!r.first_error.empty()) out += fmt::format("  first error: {}\n", r.first_error);
  return out;
}

std::string json_distribution(const connsched::LogHistogram& h) {
  std::string out = "[";
  for (std::size_t b = 0; b < connsched::LogHistogram::kBucketCount; ++b) {
    const auto n = h.bucket_count(b);
    if (n == 0) continue;
    if (out.size() > 1) out += ',';
    out += fmt::format("[{},{},{}]", connsched::LogHistogram::bucket_lower(b),
                       connsched::LogHistogram::bucket_upper(b), n);
  }
  return out + "]";
}

std::string format_json(const LoadSpec& spec, const LoadResult& r) {
  std::string classes;
  for (const auto& cls : r.classes) {
    if (!classes.empty()) classes += ',';
    std::string steps;
    for (const auto& step : cls.steps) {
      if (!steps.empty()) steps += ',';
      steps += fmt::format(
          "{{\"name\":{},\"replies\":{},\"errors\":{},\"lock_timeouts\":{},\"latency\":{}}}",
          json_string(step.name), step.replies, step.errors, step.lock_timeouts,
          json_latency(summarize(step.latency)));
    }
    classes += fmt::format(
        "{{\"name\":{},\"requests\":{},\"errors\":{},\"lock_timeouts\":{},\"latency\":{},"
        "\"service\":{},\"steps\":[{}],\"holder_requests\":{}}}",
        json_string(cls.name), cls.requests, cls.errors, cls.lock_timeouts,
        json_latency(summarize(cls.latency)), json_latency(summarize(cls.service)), steps,
        json_latency(summarize(cls.holder_requests)));
  }
  std::string timeline;
  for (std::size_t i = 0; i < r.timeline.size(); ++i) {
    const auto& at = r.timeline[i];
    if (!timeline.empty()) timeline += ',';
    timeline +=
        fmt::format("{{\"start_ms\":{},\"completed\":{},\"p99_us\":{:.1f},\"errors\":{}}}",
                    static_cast<std::uint64_t>(i) * r.timeline_interval.count(), at.completed,
                    static_cast<double>(at.latency.percentile(99)) / 1e3, at.errors);
  }
  const auto all = r.all_latency();
  const auto service = r.all_service();
  return fmt::format(
      "{{\"protocol\":{},\"connections\":{},\"idle_connections\":{},\"pipeline\":{},"
      "\"churn\":{},\"seconds\":{:.3f},\"requests\":{},\"throughput\":{:.1f},\"errors\":{},"
      "\"error_replies\":{},\"refused\":{},\"connect_failures\":{},\"dropped\":{},"
      "\"unanswered\":{},\"invalid_replies\":{},\"mismatched_replies\":{},\"lock_timeouts\":{},"
      "\"runs_cut\":{},"
      "\"connections_opened\":{},\"reconnects\":{},\"unanswered_at_close\":{},"
      "\"idle_open_at_end\":{},\"first_error\":{},\"open_loop\":{},"
      "\"arrivals\":{},"
      "\"offered_rate\":{:.1f},\"queued\":{},\"unsent\":{},\"latency\":{},\"service\":{},"
      "\"distribution\":{{\"unit\":\"ns\",\"latency\":{},\"service\":{}}},"
      "\"timeline_interval_ms\":{},\"timeline\":[{}],\"classes\":[{}]}}",
      json_string(protocol_name(spec.protocol)), spec.connections, spec.idle_connections,
      spec.pipeline, spec.churn, r.seconds, r.requests, r.throughput(), r.errors(), r.error_replies,
      r.refused, r.connect_failures, r.dropped, r.unanswered, r.invalid_replies,
      r.mismatched_replies, r.lock_timeouts, r.runs_cut, r.connections_opened, r.reconnects,
      r.unanswered_at_close, r.idle_open_at_end, json_string(r.first_error), spec.open_loop,
      json_string(spec.arrivals == Arrivals::kPoisson ? "poisson" : "constant"), r.offered_rate,
      r.queued, r.unsent, json_latency(summarize(all)), json_latency(summarize(service)),
      json_distribution(all), json_distribution(service), r.timeline_interval.count(), timeline,
      classes);
}

}  // namespace loadgen
