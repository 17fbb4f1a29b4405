// File: test/backends/pool_of_threads/pool_timeouts_test.cc
//
// wait_timeout under pool-of-threads (core enforces it for every backend, through the
// kill path the pool answers), the case MariaDB once got wrong (a request waiting in the
// queue is not idleness), and kill.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <thread>
#include <vector>

#include "pool_test_support.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE("wait_timeout closes idle connections in every group; active ones stay") {
  auto options = pool_options({{"thread_pool_size", "3"}});
  options.wait_timeout = 1;
  RunningServer server(options);
  std::vector<TestClient> idle;
  for (int i = 0; i < 6; ++i) {  // two per group
    idle.emplace_back(server.port(), 30s);
    REQUIRE(idle.back().request("echo x") == "x");
  }
  TestClient busy(server.port(), 30s);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {  // 2.4 s of activity, each gap well under the timeout
    REQUIRE(busy.request("echo y") == "y");
    std::this_thread::sleep_for(300ms);
  }
  for (auto& c : idle) CHECK(c.wait_closed(10s));
  CHECK(std::chrono::steady_clock::now() - start < 15s);
  CHECK(busy.request("echo still") == "still");
  CHECK(server.server().core_stats().connections_timed_out == 6);
  CHECK(RunningServer::eventually(
      [&] { return server.server().core_stats().connections_current == 1; }));
}

TEST_CASE("a request waiting in the queue past wait_timeout is served, not killed") {
  // One running thread at a time, held by a 3 s request; the dedicated listener queues
  // the victim's request at once, and there it waits longer than wait_timeout.
  auto options = pool_options(mariadb_only({{"thread_pool_size", "1"},
                                            {"thread_pool_oversubscribe", "0"},
                                            {"thread_pool_stall_limit", "60000"},
                                            {"thread_pool_dedicated_listener", "on"}}));
  options.wait_timeout = 1;
  RunningServer server(options);
  TestClient hog(server.port(), 30s);
  TestClient victim(server.port(), 30s);
  TestClient idle(server.port(), 30s);
  REQUIRE(hog.send("burn 3000000\n"));
  REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
  REQUIRE(victim.send("echo queued\n"));
  REQUIRE(RunningServer::eventually(
      [&] { return column_sum(server.server(), "THREAD_POOL_GROUPS", "QUEUE_LENGTH") == 1; }));
  // The idle one (connected at the same time) does time out meanwhile: the timer ran.
  CHECK(idle.wait_closed(10s));
  CHECK(server.probe().running.load() == 1);  // the hog is still running
  CHECK(victim.read_line(30s) == "queued");
  CHECK(hog.read_line(30s) == "ok");
  CHECK(server.server().core_stats().connections_timed_out == 1);
}

TEST_CASE("kill closes a connection waiting for input, in whichever group it is") {
  RunningServer server(pool_options({{"thread_pool_size", "4"}}));
  std::vector<TestClient> clients;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back(server.port(), 30s);
    ids.push_back(std::stoull(*clients.back().request("id")));
  }
  for (int i = 0; i < 8; i += 2) {
    CHECK(server.server().kill(ids[static_cast<std::size_t>(i)]));
    CHECK(clients[static_cast<std::size_t>(i)].wait_closed(10s));
  }
  for (int i = 1; i < 8; i += 2) {
    CHECK(clients[static_cast<std::size_t>(i)].request("echo alive") == "alive");
  }
  CHECK(server.server().core_stats().connections_killed == 4);
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threadpool_connections") == 4; }));
}

TEST_CASE(
    "graceful shutdown with thousands of idle connections closes them all and joins every thread") {
  REQUIRE(raise_fd_limit(2 * 1000 + 512) >= 2 * 1000 + 256);
  auto options = pool_options({{"thread_pool_size", "4"}});
  options.max_connections = 2000;
  auto server = std::make_unique<RunningServer>(options);
  std::vector<TestClient> clients;
  for (int i = 0; i < 1000; ++i) clients.emplace_back(server->port(), 30s);
  REQUIRE(clients.back().request("echo last") == "last");
  CHECK(server->stop() == 0);
  for (auto& c : clients) CHECK(c.wait_closed(10s));
}
