// File: test/backends/pool_of_threads/pool_limits_test.cc
//
// What holds thread creation back: the throttling curve when a busy group keeps
// stalling, and thread_pool_max_threads (logged at once, not after MariaDB's 30 s,
// with the server still answering).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "pool_test_support.h"
#include "server_process.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE("a group that keeps stalling gains threads at the throttled pace, not at every tick") {
  // 16 connections each hold a thread with a long CPU request: every tick the timer
  // wants another thread. From 8 threads on the curve allows one per 2 ticks.
  RunningServer server(pool_options(mariadb_only({{"thread_pool_size", "1"},
                                                  {"thread_pool_oversubscribe", "0"},
                                                  {"thread_pool_stall_limit", "200"}})));
  constexpr int kClients = 16;
  std::vector<TestClient> hogs;
  for (int i = 0; i < kClients; ++i) {
    hogs.emplace_back(server.port(), 60s);
    REQUIRE(hogs.back().send("burn 10000000\n"));
  }
  bool throttled = RunningServer::eventually(
      [&] { return column_sum(server.server(), "THREAD_POOL_STATS", "THROTTLES_TOTAL") >= 1; },
      30s);
  INFO("threads: " << server.server().backend_stats().counter("threadpool_threads")
                   << ", created due to stall: "
                   << column_sum(server.server(), "THREAD_POOL_STATS",
                                 "THREAD_CREATIONS_DUE_TO_STALL_TOTAL")
                   << ", stalls: "
                   << column_sum(server.server(), "THREAD_POOL_STATS", "STALLS_TOTAL"));
  CHECK(throttled);
  // Below 8 threads every tick may add one: throttling starts only beyond that.
  auto stats = server.server().backend_stats();
  CHECK(stats.counter("threadpool_threads") >= 8);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "THREAD_CREATIONS_DUE_TO_STALL_TOTAL") >= 7);
  CHECK(stats.counter("threadpool_threads") <= kClients + 1);  // never more than connections
  for (auto& hog : hogs) CHECK(hog.read_line(60s) == "ok");
}

TEST_CASE("thread_pool_max_threads caps the pool; each group still reaches two threads") {
  RunningServer server(pool_options({{"thread_pool_size", "2"},
                                     {"thread_pool_max_threads", "3"},
                                     {"thread_pool_stall_limit", "50"}}));
  constexpr int kClients = 12;
  std::atomic<int> correct{0};
  std::atomic<bool> done{false};
  std::int64_t most = 0;
  {
    std::vector<std::jthread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&] {
        TestClient client(server.port(), 60s);
        if (client.request("sleep 300", 60s) == "ok") correct.fetch_add(1);
      });
    }
    std::jthread sampler([&] {
      while (!done.load()) {
        most = std::max(most, server.server().backend_stats().counter("threadpool_threads"));
        std::this_thread::sleep_for(5ms);
      }
    });
    clients.clear();  // joins the clients
    done.store(true);
  }
  CHECK(correct.load() == kClients);
  // 3 allowed, but each of the 2 groups may always have 2: at most 4.
  CHECK(most <= 4);
  CHECK(most >= 3);
  auto stats = server.server().backend_stats();
  CHECK(stats.counter("threadpool_max_threads_reached_total") >= 1);
  CHECK(server.server().set_option("thread_pool_max_threads", "0") ==
        "--thread-pool-max-threads: 0 is out of range [1, 65536]");
}

TEST_CASE("reaching thread_pool_max_threads is logged at once, and the server keeps answering") {
  ServerProcess server(
      bin_dir() + "/cs_test_server",
      {"--thread-handling=pool-of-threads", "--plugin-dir=" + plugin_dir(), "--thread-pool-size=1",
       "--thread-pool-max-threads=1", "--thread-pool-stall-limit=50"});
  auto port = server.wait_listening();
  REQUIRE(port.has_value());
  std::vector<TestClient> sleepers;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) {
    sleepers.emplace_back(*port, 30s);
    REQUIRE(sleepers.back().send("sleep 1500\n"));
  }
  bool logged = false;
  while (!logged && std::chrono::steady_clock::now() - start < 10s) {
    std::this_thread::sleep_for(50ms);
    logged = server.output().find("thread_pool_max_threads (1) reached") != std::string::npos;
  }
  CHECK(logged);
  CHECK(std::chrono::steady_clock::now() - start < 10s);  // MariaDB: 30 s of silence
  TestClient probe(*port, 30s);
  CHECK(probe.request("echo alive", 30s) == "alive");
  for (auto& s : sleepers) CHECK(s.read_line(30s) == "ok");
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}
