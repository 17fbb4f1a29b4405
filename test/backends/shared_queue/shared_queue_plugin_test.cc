// File: test/backends/shared_queue/shared_queue_plugin_test.cc
//
// plugins/shared_queue, loaded by path: it serves real clients, never runs more
// requests at once than it has workers (it has no wait hooks: a blocked request holds
// its worker), and handles wait_timeout, kill and shutdown.
#include <doctest/doctest.h>
#include <signal.h>

#include <thread>

#include "custom_plugins.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
connsched::ServerOptions shared_queue(int workers) {
  auto options = test_options(custom_plugin("shared-queue"));
  options.backend_options["shared_queue_workers"] = std::to_string(workers);
  return options;
}
}  // namespace

TEST_CASE("the shared-queue backend, loaded by path into echo_server, serves concurrent clients") {
  ServerProcess server(echo_server_path(),
                       {"--port=0", "--thread-handling=" + custom_plugin("shared-queue"),
                        "--shared-queue-workers=3"});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  CHECK(concurrent_echo(*port, 10, 20));
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}

TEST_CASE("N shared-queue workers never run more than N requests at once, even when all block") {
  RunningServer server(shared_queue(2));
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 10; ++i) clients.push_back(std::make_unique<TestClient>(server.port()));
  auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) REQUIRE(c->send("sleep 100\n"));
  for (auto& c : clients) CHECK(c->read_line(20s) == "ok");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(server.probe().peak.load() == 2);
  CHECK(took >= 450ms);  // 10 sleeps of 100 ms on 2 workers: at least 5 rounds
  // A worker counts itself idle just after its reply left.
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("busy") == 0; }));
  auto stats = server.server().backend_stats();
  CHECK(stats.counter("workers") == 2);
  CHECK(stats.counter("dequeues_total") >= 10);
  CHECK(stats.counter("queue_length") == 0);
}

TEST_CASE(
    "core closes a connection idle past wait_timeout under shared-queue, which has no timer") {
  auto options = shared_queue(2);
  options.wait_timeout = 1;
  RunningServer server(options);
  TestClient idle(server.port());
  TestClient busy(server.port());
  CHECK(idle.request("echo hi") == "hi");
  auto start = std::chrono::steady_clock::now();
  // The busy one keeps talking, so only the idle one passes wait_timeout.
  bool busy_alive = true;
  while (std::chrono::steady_clock::now() - start < 800ms) {
    busy_alive = busy_alive && busy.request("echo tick") == "tick";
    std::this_thread::sleep_for(100ms);
  }
  CHECK(busy_alive);
  CHECK(idle.wait_closed(10s));
  CHECK(std::chrono::steady_clock::now() - start >= 900ms);
  CHECK(server.server().core_stats().connections_timed_out == 1);
  // Core's idle timer did it through the kill path: the backend has no timer of its own.
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("kills_total") == 1; }));
}

TEST_CASE("the shared-queue backend closes a killed connection and keeps serving the others") {
  RunningServer server(shared_queue(2));
  TestClient victim(server.port());
  TestClient other(server.port());
  auto id = victim.request("id");
  REQUIRE(id);
  CHECK(server.server().kill(std::stoull(*id)));
  CHECK(victim.wait_closed(5s));
  CHECK(other.request("echo alive") == "alive");
  CHECK(server.server().backend_stats().counter("kills_total") == 1);
}

TEST_CASE(
    "the shared-queue backend drains on shutdown: a request in flight is answered, idle ones "
    "closed") {
  RunningServer server(shared_queue(2));
  TestClient busy(server.port());
  TestClient idle(server.port());
  CHECK(idle.request("echo idle") == "idle");
  REQUIRE(busy.send("sleep 300\n"));
  RunningServer::eventually([&] { return server.probe().running.load() == 1; }, 5s);
  CHECK(server.stop() == 0);
  CHECK(busy.read_line(5s) == "ok");
  CHECK(busy.wait_closed(5s));
  CHECK(idle.wait_closed(5s));
}
