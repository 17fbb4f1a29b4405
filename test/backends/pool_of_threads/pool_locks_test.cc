// File: test/backends/pool_of_threads/pool_locks_test.cc
//
// GET_LOCK / RELEASE_LOCK (MySQL's user-level locks in kv_server) and what the pool
// does for a connection holding one between requests: serves it first, and from a
// reserve above thread_pool_max_threads, so the request that releases the lock always
// runs (MDEV-38219). With the reserve at 0 the deadlock MariaDB has is shown.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "kv_test_support.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
std::uint64_t client_id(TestClient& c) {
  std::string id = call(c, "CLIENT ID");
  REQUIRE(id.size() > 1);
  return std::stoull(id.substr(1));
}

std::int64_t stat(Server& server, const char* column) {
  return column_sum(server, "THREAD_POOL_STATS", column);
}
}  // namespace

TEST_CASE("GET_LOCK holds a name across requests: re-entrant, refused to others, 0 on timeout") {
  KvServer server(pool_options());
  TestClient a(server.port(), 30s), b(server.port(), 30s), c(server.port(), 30s);
  CHECK(call(a, "GET_LOCK row 5") == ":1");
  CHECK(call(a, "GET_LOCK row 5") == ":1");  // re-entry: held twice now
  CHECK(server.server().backend_stats().counter("threadpool_lock_holders") == 1);
  auto start = std::chrono::steady_clock::now();
  CHECK(call(b, "GET_LOCK row 0.2") == ":0");  // MySQL's answer to a timeout
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
  CHECK(waits_for(server.server().backend_stats(), "USER_LOCK") >= 1);
  CHECK(call(b, "RELEASE_LOCK row") == ":0");      // not b's to release
  CHECK(call(c, "RELEASE_LOCK nobody") == "$-1");  // nobody holds it
  CHECK(call(a, "RELEASE_LOCK row") == ":1");
  CHECK(call(b, "GET_LOCK row 0") == ":0");  // a still holds it once
  CHECK(call(a, "RELEASE_LOCK row") == ":1");
  CHECK(call(a, "RELEASE_LOCK row") == "$-1");
  CHECK(server.server().backend_stats().counter("threadpool_lock_holders") == 0);
  CHECK(call(b, "GET_LOCK row 1") == ":1");
  CHECK(call(b, "GET_LOCK other 1") == ":1");
  CHECK(call(b, "RELEASE_ALL_LOCKS") == ":2");
  CHECK(call(a, "GET_LOCK row x").rfind("-ERR GET_LOCK takes a timeout", 0) == 0);
}

TEST_CASE("a connection's GET_LOCK names are released when it disconnects or is killed") {
  KvServer server(pool_options());
  TestClient waiter(server.port(), 30s);
  {
    TestClient holder(server.port(), 30s);
    CHECK(call(holder, "GET_LOCK row 5") == ":1");
    REQUIRE(waiter.send("GET_LOCK row 20\r\n"));
    std::this_thread::sleep_for(100ms);
  }  // the holder disconnects
  CHECK(reply(waiter, 10s) == ":1");
  // The waiter holds it now; killed while idle, it gives it back.
  std::uint64_t waiter_id = client_id(waiter);
  TestClient next(server.port(), 30s);
  REQUIRE(next.send("GET_LOCK row 20\r\n"));
  std::this_thread::sleep_for(100ms);
  CHECK(server.server().kill(waiter_id));
  CHECK(waiter.wait_closed(10s));
  CHECK(reply(next, 10s) == ":1");
  // Killed while waiting for a name: the wait ends at once with an error, then the close.
  TestClient blocked(server.port(), 30s);
  std::uint64_t blocked_id = client_id(blocked);
  REQUIRE(blocked.send("GET_LOCK row 30\r\n"));
  std::this_thread::sleep_for(100ms);
  auto start = std::chrono::steady_clock::now();
  CHECK(server.server().kill(blocked_id));
  CHECK(blocked.wait_closed(10s));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(call(next, "RELEASE_LOCK row") == ":1");
}

// One group, max_threads 1 (a group still reaches 2 threads): two waiters occupy both
// threads inside GET_LOCK waits, the holder then asks to release.
namespace {
struct LockPileUp {
  std::chrono::milliseconds release_took{};
  int timeouts = 0;
  int acquired = 0;
};

LockPileUp pile_up(KvServer& server, int waiters) {
  LockPileUp result;
  TestClient holder(server.port(), 30s);
  REQUIRE(call(holder, "GET_LOCK row 60") == ":1");
  std::vector<TestClient> queue;
  for (int i = 0; i < waiters; ++i) {
    queue.emplace_back(server.port(), 30s);
    // Acquire, then release in the same batch: the waiter never holds it between requests.
    REQUIRE(queue.back().send("GET_LOCK row 3\r\nRELEASE_LOCK row\r\n"));
  }
  // Two threads blocked in GET_LOCK (the holder's own GET_LOCK counted a USER_LOCK wait
  // too, so the wait count alone would not say both waiters are in).
  const bool both_in = RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threadpool_waiting_threads") >= 2; },
      10s);
  if (!both_in) {
    auto stats = server.server().backend_stats();
    std::string state;
    for (const char* name :
         {"threadpool_threads", "threadpool_idle_threads", "threadpool_listener_threads",
          "threadpool_active_threads", "threadpool_waiting_threads", "threadpool_reserve_threads",
          "threadpool_lock_holders", "threadpool_connections",
          "threadpool_unreported_waiting_threads"}) {
      state += fmt::format("{}={} ", name, stats.counter(name));
    }
    for (const auto& column : stats.table("THREAD_POOL_STATS")->columns) {
      state += fmt::format("{}={} ", column, column_sum(stats, "THREAD_POOL_STATS", column));
    }
    state += fmt::format("USER_LOCK waits={}", waits_for(stats, "USER_LOCK"));
    MESSAGE(state);
  }
  REQUIRE(both_in);
  std::this_thread::sleep_for(200ms);  // every thread the pool may make is now waiting
  auto start = std::chrono::steady_clock::now();
  std::string released = call(holder, "RELEASE_LOCK row", 30s);
  result.release_took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  CHECK(released == ":1");
  for (auto& w : queue) {
    std::string got = reply(w, 30s);
    if (got == ":1") {
      ++result.acquired;
      CHECK(reply(w, 30s) == ":1");
    } else {
      CHECK(got == ":0");
      ++result.timeouts;
      std::string release = reply(w, 30s);  // 0: someone else holds it; nil: nobody does
      CHECK((release == ":0" || release == "$-1"));
    }
  }
  return result;
}

std::map<std::string, std::string> tight(const char* reserve) {
  return {{"thread_pool_size", "1"},
          {"thread_pool_max_threads", "1"},
          {"thread_pool_max_threads_reserve", reserve}};
}
}  // namespace

TEST_CASE("with thread_pool_max_threads_reserve=0 a lock holder cannot release: MDEV-38219") {
  KvServer server(pool_options(tight("0")));
  LockPileUp r = pile_up(server, 4);
  INFO("RELEASE_LOCK took " << r.release_took.count() << " ms");
  // The holder's request ran only once a waiter gave up (its 3 s timeout): a deadlock
  // that the lock timeout breaks.
  CHECK(r.release_took >= 2s);
  CHECK(r.timeouts >= 1);
  CHECK(stat(server.server(), "RESERVE_THREAD_CREATIONS_TOTAL") == 0);
  CHECK(server.server().backend_stats().counter("threadpool_max_threads_reached_total") >= 1);
}

TEST_CASE("with the default reserve the holder always runs its release, and nobody times out") {
  KvServer server(pool_options(tight("1")));
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    LockPileUp r = pile_up(server, 4);
    INFO("RELEASE_LOCK took " << r.release_took.count() << " ms");
    CHECK(r.release_took < 1500ms);
    CHECK(r.timeouts == 0);
    CHECK(r.acquired == 4);
  }
  // The reserve ran the holder's requests only, and exactly those.
  CHECK(stat(server.server(), "RESERVE_THREAD_CREATIONS_TOTAL") >= 1);
  CHECK(stat(server.server(), "RESERVE_DEQUEUES_TOTAL") >= 1);
  CHECK(stat(server.server(), "RESERVE_DEQUEUES_TOTAL") <= 3);
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threadpool_reserve_threads") == 0; }));
}

TEST_CASE("the reserve is never used by connections that hold no lock") {
  KvServer server(pool_options(tight("1")));
  std::vector<TestClient> sleepers;
  for (int i = 0; i < 6; ++i) {
    sleepers.emplace_back(server.port(), 30s);
    REQUIRE(sleepers.back().send("SLEEP 300\r\n"));
  }
  for (auto& s : sleepers) CHECK(reply(s, 30s) == "+OK");
  auto stats = server.server().backend_stats();
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "RESERVE_THREAD_CREATIONS_TOTAL") == 0);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "RESERVE_DEQUEUES_TOTAL") == 0);
  CHECK(column_sum(stats, "THREAD_POOL_STATS", "THREAD_CREATIONS_TOTAL") <= 2);
}

TEST_CASE("a lock holder's request is queued above high priority") {
  // One thread at a time, busy with a long request; the holder's request and an
  // in-transaction one queue behind it: the holder's is shown (and run) first.
  KvServer server(pool_options(mariadb_only({{"thread_pool_size", "1"},
                                             {"thread_pool_oversubscribe", "0"},
                                             {"thread_pool_stall_limit", "60000"},
                                             {"thread_pool_dedicated_listener", "on"}})));
  TestClient holder(server.port(), 30s), tx(server.port(), 30s), hog(server.port(), 30s);
  REQUIRE(call(holder, "GET_LOCK row 10") == ":1");
  REQUIRE(call(tx, "MULTI") == "+OK");
  REQUIRE(hog.send("BURN 800000\r\n"));
  std::this_thread::sleep_for(100ms);
  REQUIRE(tx.send("PING\r\n"));
  std::this_thread::sleep_for(50ms);
  REQUIRE(holder.send("PING\r\n"));
  REQUIRE(RunningServer::eventually(
      [&] { return column_sum(server.server(), "THREAD_POOL_GROUPS", "QUEUE_LENGTH") == 2; }));
  auto stats = server.server().backend_stats();
  const StatsTable* queues = stats.table("THREAD_POOL_QUEUES");
  REQUIRE(queues != nullptr);
  REQUIRE(queues->rows.size() == 2);
  CHECK(int_cell(*queues, 0, "PRIORITY") == 2);  // the lock holder's, first
  CHECK(int_cell(*queues, 1, "PRIORITY") == 0);  // the transaction's
  CHECK(reply(holder, 30s) == "+PONG");
  CHECK(reply(tx, 30s) == "+QUEUED");
  CHECK(reply(hog, 30s).rfind(":", 0) == 0);
}
