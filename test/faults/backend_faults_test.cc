// File: test/faults/backend_faults_test.cc
//
// Backends that misbehave, under the real server executables: one whose init fails
// (the server refuses to start, in one line, and leaves nothing behind), one whose
// add_connection fails for every second connection (those are closed, everyone else
// is served), and a process-pool worker that crashes (its connections close, the
// other worker's clients never notice, a new worker takes new connections).
#include <doctest/doctest.h>
#include <signal.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <thread>

#include "backends.h"
#include "example_server.h"
#include "fault_support.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

std::string process_pool_path() {
  return std::string(CONNSCHED_TEST_CUSTOM_PLUGIN_DIR) + "/process-pool.so";
}

// The cells of one column of a table in the admin port's /stats JSON, as text (numbers
// as digits, strings without quotes, null as ""). Enough for the flat tables backends
// report; no JSON library in the tests.
std::vector<std::string> stats_column(const std::string& json, const std::string& table,
                                      const std::string& column) {
  std::vector<std::string> cells;
  auto at = json.find(fmt::format("\"{}\"", table));
  if (at == std::string::npos) return cells;
  auto columns_end = json.find(']', at);
  auto columns = json.substr(at, columns_end - at);
  auto named = columns.find(fmt::format("\"{}\"", column));
  if (named == std::string::npos) return cells;
  std::size_t index = 0;
  for (std::size_t i = columns.find('['); i < named; ++i) index += columns[i] == ',';
  auto rows = json.find("\"rows\": [", columns_end);
  auto rows_end = json.find("]]", rows);
  for (auto row = json.find('[', rows + 9); row < rows_end && row != std::string::npos;
       row = json.find('[', row + 1)) {
    auto end = json.find(']', row);
    std::vector<std::string> fields;
    std::string field;
    for (auto i = row + 1; i < end; ++i) {
      if (json[i] == ',') {
        fields.push_back(field);
        field.clear();
      } else if (json[i] != ' ' && json[i] != '"') {
        field += json[i];
      }
    }
    fields.push_back(field);
    cells.push_back(index < fields.size() && fields[index] != "null" ? fields[index] : "");
    row = end;
  }
  return cells;
}

}  // namespace

TEST_CASE("a backend whose init fails: one line, exit 2, nothing left listening") {
  auto [status, output] = ServerProcess::run(
      bin_dir() + "/kv_server", {"--port=0", "--admin-port=0",
                                 "--thread-handling=" + broken_plugin_dir() + "/init_fails.so"});
  CHECK(status == 2);
  CHECK(output.find("init failed: cannot reach the scheduling oracle") != std::string::npos);
  CHECK(output.find("listening on") == std::string::npos);
  CHECK(occurrences(output, "\n") == 1);
}

TEST_CASE(
    "a backend whose add_connection fails: that connection is closed and counted in the log, "
    "every other client is served") {
  ExampleServer server("kv_server", broken_plugin_dir() + "/flaky-add.so");
  HealthyClient healthy(server.port(), Dialect::kKv);  // the first connection: admitted
  REQUIRE(RunningServer::eventually([&] { return healthy.answered() >= 1; }, scaled(10s)));
  int closed = 0, served_count = 0;
  for (int i = 0; i < 40; ++i) {
    TestClient c(server.port());
    auto reply = kv_command(c, "PING", scaled(10s));
    if (reply && reply->text == "PONG") {
      ++served_count;
    } else {
      CHECK(c.wait_closed(scaled(10s)));
      ++closed;
    }
  }
  CHECK(closed == 20);
  CHECK(served_count == 20);
  CHECK(occurrences(server.process().output(), "refused connection") == 20);
  healthy.stop();
  CHECK(healthy.failures().empty());
  // The reading connection may be one the backend refuses: a second one is not.
  auto lost = lost_keys(server.port(), healthy.acknowledged());
  if (!lost.empty()) lost = lost_keys(server.port(), healthy.acknowledged());
  CHECK(lost.empty());
  CHECK(RunningServer::eventually(
      [&] { return stats_counter(server.admin_port(), "connections_current") == 0; }, scaled(10s)));
  CHECK(server.stop() == 0);
}

TEST_CASE(
    "a process-pool worker that crashes: its connections close, the other worker's clients keep "
    "being answered, and a respawned worker takes new connections") {
  ExampleServer server("cs_test_server", process_pool_path(), {"--process-pool-workers=2"});
  std::vector<std::unique_ptr<HealthyClient>> probes;
  for (int i = 0; i < 4; ++i) {
    probes.push_back(std::make_unique<HealthyClient>(server.port(), Dialect::kLine));
  }
  // Least-loaded placement: two connections on each worker.
  REQUIRE(RunningServer::eventually(
      [&] {
        auto json = admin_request(server.admin_port(), "GET", "/stats").body;
        return stats_column(json, "PROCESS_POOL_WORKERS", "CONNECTIONS") ==
               std::vector<std::string>{"2", "2"};
      },
      scaled(10s)));
  auto json = admin_request(server.admin_port(), "GET", "/stats").body;
  auto pids = stats_column(json, "PROCESS_POOL_WORKERS", "PID");
  REQUIRE(pids.size() == 2);
  const pid_t victim = static_cast<pid_t>(std::stoi(pids[0]));
  REQUIRE(::kill(victim, SIGKILL) == 0);
  CHECK(RunningServer::eventually(
      [&] { return stats_counter(server.admin_port(), "respawns_total") >= 1; }, scaled(10s)));
  // The survivor's probes keep going a while after the crash.
  std::this_thread::sleep_for(scaled(500ms));
  int intact = 0, cut = 0;
  for (auto& probe : probes) {
    probe->stop();
    auto failures = probe->failures();
    if (failures.empty()) {
      ++intact;
      CHECK(probe->max_latency() < scaled(1s));
    } else {
      ++cut;
      CHECK_MESSAGE(failures.size() == 1, fmt::join(failures, "; "));
    }
  }
  CHECK(intact == 2);
  CHECK(cut == 2);
  for (int i = 0; i < 6; ++i) CHECK(served(server.port(), Dialect::kLine, scaled(10s)));
  CHECK(server.stop() == 0);
}
