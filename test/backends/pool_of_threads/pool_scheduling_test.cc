// File: test/backends/pool_of_threads/pool_scheduling_test.cc
//
// How the pool shares a group's threads: blocked requests get new threads, a stalled
// group gets help from the timer, oversubscribe bounds how many run, idle threads
// leave, and the THREAD_POOL_* tables tell what happened.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sched.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "pinned_cpu.h"
#include "pool_test_support.h"
#include "server_process.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
// `count` clients each send `line` once, all at the same time; returns how many got
// `expected` back.
int concurrent_requests(std::uint16_t port, int count, const std::string& line,
                        const std::string& expected) {
  std::atomic<int> correct{0};
  {
    std::vector<std::jthread> clients;
    for (int i = 0; i < count; ++i) {
      clients.emplace_back([&] {
        TestClient client(port, 30s);
        if (client.request(line, 30s) == expected) correct.fetch_add(1);
      });
    }
  }
  return correct.load();
}
}  // namespace

TEST_CASE(
    "when every thread of a group blocks in a wait with requests queued, a thread is created and "
    "the queue drains") {
  // oversubscribe 0: without the wait hooks the group would run these one at a time;
  // a stall limit of a minute keeps the timer out of it.
  RunningServer server(pool_options({{"thread_pool_size", "1"},
                                     {"thread_pool_oversubscribe", "0"},
                                     {"thread_pool_stall_limit", "60000"}}));
  constexpr int kClients = 6;
  CHECK(concurrent_requests(server.port(), kClients, "sleep 1500", "ok") == kClients);
  CHECK(server.probe().peak.load() == kClients);  // all six slept at the same time
  auto stats = server.server().backend_stats();
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "THREAD_CREATIONS_TOTAL") >= kClients);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "THREAD_CREATIONS_DUE_TO_STALL_TOTAL") == 0);
  CHECK(waits_for(stats, "SLEEP") == kClients);
  // The clients' closes are events too: queued for a moment after the last reply, then
  // served, so the queue drains to empty.
  CHECK(RunningServer::eventually([&] {
    return column_sum(server.server().backend_stats(), "THREAD_POOL_GROUPS", "QUEUE_LENGTH") == 0;
  }));
}

TEST_CASE(
    "a group stalled by a long CPU request gets another thread from the timer within a few stall "
    "limits") {
  SUBCASE("dedicated listener: the queue stops moving, the group is marked stalled") {
    RunningServer server(pool_options(mariadb_only({{"thread_pool_size", "1"},
                                                    {"thread_pool_oversubscribe", "0"},
                                                    {"thread_pool_stall_limit", "100"},
                                                    {"thread_pool_dedicated_listener", "on"}})));
    TestClient hog(server.port(), 30s);
    REQUIRE(hog.send("burn 6000000\n"));  // 6 s of CPU, never yielding
    REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    std::vector<TestClient> shorts;
    for (int i = 0; i < 5; ++i) {
      shorts.emplace_back(server.port(), 30s);
      REQUIRE(shorts.back().send(fmt::format("echo short{}\n", i)));
    }
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) CHECK(shorts[i].read_line(5s) == fmt::format("short{}", i));
    // Served while the hog still runs (it needs 6 s), well within a few stall limits.
    CHECK(std::chrono::steady_clock::now() - start < 4s);
    CHECK(server.probe().running.load() == 1);
    auto stats = server.server().backend_stats();
    CHECK(column_sum(stats, "THREAD_POOL_STATS", "STALLS_TOTAL") >= 1);
    CHECK(column_sum(stats, "THREAD_POOL_STATS", "THREAD_CREATIONS_DUE_TO_STALL_TOTAL") +
              column_sum(stats, "THREAD_POOL_STATS", "WAKES_DUE_TO_STALL_TOTAL") >=
          1);
    CHECK(hog.read_line(30s) == "ok");
  }
  SUBCASE("default listener: the long request's thread is marked stuck and stops counting") {
    RunningServer server(pool_options(mariadb_only({{"thread_pool_size", "1"},
                                                    {"thread_pool_oversubscribe", "0"},
                                                    {"thread_pool_stall_limit", "100"}})));
    TestClient hog(server.port(), 30s);
    REQUIRE(hog.send("burn 6000000\n"));
    REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    CHECK(RunningServer::eventually(
        [&] { return server.server().backend_stats().counter("threadpool_stuck_threads") == 1; },
        3s));
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i) {
      TestClient client(server.port(), 30s);
      CHECK(client.request(fmt::format("echo short{}", i), 5s) == fmt::format("short{}", i));
    }
    CHECK(std::chrono::steady_clock::now() - start < 4s);
    CHECK(server.probe().running.load() == 1);
    CHECK(column_sum(server.server(), "THREAD_POOL_STATS", "THREAD_CREATIONS_DUE_TO_STALL_TOTAL") +
              column_sum(server.server(), "THREAD_POOL_STATS", "WAKES_DUE_TO_STALL_TOTAL") >=
          1);
    CHECK(hog.read_line(30s) == "ok");
  }
}

TEST_CASE("with oversubscribe 0 and no stall, one thread of the group runs requests at a time") {
  // MariaDB's limit on its own: on a loaded machine a 20 ms burn can pass the demotion
  // limit, and a demoted request rightly stops counting against the limit.
  RunningServer server(pool_options(mariadb_only({{"thread_pool_size", "1"},
                                                  {"thread_pool_oversubscribe", "0"},
                                                  {"thread_pool_stall_limit", "60000"}})));
  // First give the group several threads (waits make them), so that more than one
  // thread could run requests if the limit did not hold.
  CHECK(concurrent_requests(server.port(), 4, "sleep 300", "ok") == 4);
  REQUIRE(server.server().backend_stats().counter("threadpool_threads") >= 2);
  server.probe().reset_peak();
  constexpr int kClients = 8;
  constexpr int kRequests = 10;
  std::atomic<int> correct{0};
  {
    std::vector<std::jthread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&] {
        TestClient client(server.port(), 30s);
        for (int r = 0; r < kRequests; ++r) {
          if (client.request("burn 20000", 30s) == "ok") correct.fetch_add(1);
        }
      });
    }
  }
  CHECK(correct.load() == kClients * kRequests);
  CHECK(server.probe().peak.load() == 1);
}

TEST_CASE("threads left idle exit after thread_pool_idle_timeout; the listener stays") {
  RunningServer server(pool_options({{"thread_pool_size", "1"},
                                     {"thread_pool_idle_timeout", "1"},
                                     {"thread_pool_stall_limit", "60000"}}));
  TestClient keep(server.port(), 30s);  // keeps the group (and its listener) in use
  REQUIRE(keep.request("echo hi") == "hi");
  CHECK(concurrent_requests(server.port(), 6, "sleep 500", "ok") == 6);
  CHECK(column_sum(server.server(), "THREAD_POOL_STATS", "THREAD_CREATIONS_TOTAL") >= 6);
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threadpool_threads") == 1; }, 15s));
  auto stats = server.server().backend_stats();
  CHECK(stats.counter("threadpool_idle_threads") == 0);
  CHECK(stats.counter("threadpool_listener_threads") == 1);
  CHECK(keep.request("echo still") == "still");
}

TEST_CASE("a standby thread is woken (not created) when a request needs one") {
  RunningServer server(pool_options({{"thread_pool_size", "1"},
                                     {"thread_pool_oversubscribe", "0"},
                                     {"thread_pool_stall_limit", "60000"}}));
  CHECK(concurrent_requests(server.port(), 6, "sleep 300", "ok") == 6);
  // Up to two wake-ups per client below (its connection and its request).
  REQUIRE(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threadpool_idle_threads") >= 4; }));
  auto before = server.server().backend_stats();
  std::int64_t creations = column_sum(before, "THREAD_POOL_STATS", "THREAD_CREATIONS_TOTAL");
  std::int64_t wakes = column_sum(before, "THREAD_POOL_STATS", "WAKES_TOTAL");
  CHECK(concurrent_requests(server.port(), 2, "sleep 300", "ok") == 2);
  auto after = server.server().backend_stats();
  CHECK(column_sum(after, "THREAD_POOL_STATS", "WAKES_TOTAL") > wakes);
  CHECK(column_sum(after, "THREAD_POOL_STATS", "THREAD_CREATIONS_TOTAL") == creations);
}

TEST_CASE("the stats tables report what the pool did") {
  RunningServer server(
      pool_options({{"thread_pool_size", "2"}, {"thread_pool_stall_limit", "60000"}}));
  // One client at a time: the listener runs each request itself.
  TestClient single(server.port(), 30s);
  for (int i = 0; i < 20; ++i) REQUIRE(single.request("echo x") == "x");
  // Many blocked at once: workers are created, woken, and dequeue.
  CHECK(concurrent_requests(server.port(), 8, "sleep 200", "ok") == 8);
  CHECK(concurrent_requests(server.port(), 8, "sleep 200", "ok") == 8);
  // A dedicated listener only queues: every request is then dequeued by a worker.
  REQUIRE(server.server().set_option("thread_pool_dedicated_listener", "on").empty());
  for (int i = 0; i < 5; ++i) REQUIRE(single.request("echo y") == "y");
  auto stats = server.server().backend_stats();
  for (const char* name :
       {"THREAD_POOL_GROUPS", "THREAD_POOL_QUEUES", "THREAD_POOL_STATS", "THREAD_POOL_WAITS"}) {
    CAPTURE(name);
    CHECK(stats.table(name) != nullptr);
  }
  CHECK(stats.table("THREAD_POOL_GROUPS")->columns ==
        std::vector<std::string>{"GROUP_ID", "CONNECTIONS", "THREADS", "ACTIVE_THREADS",
                                 "STANDBY_THREADS", "QUEUE_LENGTH", "HAS_LISTENER", "IS_STALLED"});
  CHECK(stats.table("THREAD_POOL_QUEUES")->columns ==
        std::vector<std::string>{"GROUP_ID", "POSITION", "PRIORITY", "CONNECTION_ID",
                                 "QUEUEING_TIME_MICROSECONDS"});
  CHECK(stats.table("THREAD_POOL_STATS")->columns ==
        std::vector<std::string>{"GROUP_ID",
                                 "THREAD_CREATIONS_TOTAL",
                                 "THREAD_CREATIONS_DUE_TO_STALL_TOTAL",
                                 "WAKES_TOTAL",
                                 "WAKES_DUE_TO_STALL_TOTAL",
                                 "THROTTLES_TOTAL",
                                 "STALLS_TOTAL",
                                 "POLLS_BY_LISTENER_TOTAL",
                                 "POLLS_BY_WORKER_TOTAL",
                                 "DEQUEUES_BY_LISTENER_TOTAL",
                                 "DEQUEUES_BY_WORKER_TOTAL",
                                 "QUEUE_AGE_WAKEUPS_TOTAL",
                                 "RESERVE_THREAD_CREATIONS_TOTAL",
                                 "RESERVE_DEQUEUES_TOTAL",
                                 "DEMOTIONS_TOTAL",
                                 "DEMOTION_RETIREMENTS_TOTAL",
                                 "UNREPORTED_WAITS_TOTAL",
                                 "TIMER_POLLS_TOTAL",
                                 "POLLER_SYSCALLS_TOTAL",
                                 "REFIRES_TOTAL",
                                 "LISTENER_REQUESTS_TOTAL",
                                 "LISTENER_HANDOFFS_TOTAL",
                                 "VOLUNTARY_CONTEXT_SWITCHES_TOTAL",
                                 "INVOLUNTARY_CONTEXT_SWITCHES_TOTAL"});
  CHECK(stats.table("THREAD_POOL_WAITS")->rows.size() == 12);
  CHECK(stats.table("THREAD_POOL_GROUPS")->rows.size() == 2);
  CHECK(waits_for(stats, "SLEEP") == 16);
  CHECK(waits_for(stats, "ROW_LOCK") == 0);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "DEQUEUES_BY_LISTENER_TOTAL") >= 20);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "DEQUEUES_BY_WORKER_TOTAL") >= 5);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "POLLS_BY_LISTENER_TOTAL") >= 25);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "WAKES_TOTAL") >= 1);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "THREAD_CREATIONS_TOTAL") >= 2);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "STALLS_TOTAL") == 0);
  CHECK(stats.counter("threadpool_threads") == column_sum(stats, "THREAD_POOL_GROUPS", "THREADS"));
  // The concurrent clients' closes are served asynchronously (on a loaded machine, maybe
  // after the echoes above): wait for them rather than race them.
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threadpool_connections") == 1; }));
  CHECK(column_sum(server.server(), "THREAD_POOL_GROUPS", "CONNECTIONS") == 1);
}

TEST_CASE("without thread_pool_size the pool runs one group per CPU the server may run on") {
  // The pool reads the affinity mask at init, and threads made while this one is pinned
  // inherit its mask, as under taskset.
  int all_cpus = 0;
  {
    PinnedToOneCpu pinned;
    all_cpus = pinned.cpus_before();
    RunningServer server(pool_options());
    CHECK(server.server().backend_stats().counter("threadpool_groups") == 1);
    TestClient client(server.port(), 30s);
    CHECK(client.request("echo pinned", 10s) == "pinned");
  }
  RunningServer server(pool_options());
  CHECK(server.server().backend_stats().counter("threadpool_groups") == all_cpus);
}

TEST_CASE("thread_pool_stall_limit defaults to 100 ms, not MariaDB's 500") {
  // Core hands the backend its declared default when the flag is absent, so the
  // declaration is the behaviour: a group waits at most ~100 ms behind a long request.
  auto [status, help] = ServerProcess::run(bin_dir() + "/echo_server",
                                           {"--thread-handling=pool-of-threads", "--help"});
  REQUIRE(status == 0);
  const auto at = help.find("--thread-pool-stall-limit");
  REQUIRE(at != std::string::npos);
  const auto line = help.substr(at, help.find('\n', at) - at);
  CAPTURE(line);
  CHECK(line.find("default 100;") != std::string::npos);
  CHECK(line.find("MariaDB: 500") != std::string::npos);
}
