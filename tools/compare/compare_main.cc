// File: tools/compare/compare_main.cc
//
// connsched_compare: runs every scenario against every backend (and redis-server or
// nginx as references when installed), then prints a table per scenario and writes a
// CSV and one chart per scenario.
//   connsched_compare                      # the quick version (about 3 minutes)
//   connsched_compare --full               # the full version (docs/benchmarks.md)
//   connsched_compare --scenarios ping,churn --backend build/release/plugins/shared-queue.so
//   connsched_compare --sweep --scenarios cpu,mixed   # latency against offered load
//   connsched_compare --server build/release/bin/echo_server --protocol line --request hello
#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <thread>

#include "compare_plan.h"
#include "compare_runner.h"
#include "cpu_split.h"
#include "custom_scenario.h"
#include "fd_limit.h"
#include "progress_line.h"
#include "report_chart.h"
#include "report_csv.h"
#include "report_switch.h"
#include "report_table.h"
#include "sweep.h"

namespace {

namespace fs = std::filesystem;
using namespace compare_tool;

struct Flags {
  bool full = false;
  std::vector<std::string> scenarios;
  std::vector<std::string> backends;
  std::vector<std::string> extra_backends;
  std::vector<std::string> server_options;
  std::vector<std::uint32_t> connections;
  double duration = 0, warmup = -1;
  bool no_reference = false;
  std::string out_dir = "connsched-compare";
  std::string bin_dir, plugin_dir;
  std::uint32_t loadgen_threads = 2;
  bool no_pin = false;
  bool sweep = false;
  double rate = 0;
  CustomLoad custom;
  std::string scenario_file;
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

// The scenarios to run: the selected ones, with any overrides from the command line.
std::vector<Scenario> chosen_scenarios(const Flags& flags) {
  std::vector<Scenario> out;
  for (auto scenario : make_scenarios(flags.full, std::thread::hardware_concurrency())) {
    if (!flags.scenarios.empty() &&
        std::none_of(flags.scenarios.begin(), flags.scenarios.end(),
                     [&](const std::string& name) { return selects(name, scenario.name); })) {
      continue;
    }
    if (!flags.connections.empty()) scenario.connections = flags.connections;
    if (flags.duration > 0) scenario.duration = to_ms(flags.duration);
    if (flags.warmup >= 0) scenario.warmup = to_ms(flags.warmup);
    out.push_back(scenario);
  }
  return out;
}

// The user's own scenarios (--server, --scenario-file), with the command line's window
// overrides; an empty list when neither is given. Throws std::invalid_argument with
// one line on a bad load.
std::vector<Scenario> custom_scenarios(const Flags& flags) {
  std::vector<Scenario> out;
  std::string error;
  if (!flags.custom.server_path.empty()) {
    CustomLoad load = flags.custom;
    if (!flags.connections.empty()) load.connections = flags.connections;
    out.push_back(custom_scenario(load, flags.full, error));
  }
  if (error.empty() && !flags.scenario_file.empty()) {
    auto more = read_scenario_file(flags.scenario_file, flags.full, error);
    out.insert(out.end(), more.begin(), more.end());
  }
  if (!error.empty()) throw std::invalid_argument(error);
  for (auto& scenario : out) {
    if (!flags.connections.empty()) scenario.connections = flags.connections;
    if (flags.duration > 0) scenario.duration = to_ms(flags.duration);
    if (flags.warmup >= 0) scenario.warmup = to_ms(flags.warmup);
  }
  return out;
}

constexpr int kExitBadFlags = 2;

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

// Every scenario name, and the "http" prefix that selects the http ones.
std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& scenario : make_scenarios(false, 2)) names.push_back(scenario.name);
  return names;
}

// A name that selects nothing is refused with the list, not run as "no scenario" or
// dropped from a list beside valid ones: a typo must not cost a run that lacks it.
std::string unknown_scenario(const std::vector<std::string>& wanted) {
  const auto names = scenario_names();
  for (const auto& name : wanted) {
    if (std::none_of(names.begin(), names.end(),
                     [&](const std::string& scenario) { return selects(name, scenario); })) {
      return fmt::format("unknown scenario '{}' (valid: {}; 'http' selects every http-* one)", name,
                         joined(names));
    }
  }
  return {};
}

std::string unknown_backend(const std::vector<std::string>& wanted,
                            const std::vector<std::string>& builtins,
                            const std::string& plugin_dir) {
  for (const auto& name : wanted) {
    if (std::find(builtins.begin(), builtins.end(), name) == builtins.end()) {
      return fmt::format(
          "unknown backend '{}': no {}.so in {} (available: {}; a .so elsewhere: --backend=PATH)",
          name, name, plugin_dir, joined(builtins));
    }
  }
  return {};
}

std::string describe(const Scenario& scenario, std::uint32_t connections,
                     const BackendUnderTest& backend) {
  return fmt::format("{}: {} connections{}, {}", scenario.name, connections,
                     scenario.idle > 0 ? fmt::format(" + {} idle", scenario.idle) : "",
                     backend.label);
}

// The closest row to 80 % of the best capacity per backend: what a timeline of a sweep
// shows (loaded, not overloaded).
std::vector<CompareRow> rows_near(const std::vector<CompareRow>& open, double rate) {
  std::vector<CompareRow> out;
  for (const auto& row : open) {
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const CompareRow& r) { return r.backend == row.backend; });
    if (same == out.end()) {
      out.push_back(row);
    } else if (std::abs(row.offered_rate - rate) < std::abs(same->offered_rate - rate)) {
      *same = row;
    }
  }
  return out;
}

struct Outputs {
  std::vector<CompareRow> rows;
  std::vector<std::string> images;
  std::string chart_error;
  void note_chart(const std::string& error, const std::string& image) {
    if (!image.empty()) images.push_back(image);
    if (!error.empty() && chart_error.empty()) chart_error = error;
  }
};

// Each planned scenario at each of its sweep connection counts: every backend's
// closed-loop capacity, then every backend at each offered rate; a table, a sweep
// chart and (for stall scenarios) a timeline chart per scenario and count.
void run_sweeps(const Flags& flags, const ComparePlan& plan, const RunSettings& settings,
                Outputs& outputs) {
  const auto percents = sweep_percents(flags.full);
  const auto counts_of = [&](const Scenario& scenario) {
    if (!flags.connections.empty()) return scenario.connections;
    return std::vector<std::uint32_t>{
        *std::max_element(scenario.connections.begin(), scenario.connections.end())};
  };
  std::size_t total = 0, done = 0;
  for (const auto& planned : plan.scenarios) {
    if (!planned.scenario.churn && planned.scenario.switch_between.empty())
      total += counts_of(planned.scenario).size() * planned.backends.size() * (1 + percents.size());
  }
  ProgressLine progress(stderr);
  for (const auto& planned : plan.scenarios) {
    if (planned.scenario.churn) {
      fmt::print("\n== {} sweep: skipped, an open loop does not churn connections ==\n",
                 planned.scenario.name);
      continue;
    }
    if (!planned.scenario.switch_between.empty()) {
      fmt::print("\n== {} sweep: skipped, it runs at one rate (run it without --sweep) ==\n",
                 planned.scenario.name);
      continue;
    }
    const auto counts = counts_of(planned.scenario);
    // Windows given on the command line stand; otherwise a sweep's own.
    Scenario scenario = sweep_windows(planned.scenario, flags.full);
    if (flags.duration > 0) scenario.duration = planned.scenario.duration;
    if (flags.warmup >= 0) scenario.warmup = planned.scenario.warmup;
    for (const auto connections : counts) {
      std::vector<CompareRow> closed, open;
      for (const auto& backend : planned.backends) {
        progress.show(done++, total, describe(scenario, connections, backend) + ", closed loop");
        closed.push_back(run_measurement(scenario, connections, backend, settings));
      }
      const double best = best_capacity(closed);
      for (const double pct : percents) {
        const double rate = std::max(1.0, std::round(best * pct / 100));
        for (const auto& backend : planned.backends) {
          progress.show(
              done++, total,
              describe(scenario, connections, backend) + fmt::format(", {:.0f}/s offered", rate));
          open.push_back(run_measurement(scenario, connections, backend, settings, rate));
        }
      }
      progress.clear();
      fmt::print("{}", format_sweep_table(scenario, closed, open));
      std::fflush(stdout);
      Scenario named = scenario;
      if (counts.size() > 1) named.name += fmt::format("-{}", connections);
      std::string image;
      outputs.note_chart(write_sweep_chart(flags.out_dir, named, open, image), image);
      if (wants_timeline(scenario.name)) {
        image.clear();
        outputs.note_chart(
            write_timeline_chart(flags.out_dir, named, rows_near(open, best * 0.8),
                                 fmt::format("{} connections, open loop at about 80 % of the "
                                             "best capacity ({:.0f}/s)",
                                             connections, best * 0.8),
                                 image),
            image);
      }
      outputs.rows.insert(outputs.rows.end(), closed.begin(), closed.end());
      outputs.rows.insert(outputs.rows.end(), open.begin(), open.end());
    }
  }
}

int run(const Flags& flags) {
  // Plan everything first (so the progress line knows the total), then measure one
  // server at a time, printing each scenario's table as soon as it is complete.
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const std::string bin_dir = flags.bin_dir.empty() ? self.parent_path().string() : flags.bin_dir;
  const std::string plugin_dir =
      flags.plugin_dir.empty() ? (fs::path(bin_dir).parent_path() / "lib" / "connsched").string()
                               : flags.plugin_dir;
  auto builtins = builtin_backends(plugin_dir);
  if (auto why = unknown_scenario(flags.scenarios); !why.empty()) {
    fmt::print(stderr, "connsched_compare: {}\n", why);
    return kExitBadFlags;
  }
  if (auto why = unknown_backend(flags.backends, builtins, plugin_dir); !why.empty()) {
    fmt::print(stderr, "connsched_compare: {}\n", why);
    return kExitBadFlags;
  }
  for (const auto& path : flags.extra_backends) {
    if (!fs::is_regular_file(path)) {
      fmt::print(stderr, "connsched_compare: --backend={}: no such file\n", path);
      return kExitBadFlags;
    }
  }
  if (!flags.backends.empty()) {
    std::erase_if(builtins, [&](const std::string& name) {
      return std::find(flags.backends.begin(), flags.backends.end(), name) == flags.backends.end();
    });
  }
  const auto custom = custom_scenarios(flags);
  auto scenarios = custom.empty() ? chosen_scenarios(flags) : custom;
  // A sweep compares the backends as they are: a scenario's variants (mixed with each
  // pool mechanism off) are rows of the closed-loop comparison, and would multiply every
  // offered rate's runs.
  if (flags.sweep) {
    for (auto& scenario : scenarios) scenario.variants.clear();
  }
  if (scenarios.empty()) {
    fmt::print(stderr, "connsched_compare: no scenario selected\n");
    return kExitBadFlags;
  }
  OptionDeclarations declarations;
  const auto plan = make_plan(scenarios,
                              {.bin_dir = bin_dir,
                               .builtins = builtins,
                               .plugin_dir = flags.plugin_dir,
                               .extra_backends = flags.extra_backends,
                               .server_options = flags.server_options,
                               .references = !flags.no_reference},
                              declarations);
  if (plan.measurements() == 0) {
    fmt::print(stderr, "connsched_compare: nothing to measure (no backend in {}?)\n", plugin_dir);
    for (const auto& note : plan.notes) fmt::print(stderr, "  note: {}\n", note);
    return kExitBadFlags;
  }
  fs::create_directories(fs::path(flags.out_dir) / "logs");
  // Pinned before the load generator starts a thread, so every one of them inherits it.
  std::optional<CpuSplit> cpus = flags.no_pin ? std::nullopt : split_cpus(usable_cpus());
  if (cpus && !pin_calling_thread(cpus->client)) cpus.reset();
  const RunSettings settings{.launch = {.bin_dir = bin_dir,
                                        .work_dir = flags.out_dir,
                                        .max_connections = 20000,
                                        .server_cpus = cpus ? cpus->server : std::vector<int>{}},
                             .loadgen_threads = flags.loadgen_threads,
                             .log_dir = (fs::path(flags.out_dir) / "logs").string()};

  fmt::print(
      "connsched_compare: {} version{}, {} CPUs, backends from {}\n", flags.full ? "full" : "quick",
      flags.sweep ? " of the rate sweeps" : fmt::format(", {} measurements", plan.measurements()),
      std::thread::hardware_concurrency(), plugin_dir);
  if (cpus) {
    fmt::print("  servers run on CPU {}, the load generator on CPU {} (--no-pin to share)\n",
               cpu_list(cpus->server), cpu_list(cpus->client));
  } else {
    fmt::print("  servers and the load generator share the CPUs (not pinned)\n");
  }
  for (const auto& note : plan.notes) fmt::print("  note: {}\n", note);
  std::fflush(stdout);

  Outputs outputs;
  auto& all_rows = outputs.rows;
  if (flags.sweep) {
    run_sweeps(flags, plan, settings, outputs);
  } else {
    ProgressLine progress(stderr);
    std::size_t done = 0;
    for (const auto& planned : plan.scenarios) {
      std::vector<CompareRow> rows;
      for (const auto connections : planned.scenario.connections) {
        // The switch scenario: its backends' closed loops first, then the switching row
        // in an open loop at half the slower one's capacity (or at --rate).
        double slowest = 0;
        for (const auto& backend : planned.backends) {
          const bool switching = !backend.switch_between.empty();
          double rate = planned.scenario.churn ? 0 : flags.rate;
          if (switching && rate <= 0) rate = std::max(1.0, std::round(slowest / 2));
          progress.show(done++, plan.measurements(),
                        describe(planned.scenario, connections, backend) +
                            (switching ? fmt::format(", switching, {:.0f}/s offered", rate) : ""));
          // A switch scenario's closed loops only set the rate: a short window will do.
          Scenario measured = planned.scenario;
          if (!measured.switch_between.empty() && !switching) {
            measured.duration =
                std::min(measured.duration, std::chrono::milliseconds(flags.full ? 5000 : 2000));
          }
          // An open loop does not churn connections: churn stays a closed loop.
          rows.push_back(run_measurement(measured, connections, backend, settings, rate));
          if (!switching && rows.back().ran) {
            const double achieved = rows.back().achieved_rate();
            slowest = slowest == 0 ? achieved : std::min(slowest, achieved);
          }
        }
      }
      progress.clear();
      fmt::print("{}", format_table(planned.scenario, rows));
      for (const auto& row : rows) {
        if (row.switches.empty()) continue;
        fmt::print("{}", format_switch_report(row));
        const std::string path =
            (fs::path(flags.out_dir) / fmt::format("compare-{}-switches.csv", row.scenario))
                .string();
        fmt::print("  switches: {}{}\n", path,
                   write_switch_csv(path, row) ? "" : " (could not be written)");
      }
      std::fflush(stdout);
      if (!planned.scenario.switch_between.empty()) {
        std::vector<CompareRow> switching;
        for (const auto& row : rows) {
          if (!row.switches.empty()) switching.push_back(row);
        }
        std::string image;
        outputs.note_chart(
            write_timeline_chart(
                flags.out_dir, planned.scenario, switching,
                fmt::format("{} connections, open loop at {:.0f}/s, a switch every {} ms",
                            planned.scenario.connections.back(),
                            switching.empty() ? 0.0 : switching.front().offered_rate,
                            planned.scenario.switch_every.count()),
                image),
            image);
      } else if (wants_timeline(planned.scenario.name)) {
        const auto most = *std::max_element(planned.scenario.connections.begin(),
                                            planned.scenario.connections.end());
        std::vector<CompareRow> at_most;
        for (const auto& row : rows) {
          if (row.connections == most) at_most.push_back(row);
        }
        std::string image;
        outputs.note_chart(
            write_timeline_chart(flags.out_dir, planned.scenario, at_most,
                                 fmt::format("{} connections, closed loop", most), image),
            image);
      }
      all_rows.insert(all_rows.end(), rows.begin(), rows.end());
    }
    std::vector<Scenario> ran;
    for (const auto& planned : plan.scenarios) ran.push_back(planned.scenario);
    const auto charts = write_charts(flags.out_dir, ran, all_rows);
    for (const auto& image : charts.images) outputs.images.push_back(image);
    if (!charts.error.empty() && outputs.chart_error.empty()) outputs.chart_error = charts.error;
  }

  const std::string csv_path = (fs::path(flags.out_dir) / "compare.csv").string();
  const bool csv_ok = write_csv(csv_path, all_rows);
  const auto unclean = std::count_if(all_rows.begin(), all_rows.end(),
                                     [](const CompareRow& row) { return !row.clean(); });
  fmt::print("\n{} measurements, {} with errors, a failed start or an unclean exit{}\n",
             all_rows.size(), unclean, unclean > 0 ? " (marked ! above)" : "");
  fmt::print("CSV:    {}{}\n", csv_path, csv_ok ? "" : " (could not be written)");
  for (const auto& image : outputs.images) fmt::print("chart:  {}\n", image);
  if (!outputs.chart_error.empty()) fmt::print("charts: {}\n", outputs.chart_error);
  fmt::print("logs:   {}\n", settings.log_dir);
  // A measurement that did not run (the server did not start) or got no reply at all
  // failed: the run says which and exits 1, so a script or CI never takes an empty chart
  // for a result. Rows with some errors are results (marked !), not failures.
  std::size_t failed = 0;
  for (const auto& row : all_rows) {
    // A GET_LOCK that timed out is an answer: a deadlocked pool's row is a result.
    if (row.ran && row.requests + row.class2_requests + row.lock_timeouts > 0) continue;
    ++failed;
    fmt::print(stderr, "connsched_compare: FAILED {} with {} connections under {}: {}\n",
               row.scenario, row.connections, row.backend,
               row.note.empty() ? std::string("no request was answered") : row.note);
  }
  if (failed > 0) {
    fmt::print(stderr, "connsched_compare: {} of {} measurements failed (logs: {})\n", failed,
               all_rows.size(), settings.log_dir);
    return 1;
  }
  return csv_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  loadgen::raise_fd_limit();
  Flags flags;
  CLI::App app{
      "connsched_compare: every scenario under every backend, side by side (table, CSV, charts)"};
  app.add_flag("--full", flags.full, "the full version (long windows) instead of the quick one");
  app.add_option("--scenarios", flags.scenarios,
                 fmt::format("scenarios to run ({}; 'http' selects every http-* one); an unknown "
                             "name is refused; default: all",
                             joined(scenario_names())))
      ->delimiter(',');
  app.add_option("--backends", flags.backends,
                 "built-in backends to run, by name in the plugin folder (an unknown name is "
                 "refused; default: every one there)")
      ->delimiter(',');
  app.add_option("--backend", flags.extra_backends, "another backend .so, by path (repeatable)");
  app.add_option("--server-option", flags.server_options,
                 "NAME=VALUE, passed to each backend that declares --NAME (repeatable)");
  app.add_option("--connections", flags.connections,
                 "connection counts for every selected scenario (default: each scenario's own)")
      ->delimiter(',');
  app.add_option("--duration", flags.duration, "seconds measured per run (default: per version)");
  app.add_option("--warmup", flags.warmup, "seconds of warm-up per run (default: per version)");
  app.add_flag("--no-reference", flags.no_reference, "leave out redis-server and nginx");
  app.add_option("--out", flags.out_dir, "folder for the CSV, charts and server logs")
      ->capture_default_str();
  app.add_option("--bin-dir", flags.bin_dir, "folder of kv_server and http_server (default: ours)");
  app.add_option("--plugin-dir", flags.plugin_dir,
                 "folder of built-in backends (default: ../lib/connsched from --bin-dir)");
  app.add_option("--loadgen-threads", flags.loadgen_threads, "load generator threads")
      ->capture_default_str();
  app.add_flag("--no-pin", flags.no_pin,
               "let servers and the load generator share every CPU (default: with 2 or more "
               "CPUs, servers get the first half and the load generator the rest)");
  app.add_flag("--sweep", flags.sweep,
               "rate sweeps instead: per scenario (at its largest connection count, or each of "
               "--connections) every backend's closed-loop capacity, then every backend in an "
               "open loop (latency from the intended send time) at 10-120 % of the best; a "
               "table, CSV rows and compare-<scenario>-sweep.png (p99 against offered rate, "
               "achieved against offered)");
  app.add_option("--rate", flags.rate,
                 "an open loop at this many requests per second (first class) for every "
                 "measurement but churn's, latency from the intended send time; 0: closed loops")
      ->capture_default_str();
  auto* server = app.add_option(
      "--server", flags.custom.server_path,
      "your own connsched server binary: compared under each backend with the load of "
      "--protocol, --request, --mix, --connections (instead of the built-in scenarios)");
  app.add_option("--protocol", flags.custom.protocol, "--server: resp, http or line")
      ->check(CLI::IsMember({"resp", "http", "line"}))
      ->capture_default_str()
      ->needs(server);
  app.add_option("--request", flags.custom.request,
                 "--server: the request (a RESP command, an HTTP target, or a line), or a "
                 "sequence of them separated by ' | ' (see connsched_loadgen --help)")
      ->needs(server);
  app.add_option("--mix", flags.custom.mixes,
                 "--server: REQUEST:N, N of the connections send REQUEST instead")
      ->needs(server);
  app.add_option("--name", flags.custom.name,
                 "--server: the scenario's name in tables and file names (default: the binary's)")
      ->needs(server);
  app.add_option(
      "--scenario-file", flags.scenario_file,
      "a JSON file of loads for your own servers: {\"scenarios\": [{\"name\", "
      "\"server\", \"protocol\", \"request\", \"mix\", \"connections\", "
      "\"duration\", \"warmup\", \"idle\", \"summary\", \"backend_flags\", \"key_step\"}]} "
      "(docs/benchmarks.md); a request may be a sequence (connsched_loadgen --help)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes (105 for a bad value) are not this tool's: bad flags are 2.
    const int status = app.exit(e);
    return status == 0 ? 0 : kExitBadFlags;
  }
  if (!flags.custom.server_path.empty() && flags.custom.request.empty()) {
    fmt::print(stderr, "connsched_compare: --server needs --request\n");
    return kExitBadFlags;
  }
  try {
    return run(flags);
  } catch (const std::exception& e) {
    fmt::print(stderr, "connsched_compare: {}\n", e.what());
    return 1;
  }
}
