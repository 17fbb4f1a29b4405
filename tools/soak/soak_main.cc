// File: tools/soak/soak_main.cc
//
// connsched_soak: a long, paced, mixed load with connect churn on kv_server under each
// named backend, all side by side; samples each server's descriptors, threads, memory
// and CPU every few seconds and fails on growth that does not level off, on any
// unexpected error, or on descriptors that do not return to the baseline.
//   connsched_soak                 # 30 minutes, pool-of-threads and one-thread-per-connection
//   connsched_soak --short         # 2 minutes (CI)
//   connsched_soak --duration 600 --backends pool-of-threads --out /tmp/soak
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <memory>
#include <thread>

#include "backend_soak.h"
#include "fd_limit.h"
#include "soak_chart.h"
#include "soak_report.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Flags {
  bool short_run = false;
  double duration = 0;  ///< seconds; 0: 1800, or 120 with --short
  double period = 0;    ///< seconds; 0: 5, or 2 with --short
  std::vector<std::string> backends{"pool-of-threads", "one-thread-per-connection"};
  soak::SoakLoad load;
  double settle_timeout = 5;
  double warmup_fraction = 0.25;
  std::size_t windows = 4;
  double allow_fds = 64, allow_threads = 16, allow_rss_mb = 8;
  std::string out_dir = "connsched-soak";
  std::string bin_dir, plugin_dir;
};

std::chrono::milliseconds to_ms(double seconds) {
  // Flags are in seconds (fractions allowed), the code works in milliseconds.
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

compare_tool::BackendUnderTest backend_for(const std::string& name) {
  // A bare name is a built-in found in the plugin folder; a path is a custom .so.
  compare_tool::BackendUnderTest b;
  b.kind = compare_tool::BackendUnderTest::Kind::kConnsched;
  b.thread_handling = name;
  b.label = name.find('/') == std::string::npos ? name : fs::path(name).stem().string();
  b.options = {"--admin-port=0"};
  return b;
}

std::string progress_line(double t, const std::vector<std::unique_ptr<soak::BackendSoak>>& all) {
  // A 30-minute run says it is alive (and how it is doing) once a minute.
  std::string line = fmt::format("soak {:6.1f} min", t / 60);
  for (const auto& b : all) {
    if (b->series().samples.empty()) continue;
    const auto& s = b->series().samples.back();
    line +=
        fmt::format(" | {}: fds {} thr {} rss {:.1f} MB req {} err {}", b->series().label, s.fds,
                    s.threads, static_cast<double>(s.rss_kb) / 1024, s.requests, s.errors);
  }
  return line;
}

int run(const Flags& flags) {
  // Start every server, sample the baselines, load them all at once, sample until the
  // load ends, check the descriptors return, stop the servers, judge, report.
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const std::string bin_dir = flags.bin_dir.empty() ? self.parent_path().string() : flags.bin_dir;
  const double duration = flags.duration > 0 ? flags.duration : (flags.short_run ? 120 : 1800);
  const double period = flags.period > 0 ? flags.period : (flags.short_run ? 2 : 5);
  soak::SoakLoad load = flags.load;
  load.duration = to_ms(duration);
  fs::create_directories(fs::path(flags.out_dir) / "logs");
  // Not pinned: the backends run side by side and share the machine with their loads.
  const compare_tool::LaunchSettings launch{
      .bin_dir = bin_dir, .work_dir = flags.out_dir, .max_connections = 20000, .server_cpus = {}};

  fmt::print(
      "connsched_soak: {:.0f} s, sampling every {:.1f} s, backends side by side: {}\n"
      "  load per backend: {} kept-alive connections at {:.0f} req/s (GET/SET/INCR, BURN 300, "
      "SLEEP 5), churn {:.0f} conn/s, {} idle (turnover {}/s), MULTI/EXEC and a reset every "
      "{} ms\n",
      duration, period, fmt::join(flags.backends, ", "), load.connections, load.rate,
      load.churn_rate, load.chaos.idle, load.chaos.idle_turnover, load.chaos.tick.count());
  std::fflush(stdout);

  std::vector<std::unique_ptr<soak::BackendSoak>> soaks;
  for (const auto& name : flags.backends) {
    const auto backend = backend_for(name);
    const std::string log = fmt::format("{}/logs/{}.log", flags.out_dir, backend.label);
    soaks.push_back(std::make_unique<soak::BackendSoak>(backend, launch, log, load));
  }
  for (auto& s : soaks) s->take_sample(0);
  const auto start = Clock::now();
  for (auto& s : soaks) s->start_load();

  // Sample on a fixed grid until the load's duration is over.
  const auto print_every = std::max(period, duration >= 600 ? 60.0 : 10.0);
  double next_print = print_every;
  for (int k = 1;; ++k) {
    const auto due = start + to_ms(k * period);
    if (due > start + load.duration) break;
    std::this_thread::sleep_until(due);
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& s : soaks) s->take_sample(t);
    if (t + 1e-6 >= next_print) {
      fmt::print(stderr, "{}\n", progress_line(t, soaks));
      next_print += print_every;
    }
  }
  for (auto& s : soaks) s->finish_load();
  for (auto& s : soaks) s->wait_fds_settle(to_ms(flags.settle_timeout));
  const double t_after = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& s : soaks) s->take_sample(t_after);  // the curves' last point: back to idle
  for (auto& s : soaks) s->shutdown();

  // The verdict.
  soak::SoakRules rules;
  for (auto* rule : {&rules.fds, &rules.threads, &rules.rss_mb}) {
    rule->warmup_fraction = flags.warmup_fraction;
    rule->windows = flags.windows;
  }
  rules.fds.allow_abs = flags.allow_fds;
  rules.threads.allow_abs = flags.allow_threads;
  rules.rss_mb.allow_abs = flags.allow_rss_mb;
  bool pass = true;
  std::vector<soak::BackendSeries> all;
  for (auto& s : soaks) {
    const auto& series = s->series();
    fmt::print("\n{}", soak::format_backend_table(series));
    fmt::print("  requests {} (churn connections {}), errors {}, deliberate resets {}\n",
               s->requests(), s->churn_connections(), s->errors(), s->resets());
    for (const auto& m : soak::judge_backend(series, rules)) {
      fmt::print("  {:<4} {:<28} {}\n", m.verdict.pass ? "ok" : "FAIL", m.metric, m.verdict.reason);
      pass = pass && m.verdict.pass;
    }
    const bool fds_ok = series.fds_returned;
    fmt::print("  {:<4} {:<28} {} after the load, baseline {} ({:.1f} s)\n", fds_ok ? "ok" : "FAIL",
               "fds back to baseline", series.final_fds, series.baseline_fds,
               series.settle_seconds);
    const bool clean = s->errors() == 0 && series.first_error.empty();
    fmt::print("  {:<4} {:<28} {}{}\n", clean ? "ok" : "FAIL", "errors", s->errors(),
               series.first_error.empty() ? "" : fmt::format(" (first: {})", series.first_error));
    fmt::print("  {:<4} {:<28} {}\n", series.exit_status == 0 ? "ok" : "FAIL",
               "exit status after SIGTERM", series.exit_status);
    pass = pass && fds_ok && clean && series.exit_status == 0;
    all.push_back(series);
  }

  const std::string csv = (fs::path(flags.out_dir) / "soak.csv").string();
  const bool csv_ok = soak::write_samples_csv(csv, all);
  const auto charts = soak::write_soak_charts(flags.out_dir, all);
  fmt::print("\nCSV:    {}{}\n", csv, csv_ok ? "" : " (could not be written)");
  for (const auto& image : charts.images) fmt::print("chart:  {}\n", image);
  if (!charts.error.empty()) fmt::print("charts: {}\n", charts.error);
  fmt::print("logs:   {}/logs\n", flags.out_dir);
  fmt::print("soak verdict: {}\n", pass && csv_ok ? "PASS" : "FAIL");
  return pass && csv_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Each side of ~200 connections per backend needs descriptors: raise the limit first.
  loadgen::raise_fd_limit();
  Flags flags;
  CLI::App app{
      "connsched_soak: a long mixed load on kv_server under each backend, side by side; "
      "fails on growth of descriptors, threads or memory that does not level off"};
  app.add_flag("--short", flags.short_run, "the short version: 2 minutes, a sample every 2 s");
  app.add_option("--duration", flags.duration, "seconds of load (default 1800; --short: 120)");
  app.add_option("--period", flags.period, "seconds between samples (default 5; --short: 2)");
  app.add_option("--backends", flags.backends, "backends to soak side by side (names or .so paths)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--connections", flags.load.connections, "kept-alive connections per backend")
      ->capture_default_str();
  app.add_option("--rate", flags.load.rate, "their requests per second, per backend")
      ->capture_default_str();
  app.add_option("--churn-connections", flags.load.churn_connections,
                 "concurrent churning clients per backend")
      ->capture_default_str();
  app.add_option("--churn-rate", flags.load.churn_rate, "new connections per second, per backend")
      ->capture_default_str();
  app.add_option("--idle", flags.load.chaos.idle, "idle connections held per backend")
      ->capture_default_str();
  app.add_option("--idle-turnover", flags.load.chaos.idle_turnover,
                 "idle connections replaced per second")
      ->capture_default_str();
  app.add_option("--settle-timeout", flags.settle_timeout,
                 "seconds the descriptors may take to return to the baseline after the load")
      ->capture_default_str();
  app.add_option("--warmup-fraction", flags.warmup_fraction,
                 "share of the run left out of the growth verdict")
      ->capture_default_str();
  app.add_option("--windows", flags.windows, "windows the rest is split into")
      ->capture_default_str();
  app.add_option("--allow-fds", flags.allow_fds,
                 "growth of fds over client connections always allowed")
      ->capture_default_str();
  app.add_option("--allow-threads", flags.allow_threads, "thread growth always allowed (+10 %)")
      ->capture_default_str();
  app.add_option("--allow-rss-mb", flags.allow_rss_mb, "RSS growth always allowed, MB (+10 %)")
      ->capture_default_str();
  app.add_option("--out", flags.out_dir, "folder for the CSV, charts and server logs")
      ->capture_default_str();
  app.add_option("--bin-dir", flags.bin_dir, "folder of kv_server (default: ours)");
  CLI11_PARSE(app, argc, argv);
  if (flags.windows < 2 || flags.warmup_fraction < 0 || flags.warmup_fraction >= 1) {
    fmt::print(stderr,
               "connsched_soak: --windows must be at least 2, --warmup-fraction in [0,1)\n");
    return 2;
  }
  try {
    return run(flags);
  } catch (const std::exception& e) {
    fmt::print(stderr, "connsched_soak: {}\n", e.what());
    return 1;
  }
}
