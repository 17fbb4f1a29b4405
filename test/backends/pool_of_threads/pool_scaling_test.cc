// File: test/backends/pool_of_threads/pool_scaling_test.cc
//
// pool-of-threads at scale: thousands of connections on a few threads, and
// thread_pool_size changed under load without losing a request or a connection.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "pool_test_support.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE("2,000 concurrent connections are served by 2 groups on far fewer threads") {
  constexpr int kConnections = 2000;
  constexpr int kRounds = 3;
  // Client and server ends of every connection live in this process.
  REQUIRE(raise_fd_limit(2 * kConnections + 512) >= 2 * kConnections + 256);
  auto options = pool_options({{"thread_pool_size", "2"}});
  options.max_connections = kConnections + 100;
  RunningServer server(options);
  std::vector<TestClient> clients;
  clients.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) clients.emplace_back(server.port(), 30s);

  int correct = 0;
  std::int64_t most_threads = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Every connection has a request in flight at once, then every reply is read.
    for (int i = 0; i < kConnections; ++i) {
      REQUIRE(clients[i].send(fmt::format("echo {}-{}\n", i, round)));
    }
    most_threads =
        std::max(most_threads, server.server().backend_stats().counter("threadpool_threads"));
    for (int i = 0; i < kConnections; ++i) {
      if (clients[i].read_line(60s) == fmt::format("{}-{}", i, round)) ++correct;
    }
    most_threads =
        std::max(most_threads, server.server().backend_stats().counter("threadpool_threads"));
  }
  CHECK(correct == kConnections * kRounds);
  CHECK(server.server().core_stats().connections_current == kConnections);
  auto stats = server.server().backend_stats();
  const StatsTable* groups = stats.table("THREAD_POOL_GROUPS");
  REQUIRE(groups != nullptr);
  REQUIRE(groups->rows.size() == 2);
  CHECK(int_cell(*groups, 0, "CONNECTIONS") == kConnections / 2);  // id modulo 2
  CHECK(int_cell(*groups, 1, "CONNECTIONS") == kConnections / 2);
  CHECK(most_threads >= 2);    // at least a thread per group
  CHECK(most_threads <= 100);  // 2,000 connections, a handful of threads
  MESSAGE("most pool threads seen: " << most_threads);
}

TEST_CASE("thread_pool_size grows and shrinks under load: no request and no connection lost") {
  constexpr int kClients = 24;
  RunningServer server(pool_options({{"thread_pool_size", "1"}}));
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, wrong{0};
  {
    std::vector<std::jthread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        TestClient client(server.port(), 30s);
        for (int r = 0; !stop.load(); ++r) {
          // Some requests block in a reported wait, so threads come and go too.
          std::string line = r % 7 == 0 ? "sleep 2" : fmt::format("echo {}-{}", c, r);
          std::string expected = r % 7 == 0 ? "ok" : fmt::format("{}-{}", c, r);
          if (client.request(line, 30s) == expected) {
            answered.fetch_add(1);
          } else {
            wrong.fetch_add(1);
          }
        }
      });
    }
    for (const char* size : {"4", "2", "8", "1", "3", "6", "1"}) {
      CAPTURE(size);
      REQUIRE(server.server().set_option("thread_pool_size", size).empty());
      std::this_thread::sleep_for(300ms);
      CHECK(server.server().core_stats().connections_current == kClients);
    }
    // Down to one group: every connection moves into group 0 on its next request and
    // the retired groups' threads leave.
    CHECK(RunningServer::eventually([&] {
      auto stats = server.server().backend_stats();
      const StatsTable* groups = stats.table("THREAD_POOL_GROUPS");
      return groups != nullptr && groups->rows.size() == 1 &&
             int_cell(*groups, 0, "GROUP_ID") == 0 &&
             int_cell(*groups, 0, "CONNECTIONS") == kClients;
    }));
    stop.store(true);
  }
  CHECK(wrong.load() == 0);
  CHECK(answered.load() > kClients * 10);
  auto stats = server.server().backend_stats();
  CHECK(stats.counter("threadpool_connections_moved_total") > 0);
  CHECK(stats.counter("threadpool_groups") == 1);
  CHECK(server.server().core_stats().requests == static_cast<std::uint64_t>(answered.load()));
}
