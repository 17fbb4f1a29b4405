// File: examples/compare/compare_runner.cc
#include "compare_runner.h"

#include <fmt/format.h>
#include <signal.h>

#include <optional>

#include "load_generator.h"
#include "proc_sampler.h"

namespace compare_tool {

namespace {

using namespace std::chrono_literals;

// A file-name-safe version of a label ("one-thread-per-connection (cache 0)").
std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
    if (keep) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

loadgen::LoadSpec make_spec(const Scenario& scenario, std::uint32_t connections, std::uint16_t port,
                            std::uint32_t threads) {
  loadgen::LoadSpec spec;
  spec.port = port;
  spec.protocol = server_protocol(scenario.server);
  spec.connections = connections;
  spec.idle_connections = scenario.idle;
  spec.churn = scenario.churn;
  spec.threads = threads;
  spec.warmup = scenario.warmup;
  spec.duration = scenario.duration;
  spec.classes.push_back({.name = "main", .request = scenario.request, .connections = 0});
  if (scenario.mix) spec.classes.push_back(*scenario.mix);
  return spec;
}

void fill_load_figures(CompareRow& row, const loadgen::LoadResult& result) {
  row.seconds = result.seconds;
  row.requests = result.classes[0].requests;
  row.throughput = result.throughput();
  row.latency = loadgen::summarize(result.classes[0].latency);
  if (result.classes.size() > 1) {
    row.class2 = result.classes[1].name;
    row.class2_requests = result.classes[1].requests;
    row.class2_latency = loadgen::summarize(result.classes[1].latency);
  }
  row.errors = result.errors();
  row.error_replies = result.error_replies;
  row.refused = result.refused;
  row.connect_failures = result.connect_failures;
  row.dropped = result.dropped;
  row.unanswered = result.unanswered;
  row.invalid_replies = result.invalid_replies;
  row.idle_open_at_end = result.idle_open_at_end;
  if (!result.first_error.empty()) row.note = result.first_error;
}

}  // namespace

std::string server_name(const BackendUnderTest& backend, const Scenario& scenario) {
  switch (backend.kind) {
    case BackendUnderTest::Kind::kConnsched:
      return server_executable(scenario.server);
    case BackendUnderTest::Kind::kRedis:
      return "redis-server";
    case BackendUnderTest::Kind::kNginx:
      break;
  }
  return "nginx";
}

CompareRow run_measurement(const Scenario& scenario, std::uint32_t connections,
                           const BackendUnderTest& backend, const RunSettings& settings) {
  // The server's CPU is read as the load enters and leaves its measured window, so
  // connecting, warm-up and shutdown are not charged to it.
  CompareRow row;
  row.scenario = scenario.name;
  row.server = server_name(backend, scenario);
  row.backend = backend.label;
  row.connections = connections;
  row.idle = scenario.idle;
  const std::string log_path = fmt::format("{}/{}-{}-{}.log", settings.log_dir, scenario.name,
                                           connections, slug(backend.label));
  auto server = launch_server(backend, scenario, settings.launch, log_path);
  if (!server.process) {
    row.note = fmt::format("did not start: {}", server.error);
    return row;
  }
  const pid_t pid = server.process->pid();
  std::optional<double> cpu_start, cpu_stop;
  {
    PeakSampler sampler(pid);
    const auto result = loadgen::run_load(
        make_spec(scenario, connections, server.port, settings.loadgen_threads),
        [&](loadgen::Phase phase) {
          if (phase != loadgen::Phase::kMeasure && phase != loadgen::Phase::kStop) return;
          auto sample = read_proc_sample(pid);
          if (!sample) return;
          (phase == loadgen::Phase::kMeasure ? cpu_start : cpu_stop) = sample->cpu_seconds;
        });
    fill_load_figures(row, result);
    row.rss_peak_mb = static_cast<double>(sampler.peak_rss_kb()) / 1024.0;
    row.threads_peak = sampler.peak_threads();
  }
  if (cpu_start && cpu_stop) row.cpu_seconds = *cpu_stop - *cpu_start;
  row.ran = true;
  server.process->signal(SIGTERM);
  if (auto status = server.process->wait_exit(60s)) {
    row.exit_status = *status;
  } else {
    row.note = "did not exit within 60 s of SIGTERM; killed";
  }
  return row;
}

}  // namespace compare_tool
