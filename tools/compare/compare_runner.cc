// File: tools/compare/compare_runner.cc
#include "compare_runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include <filesystem>

#include "admin_probe.h"
#include "custom_scenario.h"
#include "load_generator.h"
#include "proc_sampler.h"
#include "switch_driver.h"

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
                            std::uint32_t threads, double offered_rate) {
  loadgen::LoadSpec spec;
  spec.port = port;
  spec.protocol = scenario_protocol(scenario);
  spec.connections = connections;
  spec.idle_connections = scenario.idle;
  spec.churn = scenario.churn;
  spec.threads = threads;
  spec.warmup = scenario.warmup;
  spec.duration = scenario.duration;
  spec.classes.push_back({.name = "main", .request = scenario.request, .connections = 0});
  if (scenario.mix) spec.classes.push_back(*scenario.mix);
  // An open loop at the offered rate, one request at a time per connection (a client):
  // above capacity, requests wait on the client and their wait counts.
  spec.open_loop = offered_rate > 0;
  spec.rate = offered_rate;
  spec.timeline_interval = scenario.timeline_interval;
  // The open loop's allowance; the closed loops that set its rate send one at a time (4
  // in flight serve 4 per wake-up and overstate what one thread per connection carries
  // when requests come one by one, as an open loop's do).
  spec.pipeline = spec.open_loop ? scenario.pipeline : 1;
  spec.check_counters = scenario.check_counters;
  return spec;
}

void fill_load_figures(CompareRow& row, const loadgen::LoadResult& result) {
  row.seconds = result.seconds;
  row.requests = result.classes[0].requests;
  row.throughput = result.throughput();
  row.latency = loadgen::summarize(result.classes[0].latency);
  row.service = loadgen::summarize(result.classes[0].service);
  row.offered_rate = result.offered_rate;
  row.queued = result.queued;
  row.unsent = result.unsent;
  const double step = static_cast<double>(result.timeline_interval.count()) / 1e3;
  for (std::size_t i = 0; i < result.timeline.size(); ++i) {
    const auto& at = result.timeline[i];
    row.timeline.push_back({.start_s = static_cast<double>(i) * step,
                            .completed = at.completed,
                            .p99_us = static_cast<double>(at.latency.percentile(99)) / 1e3,
                            .errors = at.errors});
  }
  for (const auto& step : result.classes[0].steps) {
    row.steps.push_back({.name = step.name,
                         .replies = step.replies,
                         .lock_timeouts = step.lock_timeouts,
                         .latency = loadgen::summarize(step.latency)});
  }
  row.lock_timeouts = result.lock_timeouts;
  row.holder_requests = loadgen::summarize(result.classes[0].holder_requests);
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
  row.mismatched_replies = result.mismatched_replies;
  row.idle_open_at_end = result.idle_open_at_end;
  if (!result.first_error.empty()) row.note = result.first_error;
}

// The servers one measurement needs. Most scenarios start one; the proxy scenario starts
// the upstream kv_server first and then kv_proxy pointed at it, except in its direct
// row, where the upstream itself is under test (both handles then share the process).
struct ServersUnderTest {
  LaunchedServer under_test;
  LaunchedServer upstream;  ///< proxy scenario only
};

ServersUnderTest start_servers(const BackendUnderTest& backend, const Scenario& scenario,
                               const LaunchSettings& launch, const std::string& log_path) {
  ServersUnderTest servers;
  if (scenario.server != ServerKind::kProxy) {
    servers.under_test = launch_server(backend, scenario, launch, log_path);
    return servers;
  }
  Scenario kv = scenario;
  kv.server = ServerKind::kKv;
  const BackendUnderTest upstream{.kind = BackendUnderTest::Kind::kConnsched,
                                  .label = "upstream",
                                  .thread_handling = scenario.upstream_backend,
                                  .options = {"--admin-port=0"},
                                  .switch_between = {}};
  const std::string upstream_log =
      log_path.substr(0, log_path.size() - std::string_view(".log").size()) + "-upstream.log";
  auto started = launch_server(upstream, kv, launch, upstream_log);
  if (!started.process) {
    servers.under_test.error = fmt::format("the upstream kv_server: {}", started.error);
    return servers;
  }
  servers.upstream = std::move(started);
  if (backend.kind == BackendUnderTest::Kind::kUpstream) {
    servers.under_test.port = servers.upstream.port;
    servers.under_test.process = servers.upstream.process;
    return servers;
  }
  auto proxy = backend;
  proxy.options.push_back(fmt::format("--upstream=127.0.0.1:{}", servers.upstream.port));
  servers.under_test = launch_server(proxy, scenario, launch, log_path);
  return servers;
}

// SIGTERM, then the exit status; -1 (and a note) if it outlives the bound and is killed.
int stop(ChildProcess& process, std::string& note) {
  process.signal(SIGTERM);
  if (auto status = process.wait_exit(60s)) return *status;
  if (note.empty()) note = "did not exit within 60 s of SIGTERM; killed";
  return -1;
}

}  // namespace

std::string server_name(const BackendUnderTest& backend, const Scenario& scenario) {
  switch (backend.kind) {
    case BackendUnderTest::Kind::kConnsched:
      return std::filesystem::path(server_program(scenario, "")).filename().string();
    case BackendUnderTest::Kind::kUpstream:
      return server_executable(ServerKind::kKv);
    case BackendUnderTest::Kind::kRedis:
      return "redis-server";
    case BackendUnderTest::Kind::kNginx:
      break;
  }
  return "nginx";
}

CompareRow run_measurement(const Scenario& scenario, std::uint32_t connections,
                           const BackendUnderTest& backend, const RunSettings& settings,
                           double offered_rate) {
  // The server's CPU is read as the load enters and leaves its measured window, so
  // connecting, warm-up and shutdown are not charged to it.
  CompareRow row;
  row.scenario = scenario.name;
  row.server = server_name(backend, scenario);
  row.backend = backend.label;
  row.connections = connections;
  row.idle = scenario.idle;
  row.key_step = scenario.key_step;
  const std::string log_path =
      offered_rate > 0 ? fmt::format("{}/{}-{}-{}-at-{:.0f}.log", settings.log_dir, scenario.name,
                                     connections, slug(backend.label), offered_rate)
                       : fmt::format("{}/{}-{}-{}.log", settings.log_dir, scenario.name,
                                     connections, slug(backend.label));
  auto servers = start_servers(backend, scenario, settings.launch, log_path);
  if (!servers.under_test.process) {
    row.note = fmt::format("did not start: {}", servers.under_test.error);
    return row;
  }
  const pid_t pid = servers.under_test.process->pid();
  std::optional<double> cpu_start, cpu_stop, client_start, client_stop;
  std::optional<ContextSwitches> switches_start, switches_stop;
  // The switch scenario's row: a driver switches the backend while the load measures.
  std::optional<SwitchDriver> switcher;
  if (!backend.switch_between.empty()) {
    row.idle_server = snapshot_server(pid);
    switcher.emplace(pid, servers.under_test.admin_port, backend.switch_between, scenario.duration,
                     scenario.switch_every);
  }
  {
    PeakSampler sampler(pid);
    const auto result =
        loadgen::run_load(make_spec(scenario, connections, servers.under_test.port,
                                    settings.loadgen_threads, offered_rate),
                          [&](loadgen::Phase phase) {
                            if (phase != loadgen::Phase::kMeasure && phase != loadgen::Phase::kStop)
                              return;
                            const bool start = phase == loadgen::Phase::kMeasure;
                            // This process is the load generator: its CPU tells whether the client
                            // kept up.
                            if (auto self = read_proc_sample(::getpid())) {
                              (start ? client_start : client_stop) = self->cpu_seconds;
                            }
                            if (switcher && start) switcher->start();
                            if (switcher && !start) switcher->stop();
                            auto sample = read_tree_sample(pid);
                            if (!sample) return;
                            (start ? cpu_start : cpu_stop) = sample->cpu_seconds;
                            // The same window for the tree's context switches.
                            const auto counts = read_tree_context_switches(pid);
                            (start ? switches_start : switches_stop) = counts;
                          });
    fill_load_figures(row, result);
    row.rss_peak_mb = static_cast<double>(sampler.peak_rss_kb()) / 1024.0;
    row.threads_peak = sampler.peak_threads();
    row.fds_peak = sampler.peak_fds();
    row.processes_peak = sampler.peak_processes();
    if (switcher) {
      row.switches = switcher->finish();
      row.loaded_server = switcher->loaded();
      if (!row.switches.empty()) row.after_switches = row.switches.back().after;
      std::vector<connsched::LogHistogram> intervals;
      for (const auto& at : result.timeline) intervals.push_back(at.latency);
      const auto p99 = switch_window_p99(intervals, result.timeline_interval, row.switches);
      row.steady_p99_us = p99.steady_ns / 1e3;
      row.switch_p99_us = p99.inside_ns / 1e3;
      row.around_switch_p99_us = p99.around_ns / 1e3;
    }
  }
  if (switcher) {
    // Once the server has closed every connection of the load (its count back to 0).
    std::string error;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto open =
          read_admin_counter(servers.under_test.admin_port, "connections_current", 2s, error);
      if (open && *open == 0) break;
      std::this_thread::sleep_for(20ms);
    }
    std::this_thread::sleep_for(200ms);
    row.after_close = snapshot_server(pid);
  }
  if (cpu_start && cpu_stop) row.cpu_seconds = *cpu_stop - *cpu_start;
  if (client_start && client_stop) row.client_cpu_seconds = *client_stop - *client_start;
  if (switches_start && switches_stop) {
    const auto switches = context_switches_between(*switches_start, *switches_stop);
    row.voluntary_switches = switches.voluntary;
    row.involuntary_switches = switches.involuntary;
  }
  row.ran = true;
  if (servers.upstream.process) {
    std::string error;
    row.upstream_peak =
        read_admin_counter(servers.upstream.admin_port, "connections_peak", 10s, error);
    if (!row.upstream_peak && row.note.empty()) row.note = error;
  }
  row.exit_status = stop(*servers.under_test.process, row.note);
  if (servers.upstream.process && servers.upstream.process != servers.under_test.process) {
    const int upstream_status = stop(*servers.upstream.process, row.note);
    if (upstream_status != 0 && row.note.empty()) {
      row.note = fmt::format("the upstream exited with status {}", upstream_status);
    }
  }
  return row;
}

}  // namespace compare_tool
