// File: test/tools/compare/compare_parts_test.cc
//
// The comparison tool's pure parts: reading a server's port and its backend's options
// from its output, selecting scenarios, planning rows (variants and references), the
// CSV and the table, and /proc sampling of a live process (context switches included).
#include <doctest/doctest.h>
#include <unistd.h>

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <semaphore>
#include <sstream>
#include <string>
#include <thread>

#include "admin_probe.h"
#include "backend_catalog.h"
#include "child_process.h"
#include "compare_plan.h"
#include "cpu_split.h"
#include "proc_sampler.h"
#include "report_csv.h"
#include "report_table.h"
#include "scenarios.h"
#include "server_launcher.h"
#include "switch_driver.h"

using namespace compare_tool;

namespace {
// A log file for a child process, removed afterwards.
struct TempDirForTree {
  std::string log = fmt::format("/tmp/compare_parts_tree_{}.log", ::getpid());
  ~TempDirForTree() { std::remove(log.c_str()); }
};

// A whole /proc file, for what the test compares the sampler with.
std::string proc_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A thread that sleeps `sleeps` times for 1 ms (each a voluntary switch), then stays
// alive, blocked, until finish(): its switches are there to be read while it lives.
class SleepyThread {
 public:
  explicit SleepyThread(int sleeps)
      : thread_([this, sleeps] {
          for (int i = 0; i < sleeps; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          slept_.release();
          finish_.acquire();
        }) {}
  ~SleepyThread() { finish(); }
  void wait_slept() { slept_.acquire(); }
  void finish() {
    if (!thread_.joinable()) return;
    finish_.release();
    thread_.join();
  }

 private:
  std::binary_semaphore slept_{0}, finish_{0};
  std::thread thread_;  // last: it uses the semaphores
};
}  // namespace

TEST_CASE("the port is read from the 'listening on' line, never from the admin port's") {
  CHECK(parse_listening_port("2026-11-24 07:36:40.621 kv_server [info] listening on "
                             "127.0.0.1:45355 with thread handling 'x'\n") == 45355);
  CHECK(parse_listening_port("x [info] admin port listening on 127.0.0.1:9000\n"
                             "x [info] listening on 127.0.0.1:7001 with thread handling\n") ==
        7001);
  CHECK(parse_listening_port("x [info] admin port listening on 127.0.0.1:9000\n") == std::nullopt);
  CHECK(parse_listening_port("x [info] listening on [::1]:8080 with\n") == 8080);
  CHECK(parse_listening_port("x [info] listening on 127.0.0.1:80") == std::nullopt);  // cut short
  CHECK(parse_listening_port("") == std::nullopt);
}

TEST_CASE("the admin port is read from its own line") {
  CHECK(parse_admin_port("x [info] admin port listening on 127.0.0.1:9000\n"
                         "x [info] listening on 127.0.0.1:7001 with thread handling\n") == 9000);
  CHECK(parse_admin_port("x [info] listening on 127.0.0.1:7001 with thread handling\n") ==
        std::nullopt);
  CHECK(parse_admin_port("x [info] admin port listening on 127.0.0.1:90") == std::nullopt);
  CHECK(parse_admin_port("x [info] admin port listening on 127.0.0.1:999999\n") == std::nullopt);
}

TEST_CASE("a core counter is read from /stats JSON by its whole quoted name") {
  const std::string json =
      "{\n  \"backend\": \"pool-of-threads\",\n  \"core\": {\n    \"connections_current\": 3,\n"
      "    \"connections_peak\": 2000,\n    \"requests\":17\n  }\n}\n";
  CHECK(json_counter(json, "connections_peak") == 2000);
  CHECK(json_counter(json, "connections_current") == 3);
  CHECK(json_counter(json, "requests") == 17);
  CHECK(json_counter(json, "connections") == std::nullopt);  // a prefix of a name is no name
  CHECK(json_counter(json, "backend") == std::nullopt);      // not a number
  CHECK(json_counter("", "requests") == std::nullopt);
}

TEST_CASE("a backend's options are read from the server's --list-options=json, not its --help") {
  const std::string listing =
      "{\"server\": \"kv_server\",\n\"backend\": {\"name\": \"pool-of-threads\"},\n"
      "\"options\": [\n"
      "{\"name\": \"port\", \"scope\": \"core\", \"type\": \"int\"},\n"
      "{\"name\": \"shards\", \"scope\": \"server\", \"type\": \"int\"},\n"
      "{\"name\": \"thread-pool-size\", \"scope\": \"backend\", \"type\": \"int\"},\n"
      "{\"name\": \"thread-pool-stall-limit\", \"scope\": \"backend\", \"type\": \"int\"}\n"
      "]}\n";
  CHECK(parse_backend_options(listing) ==
        std::set<std::string>{"thread-pool-size", "thread-pool-stall-limit"});
  CHECK(parse_backend_options("  --thread-pool-size INT\n").empty());  // --help prose is no listing
}

TEST_CASE("a real server's listing names its backend's options, and only those") {
  const std::string listing =
      run_and_capture(std::string(CONNSCHED_TEST_BIN_DIR) + "/kv_server",
                      {"--thread-handling=one-thread-per-connection", "--list-options=json"},
                      std::chrono::seconds(10));
  CHECK(parse_backend_options(listing) ==
        std::set<std::string>{"thread-cache-size", "thread-cache-timeout"});
  CHECK(listing.find("\"name\": \"port\", \"scope\": \"core\"") != std::string::npos);
  CHECK(listing.find("\"name\": \"shards\", \"scope\": \"server\"") != std::string::npos);
}

TEST_CASE("a scenario is selected by its name or by the prefix before a dash") {
  CHECK(selects("ping", "ping"));
  CHECK(selects("http", "http-ping"));
  CHECK(selects("http", "http-cpu"));
  CHECK_FALSE(selects("http", "ping"));
  CHECK_FALSE(selects("pin", "ping"));
  CHECK_FALSE(selects("http-ping", "http"));
}

TEST_CASE(
    "the locks scenario runs pool-of-threads at thread_pool_max_threads=8 with and without the "
    "reserve; the command line's max_threads wins") {
  const auto scenarios = make_scenarios(false, 2);
  const auto locks = std::find_if(scenarios.begin(), scenarios.end(),
                                  [](const Scenario& s) { return s.name == "locks"; });
  REQUIRE(locks != scenarios.end());
  CHECK(has_lock_wait(*locks));
  CHECK(is_sequence(*locks));
  CHECK(locks->key_step == "release_lock");
  CHECK_FALSE(has_lock_wait(scenarios.front()));  // ping
  // The GET_LOCK timeout (2 s) must fall inside the window for a deadlock's timeouts to
  // show.
  CHECK(locks->warmup + locks->duration > std::chrono::milliseconds(2500));
  OptionDeclarations declarations;
  const PlanOptions options{.bin_dir = CONNSCHED_TEST_BIN_DIR,
                            .builtins = {"one-thread-per-connection", "pool-of-threads"},
                            .plugin_dir = {},
                            .extra_backends = {},
                            .server_options = {},
                            .references = false};
  const auto plan = make_plan({*locks}, options, declarations);
  REQUIRE(plan.scenarios.size() == 1);
  const auto& rows = plan.scenarios[0].backends;
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].label == "one-thread-per-connection");
  CHECK(rows[0].options.empty());  // it declares no max_threads
  CHECK(rows[1].label == "pool-of-threads");
  CHECK(rows[1].options == std::vector<std::string>{"--thread-pool-max-threads=8"});
  CHECK(rows[2].label == "pool-of-threads (reserve 0)");
  CHECK(rows[2].options == std::vector<std::string>{"--thread-pool-max-threads=8",
                                                    "--thread-pool-max-threads-reserve=0"});
  auto mine = options;
  mine.server_options = {"thread-pool-max-threads=4"};
  const auto overridden = make_plan({*locks}, mine, declarations);
  CHECK(overridden.scenarios[0].backends[1].options ==
        std::vector<std::string>{"--thread-pool-max-threads=4"});
}

TEST_CASE("a sequence row's CSV carries its steps, its key step's p99 and its lock-wait timeouts") {
  CompareRow row;
  row.scenario = "locks";
  row.backend = "pool-of-threads";
  row.key_step = "release_lock";
  row.lock_timeouts = 7;
  row.steps = {{.name = "get_lock", .replies = 10, .lock_timeouts = 7, .latency = {}},
               {.name = "release_lock", .replies = 3, .lock_timeouts = 0, .latency = {}}};
  row.steps[1].latency.p99_us = 1500;
  const auto split = [](const std::string& line) {
    std::vector<std::string> out(1);
    for (char c : line) {
      if (c == ',') {
        out.emplace_back();
      } else {
        out.back() += c;
      }
    }
    return out;
  };
  const auto header = split(csv_header());
  const auto fields = split(csv_line(row));
  REQUIRE(fields.size() == header.size());
  const auto at = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return fields[static_cast<std::size_t>(it - header.begin())];
  };
  CHECK(at("lock_timeouts") == "7");
  CHECK(at("steps") == "get_lock;release_lock");
  CHECK(at("step_replies") == "10;3");
  CHECK(at("step_p99_ms") == "0.000;1.500");
  CHECK(at("key_step") == "release_lock");
  CHECK(at("key_step_p99_ms") == "1.500");
  CHECK(at("holder_p99_ms") == "0.000");
  CHECK(header.back() == "note");
}

TEST_CASE("a CSV row has one field per header column, with text fields quoted when needed") {
  CompareRow row;
  row.scenario = "ping";
  row.backend = "one-thread-per-connection (cache 0)";
  row.note = "error reply: '-ERR a, \"b\"'";
  const auto count = [](const std::string& line) {
    std::size_t fields = 1;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) ++fields;
    }
    return fields;
  };
  CHECK(count(csv_line(row)) == count(csv_header()));
  CHECK(csv_line(row).ends_with("\"error reply: '-ERR a, \"\"b\"\"'\""));
}

TEST_CASE("/proc gives this process's memory, threads and CPU time") {
  const auto sample = read_proc_sample(::getpid());
  REQUIRE(sample.has_value());
  CHECK(sample->rss_kb > 0);
  CHECK(sample->threads >= 1);
  CHECK(sample->cpu_seconds >= 0);
  CHECK_FALSE(read_proc_sample(0x7ffffff0).has_value());
}

TEST_CASE(
    "a server's whole process tree is measured: children and grandchildren, their CPU "
    "summed") {
  // sh -> sh -> a busy loop (a background subshell, so a grandchild): the root does
  // nothing, its grandchild all the work, as a forking backend's master and workers (or
  // nginx's) do.
  TempDirForTree dir;
  ChildProcess root("sh",
                    {"-c",
                     "sh -c 'i=0; while [ $i -lt 3000000 ]; do i=$((i+1)); done & wait' "
                     "& sleep 20 & wait"},
                    dir.log);
  std::optional<TreeSample> tree;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    tree = read_tree_sample(root.pid());
    if (tree && tree->processes >= 4 && tree->cpu_seconds >= 0.3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(tree.has_value());
  CHECK(process_tree(root.pid()).front() == root.pid());
  CHECK(tree->processes >= 4);  // sh, the inner sh, its looping subshell, sleep
  CHECK(tree->threads >= tree->processes);
  CHECK(tree->fds >= 3 * tree->processes);
  CHECK(tree->rss_kb > read_proc_sample(root.pid())->rss_kb);
  CHECK(tree->cpu_seconds >= 0.3);
  CHECK(read_proc_sample(root.pid())->cpu_seconds < 0.1);  // the root alone shows nothing
  {
    PeakSampler sampler(root.pid(), std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(sampler.peak_processes() >= 4);
    CHECK(sampler.peak_fds() >= 12);
  }
  for (const pid_t member : process_tree(root.pid())) {  // the test's own processes, by id
    if (member != root.pid()) ::kill(member, SIGKILL);
  }
  root.signal(SIGKILL);
  CHECK_FALSE(read_tree_sample(0x7ffffff0).has_value());
}

TEST_CASE("context switches are read from a status text's voluntary and nonvoluntary lines") {
  // As a 6.x kernel writes /proc/PID/status (abridged in the middle).
  const std::string status =
      "Name:\tkv_server\n"
      "Umask:\t0022\n"
      "State:\tS (sleeping)\n"
      "Tgid:\t4242\n"
      "Ngid:\t0\n"
      "Pid:\t4242\n"
      "PPid:\t4200\n"
      "Threads:\t17\n"
      "VmHWM:\t   10240 kB\n"
      "VmRSS:\t    9876 kB\n"
      "Cpus_allowed_list:\t0\n"
      "Mems_allowed_list:\t0\n"
      "voluntary_ctxt_switches:\t12345\n"
      "nonvoluntary_ctxt_switches:\t678\n";
  const auto counts = parse_context_switches(status);
  REQUIRE(counts.has_value());
  CHECK(counts->voluntary == 12345);
  CHECK(counts->involuntary == 678);
  // The nonvoluntary line is never taken for the voluntary one, whichever comes first.
  const auto swapped =
      parse_context_switches("nonvoluntary_ctxt_switches:\t3\nvoluntary_ctxt_switches:\t5\n");
  REQUIRE(swapped.has_value());
  CHECK(swapped->voluntary == 5);
  CHECK(swapped->involuntary == 3);
  // Both counters or nothing: a file cut short, or a process gone (empty), gives none.
  CHECK_FALSE(parse_context_switches("voluntary_ctxt_switches:\t5\n").has_value());
  CHECK_FALSE(parse_context_switches("nonvoluntary_ctxt_switches:\t3\n").has_value());
  CHECK_FALSE(parse_context_switches("voluntary_ctxt_switches:\t\nnonvoluntary_ctxt_switches:\t3")
                  .has_value());
  CHECK_FALSE(parse_context_switches("").has_value());
}

TEST_CASE(
    "a tree's context switches are summed over every thread: a thread that sleeps raises the "
    "voluntary count, though /proc/PID/status shows the main thread's alone") {
  const auto before = read_tree_context_switches(::getpid());
  const auto main_before = parse_context_switches(proc_text("/proc/self/status"));
  REQUIRE(before.has_value());
  REQUIRE(main_before.has_value());
  SleepyThread sleeper(100);
  sleeper.wait_slept();
  const auto with_thread = read_tree_context_switches(::getpid());
  const auto main_after = parse_context_switches(proc_text("/proc/self/status"));
  REQUIRE(with_thread.has_value());
  REQUIRE(main_after.has_value());
  CHECK(context_switches_between(*before, *with_thread).voluntary >= 100);
  // The main thread blocked once or so, waiting for the sleeper: none of its 100 show.
  CHECK(context_switches_between(*main_before, *main_after).voluntary < 50);
  CHECK_FALSE(read_tree_context_switches(0x7ffffff0).has_value());
}

TEST_CASE("a thread that exits takes its context switches with it: the difference is then 0") {
  // The documented limitation: only live threads are read, so a window in which one
  // exited undercounts (and is clamped at 0, never negative).
  SleepyThread sleeper(100);
  sleeper.wait_slept();
  const auto with_thread = read_tree_context_switches(::getpid());
  sleeper.finish();
  const auto after_exit = read_tree_context_switches(::getpid());
  REQUIRE(with_thread.has_value());
  REQUIRE(after_exit.has_value());
  CHECK(after_exit->voluntary + 50 < with_thread->voluntary);
  CHECK(context_switches_between(*with_thread, *after_exit).voluntary == 0);
  const auto moved = context_switches_between({.voluntary = 10, .involuntary = 5},
                                              {.voluntary = 4, .involuntary = 9});
  CHECK(moved.voluntary == 0);
  CHECK(moved.involuntary == 4);
}

TEST_CASE("a descendant's context switches count in its ancestor's tree") {
  // sh -> a subshell that sleeps 10 ms at a time (each wait for `sleep` a voluntary
  // switch): the root only waits, as a forking backend's master does.
  TempDirForTree dir;
  ChildProcess root("sh", {"-c", "sh -c 'while :; do sleep 0.01; done' & wait"}, dir.log);
  std::optional<ContextSwitches> tree, own;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    own = parse_context_switches(proc_text(fmt::format("/proc/{}/status", root.pid())));
    tree = read_tree_context_switches(root.pid());
    if (own && tree && tree->voluntary >= own->voluntary + 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(tree.has_value());
  REQUIRE(own.has_value());
  CHECK(tree->voluntary >= own->voluntary + 20);
  for (const pid_t member : process_tree(root.pid())) {  // the test's own processes, by id
    if (member != root.pid()) ::kill(member, SIGKILL);
  }
  root.signal(SIGKILL);
}

TEST_CASE(
    "a row's context switches reach the CSV, as totals and per completed request, just before "
    "the note, and the table as voluntary/involuntary per op") {
  CompareRow row;
  row.scenario = "ping";
  row.backend = "pool-of-threads";
  row.ran = true;
  row.exit_status = 0;
  row.seconds = 2;
  row.throughput = 1000;  // 2,000 requests in the window
  row.voluntary_switches = 60;
  row.involuntary_switches = 20;
  CHECK(row.voluntary_cs_per_op() == doctest::Approx(0.03));
  CHECK(row.involuntary_cs_per_op() == doctest::Approx(0.01));
  const auto header = csv_header();
  CHECK(
      header.ends_with(",voluntary_switches,involuntary_switches,vol_cs_per_op,invol_cs_per_op,"
                       "note"));
  CHECK(csv_line(row).ends_with(",60,20,0.030,0.010,"));  // the note is empty
  const auto scenarios = make_scenarios(false, 2);
  const auto table = format_table(scenarios.front(), {row});
  CAPTURE(table);
  CHECK(table.find("cs/op v/i") != std::string::npos);
  CHECK(table.find(" 0.03/0.01 ") != std::string::npos);
}

TEST_CASE("the CPUs are split between servers (first half) and the load generator (the rest)") {
  CHECK_FALSE(split_cpus({}).has_value());
  CHECK_FALSE(split_cpus({3}).has_value());  // one CPU: nothing to split
  const auto two = split_cpus({0, 1});
  REQUIRE(two.has_value());
  CHECK(two->server == std::vector<int>{0});
  CHECK(two->client == std::vector<int>{1});
  const auto odd = split_cpus({0, 2, 4, 6, 8});  // the client keeps the extra one
  REQUIRE(odd.has_value());
  CHECK(odd->server == std::vector<int>{0, 2});
  CHECK(odd->client == std::vector<int>{4, 6, 8});
  CHECK(cpu_list({0}) == "0");
  CHECK(cpu_list({0, 1, 2, 3}) == "0-3");
  CHECK(cpu_list({0, 2, 3, 4, 7}) == "0,2-4,7");
  CHECK_FALSE(usable_cpus().empty());
}

TEST_CASE("switches come every period from half a period in, with half a period left after") {
  using std::chrono::milliseconds;
  CHECK(switch_times(milliseconds(4000), milliseconds(1000)) ==
        std::vector<double>{0.5, 1.5, 2.5, 3.5});
  CHECK(switch_times(milliseconds(100500), milliseconds(1000)).size() == 100);
  CHECK(switch_times(milliseconds(400), milliseconds(1000)).empty());
}

TEST_CASE("the p99 inside switch windows is over the intervals a switch overlapped, only") {
  // Four 100 ms intervals; a switch at 0.15 s lasting 80 ms overlaps the second and the
  // third: their 50 ms replies are inside, the first and last intervals' 1 ms steady.
  std::vector<connsched::LogHistogram> intervals(4);
  for (int i = 0; i < 100; ++i) {
    intervals[0].record(1'000'000);
    intervals[1].record(50'000'000);
    intervals[2].record(50'000'000);
    intervals[3].record(1'000'000);
  }
  SwitchEvent s;
  s.at_s = 0.15;
  s.took_ms = 80;
  const auto p99 = switch_window_p99(intervals, std::chrono::milliseconds(100), {s});
  CHECK(p99.steady_ns == doctest::Approx(1e6).epsilon(0.05));
  CHECK(p99.inside_ns == doctest::Approx(50e6).epsilon(0.05));
  // With 200 ms after the switch, the last interval (0.3 s, 70 ms after its end) is near
  // it too: 3 of 4 intervals, their p99 the 50 ms ones'.
  CHECK(p99.around_ns == doctest::Approx(50e6).epsilon(0.05));
  const auto tight = switch_window_p99(intervals, std::chrono::milliseconds(100), {s},
                                       std::chrono::milliseconds(0));
  CHECK(tight.around_ns == doctest::Approx(tight.inside_ns));
  // No switch: every interval is steady, and nothing is inside.
  const auto none = switch_window_p99(intervals, std::chrono::milliseconds(100), {});
  CHECK(none.inside_ns == 0);
  CHECK(none.steady_ns == doctest::Approx(50e6).epsilon(0.05));
}

TEST_CASE("the switch scenario switches between the two thread backends, a row for each") {
  // Its closed loops set the rate: the plan has both backends' rows, then the switching
  // one, which starts under the first and carries the admin port.
  auto scenarios = make_scenarios(false, 2);
  const auto it = std::find_if(scenarios.begin(), scenarios.end(),
                               [](const Scenario& s) { return s.name == "switch"; });
  REQUIRE(it != scenarios.end());
  CHECK(it->switch_between ==
        std::vector<std::string>{"one-thread-per-connection", "pool-of-threads"});
  CHECK(it->check_counters);
  CHECK(it->connections == std::vector<std::uint32_t>{500});
  OptionDeclarations declarations;
  const auto plan = make_plan({*it},
                              {.bin_dir = CONNSCHED_TEST_BIN_DIR,
                               .builtins = {"one-thread-per-connection", "pool-of-threads"},
                               .plugin_dir = {},
                               .extra_backends = {},
                               .server_options = {},
                               .references = false},
                              declarations);
  REQUIRE(plan.scenarios.size() == 1);
  const auto& rows = plan.scenarios[0].backends;
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].switch_between.empty());
  CHECK(rows[1].switch_between.empty());
  CHECK(rows[2].label == "one-thread-per-connection <-> pool-of-threads");
  CHECK(rows[2].thread_handling == "one-thread-per-connection");
  CHECK(rows[2].switch_between == it->switch_between);
  CHECK(std::find(rows[2].options.begin(), rows[2].options.end(), "--admin-port=0") !=
        rows[2].options.end());
  // Without one of its backends it is skipped, with a note, not run half.
  const auto without = make_plan({*it},
                                 {.bin_dir = CONNSCHED_TEST_BIN_DIR,
                                  .builtins = {"pool-of-threads"},
                                  .plugin_dir = {},
                                  .extra_backends = {},
                                  .server_options = {},
                                  .references = false},
                                 declarations);
  CHECK(without.scenarios.empty());
  REQUIRE(without.notes.size() == 1);
  CHECK(without.notes[0].find("one-thread-per-connection") != std::string::npos);
}
