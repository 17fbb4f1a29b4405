// File: test/tools/compare/compare_tool_test.cc
//
// The load generator and the comparison tool as an operator runs them: against real
// servers, every request answered, and the tool's table, CSV and charts produced.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <signal.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "running_server.h"
#include "server_process.h"
#include "temp_dir.h"
#include "text_file.h"

using namespace connsched::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

}  // namespace

TEST_CASE("connsched_loadgen answers every request of an echo server and reports JSON") {
  ServerProcess server(bin_dir() + "/echo_server",
                       {"--port=0", "--thread-handling=one-thread-per-connection"});
  auto port = server.wait_listening();
  REQUIRE(port.has_value());
  auto run = ServerProcess::run(
      bin_dir() + "/connsched_loadgen",
      {"--port=" + std::to_string(*port), "--protocol=line", "--request=hello", "-c", "8",
       "--pipeline=4", "--requests=2000", "--warmup=0.1", "--idle=5", "--json"},
      120s);
  const int status = run.first;
  const std::string& output = run.second;
  CAPTURE(output);
  CHECK(status == 0);
  CHECK(output.find("\"errors\":0,") != std::string::npos);
  CHECK(output.find("\"idle_open_at_end\":5,") != std::string::npos);
  CHECK(output.find("\"requests\":0,") == std::string::npos);
  server.signal(SIGTERM);
  CHECK(server.wait_exit(20s) == 0);
}

TEST_CASE("connsched_compare prints a table per scenario, and writes a CSV and a chart each") {
  TempDir out("connsched_compare_test");
  auto run =
      ServerProcess::run(bin_dir() + "/connsched_compare",
                         {"--scenarios=ping,churn", "--connections=4,8", "--duration=0.5",
                          "--warmup=0.1", "--backends=one-thread-per-connection,pool-of-threads",
                          "--no-reference", "--out=" + out.path.string()},
                         600s);
  const int status = run.first;
  const std::string& output = run.second;
  CAPTURE(output);
  REQUIRE(status == 0);
  CHECK(output.find("== ping") != std::string::npos);
  CHECK(output.find("== churn") != std::string::npos);
  CHECK(output.find("0 with errors") != std::string::npos);

  const auto lines = split(read_file(out.path / "compare.csv"), '\n');
  REQUIRE(!lines.empty());
  const auto header = split(lines[0], ',');
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  // ping: 2 counts x 2 backends, plus pool-of-threads with its listener's fast path off;
  // churn adds one-thread-per-connection's cache-0 variant.
  CHECK(lines.size() == 1 + 6 + 6);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = split(lines[i], ',');
    CAPTURE(lines[i]);
    REQUIRE(fields.size() >= header.size() - 1);
    CHECK(fields[column("ran")] == "1");
    CHECK(fields[column("errors")] == "0");
    CHECK(fields[column("unanswered")] == "0");
    CHECK(fields[column("exit_status")] == "0");
    CHECK(std::stod(fields[column("throughput")]) > 0);
    CHECK(std::stoull(fields[column("requests")]) > 0);
    CHECK(std::stod(fields[column("rss_peak_mb")]) > 0);
    CHECK(std::stoull(fields[column("threads_peak")]) > 0);
    // Serving a request blocks some thread of the server (a read with nothing to read,
    // a wait for work), whatever the backend: its tree's voluntary switches show it.
    CHECK(std::stoull(fields[column("voluntary_switches")]) > 0);
    CHECK(std::stod(fields[column("vol_cs_per_op")]) > 0);
    const auto& involuntary = fields[column("involuntary_switches")];
    CHECK(
        (!involuntary.empty() && involuntary.find_first_not_of("0123456789") == std::string::npos));
    CHECK(std::stod(fields[column("invol_cs_per_op")]) >= 0);
  }
  // The context-switch columns come just before the note, which stays last.
  REQUIRE(header.size() >= 5);
  CHECK(std::vector<std::string>(header.end() - 5, header.end()) ==
        std::vector<std::string>{"voluntary_switches", "involuntary_switches", "vol_cs_per_op",
                                 "invol_cs_per_op", "note"});
  CHECK(output.find("cs/op v/i") != std::string::npos);
  CHECK(read_file(out.path / "compare.csv").find("one-thread-per-connection (cache 0)") !=
        std::string::npos);
  CHECK(read_file(out.path / "compare.csv").find("pool-of-threads (listener runs off)") !=
        std::string::npos);
  for (const char* chart : {"compare-ping.png", "compare-churn.png"}) {
    CAPTURE(chart);
    const auto png = read_file(out.path / chart);
    REQUIRE(png.size() > 1000);
    CHECK(png.substr(1, 3) == "PNG");
  }
}

TEST_CASE(
    "the proxy scenario reports the upstream's peak connections: every client direct, at most "
    "the pool through the proxy") {
  TempDir out("connsched_compare_test");
  const auto run = ServerProcess::run(
      bin_dir() + "/connsched_compare",
      {"--scenarios=proxy", "--connections=40", "--duration=0.5", "--warmup=0.1",
       "--backends=pool-of-threads", "--no-reference", "--out=" + out.path.string()},
      600s);
  const int status = run.first;
  const std::string& output = run.second;
  CAPTURE(output);
  REQUIRE(status == 0);
  CHECK(output.find("== proxy") != std::string::npos);
  CHECK(output.find("upstream peak") != std::string::npos);
  CHECK(output.find("0 with errors") != std::string::npos);

  const auto lines = split(read_file(out.path / "compare.csv"), '\n');
  REQUIRE(lines.size() == 1 + 4);  // direct, pool 16, pool 16 (max threads 64), no pool
  const auto header = split(lines[0], ',');
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = split(lines[i], ',');
    CAPTURE(lines[i]);
    REQUIRE(fields.size() >= header.size() - 1);
    CHECK(fields[column("errors")] == "0");
    CHECK(fields[column("exit_status")] == "0");
    CHECK(std::stoull(fields[column("requests")]) > 0);
    const auto peak = std::stoull(fields[column("upstream_peak_connections")]);
    const auto& backend = fields[column("backend")];
    if (backend == "direct to kv_server") {
      CHECK(peak == 40);  // exact: the admin port that reports it is no client
    } else if (backend.starts_with("pool 16")) {
      CHECK(peak >= 1);
      CHECK(peak <= 16);
    } else {
      CHECK(backend == "no pool on pool-of-threads");
      CHECK(peak >= 1);
    }
  }
  CHECK(read_file(out.path / "compare-proxy.png").substr(1, 3) == "PNG");
}

TEST_CASE(
    "a sweep over two backends prints its table and writes CSV rows for every rate, the sweep "
    "chart and the timeline, every request answered") {
  TempDir out("connsched_compare_test");
  const auto run =
      ServerProcess::run(bin_dir() + "/connsched_compare",
                         {"--sweep", "--scenarios=mixed", "--connections=12", "--duration=0.6",
                          "--warmup=0.2", "--backends=one-thread-per-connection,pool-of-threads",
                          "--no-reference", "--out=" + out.path.string()},
                         600s);
  const int status = run.first;
  const std::string& output = run.second;
  CAPTURE(output);
  REQUIRE(status == 0);
  CHECK(output.find("== mixed sweep") != std::string::npos);
  CHECK(output.find("closed-loop capacity") != std::string::npos);
  CHECK(output.find("0 with errors") != std::string::npos);

  const auto lines = split(read_file(out.path / "compare.csv"), '\n');
  // 2 closed-loop capacities, then 5 offered rates (quick) x 2 backends.
  REQUIRE(lines.size() == 1 + 2 + 10);
  const auto header = split(lines[0], ',');
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  std::map<std::string, int> rows_per_rate;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto fields = split(lines[i], ',');
    CAPTURE(lines[i]);
    REQUIRE(fields.size() >= header.size() - 1);
    CHECK(fields[column("errors")] == "0");
    CHECK(fields[column("unanswered")] == "0");
    CHECK(fields[column("exit_status")] == "0");
    CHECK(std::stoull(fields[column("requests")]) > 0);
    CHECK(std::stoull(fields[column("processes_peak")]) == 1);
    ++rows_per_rate[fields[column("offered_rate")]];
  }
  CHECK(rows_per_rate["0.0"] == 2);  // the closed loops
  CHECK(rows_per_rate.size() == 1 + 5);
  for (const auto& entry : rows_per_rate) {
    CAPTURE(entry.first);
    CHECK(entry.second == 2);
  }
  for (const char* chart : {"compare-mixed-sweep.png", "compare-mixed-timeline.png"}) {
    CAPTURE(chart);
    const auto png = read_file(out.path / chart);
    REQUIRE(png.size() > 1000);
    CHECK(png.substr(1, 3) == "PNG");
  }
  // Both panels: p99 on a log axis against offered, and achieved against offered.
  const auto script = read_file(out.path / "compare-mixed-sweep.gp");
  CHECK(script.find("set logscale y") != std::string::npos);
  CHECK(script.find("using 1:3") != std::string::npos);
  CHECK(script.find("using 1:2") != std::string::npos);
}

TEST_CASE(
    "--server compares your own connsched server: echo_server under each backend, line "
    "protocol") {
  TempDir out("connsched_compare_test");
  const auto output_run = ServerProcess::run(
      bin_dir() + "/connsched_compare",
      {"--server=" + bin_dir() + "/echo_server", "--protocol=line", "--request=hello",
       "--name=echo", "--connections=4,16", "--duration=0.4", "--warmup=0.1",
       "--backends=one-thread-per-connection,pool-of-threads", "--out=" + out.path.string()},
      600s);
  const int status = output_run.first;
  const std::string& output = output_run.second;
  CAPTURE(output);
  REQUIRE(status == 0);
  CHECK(output.find("== echo — hello over line") != std::string::npos);
  CHECK(output.find("0 with errors") != std::string::npos);
  const auto lines = split(read_file(out.path / "compare.csv"), '\n');
  REQUIRE(lines.size() == 1 + 4);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    CAPTURE(lines[i]);
    CHECK(lines[i].starts_with("echo,echo_server,"));
  }
  const auto png = read_file(out.path / "compare-echo.png");
  REQUIRE(png.size() > 1000);
  CHECK(png.substr(1, 3) == "PNG");
}

TEST_CASE(
    "a scenario file describes several loads for your server; a typo in it is one error "
    "line") {
  TempDir out("connsched_compare_test");
  const auto file = out.path / "loads.json";
  std::ofstream(file) << R"({"scenarios": [
    {"name": "echo-hello", "server": ")"
                      << bin_dir() << R"(/echo_server", "protocol": "line",
     "request": "hello", "connections": [4], "duration": 0.3, "warmup": 0.1},
    {"name": "echo-mixed", "server": ")"
                      << bin_dir() << R"(/echo_server", "protocol": "line",
     "request": "hi", "mix": "bye:2", "connections": 6, "duration": 0.3, "warmup": 0.1}]})";
  const auto run = ServerProcess::run(bin_dir() + "/connsched_compare",
                                      {"--scenario-file=" + file.string(),
                                       "--backends=pool-of-threads", "--out=" + out.path.string()},
                                      600s);
  const int status = run.first;
  const std::string& output = run.second;
  CAPTURE(output);
  REQUIRE(status == 0);
  CHECK(output.find("== echo-hello") != std::string::npos);
  CHECK(output.find("== echo-mixed") != std::string::npos);
  CHECK(output.find("└ bye") != std::string::npos);
  CHECK(output.find("0 with errors") != std::string::npos);

  std::ofstream(out.path / "typo.json")
      << R"({"scenarios": [{"server": "x", "request": "a", "conections": 4}]})";
  const auto bad_output_run = ServerProcess::run(
      bin_dir() + "/connsched_compare",
      {"--scenario-file=" + (out.path / "typo.json").string(), "--out=" + out.path.string()}, 60s);
  const int bad_status = bad_output_run.first;
  const std::string& bad_output = bad_output_run.second;
  CAPTURE(bad_output);
  CHECK(bad_status != 0);
  CHECK(bad_output.find("scenario 1: unknown key 'conections'") != std::string::npos);
}

TEST_CASE(
    "the locks scenario: with the reserve no GET_LOCK times out; without it the deadlock "
    "shows as timeouts and next to no throughput") {
  TempDir out("connsched_compare_test");
  const auto run =
      ServerProcess::run(bin_dir() + "/connsched_compare",
                         {"--scenarios=locks", "--warmup=0.2", "--backends=pool-of-threads",
                          "--no-reference", "--out=" + out.path.string()},
                         600s);
  const int status = run.first;
  const std::string& output = run.second;
  CAPTURE(output);
  REQUIRE(status == 0);
  CHECK(output.find("== locks") != std::string::npos);
  CHECK(output.find("ops/s = sequences per second") != std::string::npos);
  CHECK(output.find("lock timeouts") != std::string::npos);
  CHECK(output.find("step 3 release_lock") != std::string::npos);
  CHECK(output.find("requests holding the lock") != std::string::npos);

  const auto lines = split(read_file(out.path / "compare.csv"), '\n');
  REQUIRE(lines.size() == 1 + 2);
  const auto header = split(lines[0], ',');
  const auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return static_cast<std::size_t>(it - header.begin());
  };
  std::map<std::string, std::vector<std::string>> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto fields = split(lines[i], ',');
    REQUIRE(fields.size() >= header.size() - 1);
    rows[fields[column("backend")]] = fields;
  }
  REQUIRE(rows.count("pool-of-threads") == 1);
  REQUIRE(rows.count("pool-of-threads (reserve 0)") == 1);
  const auto& reserve = rows["pool-of-threads"];
  const auto& none = rows["pool-of-threads (reserve 0)"];
  CAPTURE(lines[1]);
  CAPTURE(lines[2]);
  CHECK(reserve[column("lock_timeouts")] == "0");
  CHECK(reserve[column("errors")] == "0");
  CHECK(reserve[column("steps")] == "get_lock;incr;release_lock");
  CHECK(reserve[column("key_step")] == "release_lock");
  CHECK(!reserve[column("key_step_p99_ms")].empty());
  const auto reserve_runs = std::stoull(reserve[column("requests")]);
  CHECK(reserve_runs > 100);
  // Without the reserve every thread ends up waiting in GET_LOCK while the holders'
  // requests queue: only the 2 s lock timeout frees a thread.
  CHECK(std::stoull(none[column("lock_timeouts")]) >= 1);
  CHECK(std::stoull(none[column("requests")]) * 10 < reserve_runs);
  CHECK(none[column("errors")] == "0");
  CHECK(none[column("exit_status")] == "0");

  const auto png = read_file(out.path / "compare-locks.png");
  REQUIRE(png.size() > 1000);
  CHECK(png.substr(1, 3) == "PNG");
  const auto script = read_file(out.path / "compare-locks.gp");
  CHECK(script.find("RELEASE_LOCK p99") != std::string::npos);
  CHECK(script.find("lock-wait timeouts") != std::string::npos);
}

TEST_CASE("a scenario file's request may be a sequence, its key step checked against the steps") {
  TempDir out("connsched_compare_test");
  const auto file = out.path / "locks.json";
  std::ofstream(file) << R"({"scenarios": [
    {"name": "my-locks", "server": ")"
                      << bin_dir() << R"(/kv_server",
     "request": "GET_LOCK a{conn%2} 5 | INCR n | RELEASE_LOCK a{conn%2}", "connections": 4,
     "duration": 1, "warmup": 0.5, "key_step": "release_lock",
     "backend_flags": ["--thread-pool-max-threads=8"]}]})";
  const auto run = ServerProcess::run(bin_dir() + "/connsched_compare",
                                      {"--scenario-file=" + file.string(),
                                       "--backends=pool-of-threads", "--out=" + out.path.string()},
                                      600s);
  CAPTURE(run.second);
  REQUIRE(run.first == 0);
  CHECK(run.second.find("== my-locks") != std::string::npos);
  CHECK(run.second.find("step 2 incr") != std::string::npos);
  const auto csv = read_file(out.path / "compare.csv");
  CHECK(csv.find(",get_lock;incr;release_lock,") != std::string::npos);

  std::ofstream(out.path / "typo.json") << R"({"scenarios": [{"server": "x",
     "request": "GET_LOCK a 5 | RELEASE_LOCK a", "key_step": "release"}]})";
  const auto bad = ServerProcess::run(
      bin_dir() + "/connsched_compare",
      {"--scenario-file=" + (out.path / "typo.json").string(), "--out=" + out.path.string()}, 60s);
  CAPTURE(bad.second);
  CHECK(bad.first != 0);
  CHECK(bad.second.find("key_step 'release' is not a step") != std::string::npos);
}

TEST_CASE(
    "the switch scenario switches the server between backends under a checked load: every "
    "switch done, no request failed, the switches' CSV and the timeline with a marker each") {
  // Quick: 4 s measured, a switch every second from 0.5 s: 4 switches, alternating.
  TempDir out("connsched_compare_test");
  const auto run = ServerProcess::run(
      bin_dir() + "/connsched_compare",
      {"--scenarios=switch", "--connections=100", "--no-reference", "--out=" + out.path.string()},
      600s);
  const int status = run.first;
  const std::string& output = run.second;
  CAPTURE(output);
  REQUIRE(status == 0);
  CHECK(output.find("== switch") != std::string::npos);
  CHECK(output.find("0 with errors") != std::string::npos);
  CHECK(output.find("4 switch(es), 4 done") != std::string::npos);

  // The summary row: the switching one, in an open loop, with no failed request and no
  // reply out of step with its request.
  const auto lines = split(read_file(out.path / "compare.csv"), '\n');
  REQUIRE(lines.size() == 1 + 3);  // both backends' closed loops, then the switching row
  const auto header = split(lines[0], ',');
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const auto row = split(lines[3], ',');
  REQUIRE(row.size() >= header.size() - 1);
  CHECK(row[column("backend")] == "one-thread-per-connection <-> pool-of-threads");
  CHECK(std::stod(row[column("offered_rate")]) > 0);
  CHECK(std::stoull(row[column("requests")]) > 0);
  CHECK(row[column("errors")] == "0");
  CHECK(row[column("mismatched_replies")] == "0");
  CHECK(row[column("dropped")] == "0");
  CHECK(row[column("switches")] == "4");
  CHECK(row[column("switches_done")] == "4");
  CHECK(row[column("exit_status")] == "0");

  // One line per switch, alternating from the backend the server started with; each
  // done (200 or 202 then complete), every connection moved.
  const auto switches = split(read_file(out.path / "compare-switch-switches.csv"), '\n');
  REQUIRE(switches.size() == 1 + 4);
  const auto names = split(switches[0], ',');
  const auto at = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  };
  for (std::size_t i = 1; i < switches.size(); ++i) {
    CAPTURE(switches[i]);
    const auto fields = split(switches[i], ',');
    REQUIRE(fields.size() >= names.size());
    CHECK(fields[at("to")] == (i % 2 == 1 ? "pool-of-threads" : "one-thread-per-connection"));
    CHECK(fields[at("done")] == "1");
    CHECK((fields[at("status")] == "200" || fields[at("status")] == "202"));
    CHECK(fields[at("connections")] == "100");
    CHECK(fields[at("moved")] == "100");
    CHECK(std::stod(fields[at("took_ms")]) >= 0);
  }

  const auto png = read_file(out.path / "compare-switch-timeline.png");
  REQUIRE(png.size() > 1000);
  CHECK(png.substr(1, 3) == "PNG");
  // A dashed vertical line per switch, in both panels (set before the first plot).
  const auto script = read_file(out.path / "compare-switch-timeline.gp");
  std::size_t markers = 0;
  for (auto pos = script.find("# switch"); pos != std::string::npos;
       pos = script.find("# switch", pos + 1))
    ++markers;
  CHECK(markers == 4);
  CHECK(script.find("set arrow from") < script.find("\nplot "));
}
