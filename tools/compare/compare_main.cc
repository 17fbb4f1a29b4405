// File: tools/compare/compare_main.cc
//
// connsched_compare: runs every scenario against every backend (and redis-server or
// nginx as references when installed), then prints a table per scenario and writes a
// CSV and one chart per scenario.
//   connsched_compare                      # the quick version (about 3 minutes)
//   connsched_compare --full               # the full version (docs/benchmarks.md)
//   connsched_compare --scenarios ping,churn --backend build/release/plugins/shared-queue.so
#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <thread>

#include "compare_plan.h"
#include "compare_runner.h"
#include "cpu_split.h"
#include "fd_limit.h"
#include "progress_line.h"
#include "report_chart.h"
#include "report_csv.h"
#include "report_table.h"

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
  const auto scenarios = chosen_scenarios(flags);
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

  fmt::print("connsched_compare: {} version, {} measurements, {} CPUs, backends from {}\n",
             flags.full ? "full" : "quick", plan.measurements(),
             std::thread::hardware_concurrency(), plugin_dir);
  if (cpus) {
    fmt::print("  servers run on CPU {}, the load generator on CPU {} (--no-pin to share)\n",
               cpu_list(cpus->server), cpu_list(cpus->client));
  } else {
    fmt::print("  servers and the load generator share the CPUs (not pinned)\n");
  }
  for (const auto& note : plan.notes) fmt::print("  note: {}\n", note);
  std::fflush(stdout);

  ProgressLine progress(stderr);
  std::vector<CompareRow> all_rows;
  std::size_t done = 0;
  for (const auto& planned : plan.scenarios) {
    std::vector<CompareRow> rows;
    for (const auto connections : planned.scenario.connections) {
      for (const auto& backend : planned.backends) {
        progress.show(done++, plan.measurements(),
                      describe(planned.scenario, connections, backend));
        rows.push_back(run_measurement(planned.scenario, connections, backend, settings));
      }
    }
    progress.clear();
    fmt::print("{}", format_table(planned.scenario, rows));
    std::fflush(stdout);
    all_rows.insert(all_rows.end(), rows.begin(), rows.end());
  }

  const std::string csv_path = (fs::path(flags.out_dir) / "compare.csv").string();
  const bool csv_ok = write_csv(csv_path, all_rows);
  std::vector<Scenario> ran;
  for (const auto& planned : plan.scenarios) ran.push_back(planned.scenario);
  const auto charts = write_charts(flags.out_dir, ran, all_rows);
  const auto unclean = std::count_if(all_rows.begin(), all_rows.end(),
                                     [](const CompareRow& row) { return !row.clean(); });
  fmt::print("\n{} measurements, {} with errors, a failed start or an unclean exit{}\n",
             all_rows.size(), unclean, unclean > 0 ? " (marked ! above)" : "");
  fmt::print("CSV:    {}{}\n", csv_path, csv_ok ? "" : " (could not be written)");
  for (const auto& image : charts.images) fmt::print("chart:  {}\n", image);
  if (!charts.error.empty()) fmt::print("charts: {}\n", charts.error);
  fmt::print("logs:   {}\n", settings.log_dir);
  // A measurement that did not run (the server did not start) or got no reply at all
  // failed: the run says which and exits 1, so a script or CI never takes an empty chart
  // for a result. Rows with some errors are results (marked !), not failures.
  std::size_t failed = 0;
  for (const auto& row : all_rows) {
    if (row.ran && row.requests + row.class2_requests > 0) continue;
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes (105 for a bad value) are not this tool's: bad flags are 2.
    const int status = app.exit(e);
    return status == 0 ? 0 : kExitBadFlags;
  }
  try {
    return run(flags);
  } catch (const std::exception& e) {
    fmt::print(stderr, "connsched_compare: {}\n", e.what());
    return 1;
  }
}
