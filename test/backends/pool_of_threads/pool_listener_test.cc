// File: test/backends/pool_of_threads/pool_listener_test.cc
//
// The listener's fast path (thread_pool_listener_runs): the listener runs the requests of
// its poll itself, as an event loop does, and passes the listener role to another thread
// only when one is needed — a request past the queue-age limit (or the stall limit), a
// reported or unreported wait, a batch past its time. Each case also names what the
// counters show (THREAD_POOL_STATS: LISTENER_REQUESTS_TOTAL, LISTENER_HANDOFFS_TOTAL,
// WAKES_TOTAL, the context switches). Registered once per poller like every pool test.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "exclusive_protocol.h"
#include "kv_test_support.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

std::int64_t stat(Server& server, const char* column) {
  return column_sum(server, "THREAD_POOL_STATS", column);
}

// One group, and none of the signals that would hand the role on by themselves on a
// slow (sanitized, shared) machine: no queue-age or stall limit within the test, no
// unreported-wait detection, a batch time of 10 s. What is left is the fast path alone.
std::map<std::string, std::string> quiet_group(const char* runs) {
  return {{"thread_pool_size", "1"},
          {"thread_pool_listener_runs", runs},
          {"thread_pool_queue_age_limit", "0"},
          {"thread_pool_stall_limit", "60000"},
          {"thread_pool_unreported_wait_limit", "0"},
          {"thread_pool_demote_long_requests", "off"},
          {"thread_pool_listener_batch_time", "10000000"}};
}

// `clients` connections each sending `rounds` bursts of `burst` pipelined echoes at
// once, reading each burst's replies before the next: many connections ready in each
// poll. Returns how many connections got every reply, in order.
int echo_bursts(std::uint16_t port, int clients, int rounds, int burst) {
  std::vector<std::unique_ptr<TestClient>> sockets;
  for (int c = 0; c < clients; ++c) sockets.push_back(std::make_unique<TestClient>(port, 30s));
  std::atomic<int> complete{0};
  std::vector<std::jthread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      TestClient& client = *sockets[static_cast<std::size_t>(c)];
      for (int r = 0; r < rounds; ++r) {
        std::string out;
        for (int i = 0; i < burst; ++i) out += fmt::format("echo c{}r{}i{}\n", c, r, i);
        if (!client.send(out)) return;
        for (int i = 0; i < burst; ++i) {
          if (client.read_line(30s) != fmt::format("c{}r{}i{}", c, r, i)) return;
        }
      }
      complete.fetch_add(1);
    });
  }
  threads.clear();
  return complete.load();
}

}  // namespace

TEST_CASE("with only short requests the listener serves them all and no worker is woken") {
  RunningServer server(pool_options(quiet_group("on")));
  // The group's first thread exists (made for the first connection) and is the listener.
  {
    TestClient first(server.port(), 30s);
    REQUIRE(first.request("echo warm") == "warm");
  }
  const std::int64_t wakes = stat(server.server(), "WAKES_TOTAL");
  const std::int64_t creations = stat(server.server(), "THREAD_CREATIONS_TOTAL");
  const std::int64_t by_worker = stat(server.server(), "DEQUEUES_BY_WORKER_TOTAL");
  const std::int64_t by_listener = stat(server.server(), "LISTENER_REQUESTS_TOTAL");
  CHECK(echo_bursts(server.port(), 16, 20, 8) == 16);
  CHECK(stat(server.server(), "WAKES_TOTAL") == wakes);
  CHECK(stat(server.server(), "THREAD_CREATIONS_TOTAL") == creations);
  CHECK(stat(server.server(), "DEQUEUES_BY_WORKER_TOTAL") == by_worker);
  CHECK(stat(server.server(), "LISTENER_HANDOFFS_TOTAL") == 0);
  // Each burst's requests reach the server as one read or a few, one request each.
  CHECK(stat(server.server(), "LISTENER_REQUESTS_TOTAL") - by_listener >= 16 * 20);
  CHECK(server.server().backend_stats().counter("threadpool_threads") == 1);
  // The group's thread blocked in its poll between bursts: voluntary switches are counted.
  CHECK(stat(server.server(), "VOLUNTARY_CONTEXT_SWITCHES_TOTAL") > 0);
}

TEST_CASE(
    "thread_pool_listener_runs=off is MariaDB's listener: the rest of a poll goes to workers") {
  RunningServer server(pool_options(quiet_group("off")));
  {
    TestClient first(server.port(), 30s);
    REQUIRE(first.request("echo warm") == "warm");
  }
  CHECK(echo_bursts(server.port(), 16, 20, 8) == 16);
  // The listener ran the first event of each poll and gave up the role; the rest were
  // dequeued by a worker (the same thread, or one woken for it).
  CHECK(stat(server.server(), "LISTENER_REQUESTS_TOTAL") == 0);
  CHECK(stat(server.server(), "DEQUEUES_BY_WORKER_TOTAL") > 0);
  // And it can be switched on at run time: the next polls are run by the listener.
  REQUIRE(server.server().set_option("thread_pool_listener_runs", "on").empty());
  CHECK(echo_bursts(server.port(), 4, 5, 4) == 4);
  CHECK(stat(server.server(), "LISTENER_REQUESTS_TOTAL") > 0);
}

TEST_CASE("a long request in the listener's batch hands the role on within the queue-age limit") {
  // queue_age_limit 20 ms: the hand-off comes from the timer at 20 ms of the burn; with
  // the limit off it comes at the stall limit (300 ms here), never at the burn's end.
  for (const char* age_limit : {"20", "0"}) {
    CAPTURE(age_limit);
    auto options = quiet_group("on");
    options["thread_pool_queue_age_limit"] = age_limit;
    options["thread_pool_stall_limit"] = "300";
    RunningServer server(pool_options(options));
    TestClient hog(server.port(), 30s), shorty(server.port(), 30s);
    REQUIRE(shorty.request("echo warm") == "warm");
    REQUIRE(hog.send("burn 2000000\n"));
    REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    auto start = std::chrono::steady_clock::now();
    // Several short requests queued behind the burn: all answered by the new listener.
    for (int i = 0; i < 5; ++i) REQUIRE(shorty.send(fmt::format("echo s{}\n", i)));
    for (int i = 0; i < 5; ++i) CHECK(shorty.read_line(30s) == fmt::format("s{}", i));
    auto waited = std::chrono::steady_clock::now() - start;
    const bool hog_running = server.probe().running.load() >= 1;
    CHECK(hog.read_line(30s) == "ok");
    CHECK(hog_running);  // answered while the burn still ran
    CHECK(waited < 1500ms);
    CHECK(stat(server.server(), "LISTENER_HANDOFFS_TOTAL") >= 1);
    if (std::string(age_limit) == "20") {
      CHECK(stat(server.server(), "QUEUE_AGE_WAKEUPS_TOTAL") >= 1);
    } else {
      CHECK(stat(server.server(), "QUEUE_AGE_WAKEUPS_TOTAL") == 0);
      CHECK(waited >= 100ms);  // it waited for the stall limit
    }
  }
}

TEST_CASE("a wait inside the listener's batch hands the role on, as wait_begin does for a worker") {
  // No timer signal can explain an answer here (no queue-age, stall or unreported
  // limit within the test): only wait_begin's hand-off.
  RunningServer server(pool_options(quiet_group("on")));
  TestClient sleeper(server.port(), 30s), other(server.port(), 30s);
  REQUIRE(other.request("echo warm") == "warm");
  REQUIRE(sleeper.send("sleep 1500\n"));
  REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
  auto start = std::chrono::steady_clock::now();
  CHECK(other.request("echo during", 30s) == "during");
  CHECK(std::chrono::steady_clock::now() - start < 1000ms);
  CHECK(server.probe().running.load() == 1);  // the sleep still runs
  CHECK(sleeper.read_line(30s) == "ok");
  CHECK(stat(server.server(), "LISTENER_HANDOFFS_TOTAL") >= 1);
  CHECK(waits_for(server.server().backend_stats(), "SLEEP") == 1);
}

TEST_CASE("a request that blocks unreported inside the listener's batch hands the role on") {
  // kv_server's NAP sleeps without ScopedWait: the timer finds the thread's CPU clock
  // still and counts the request as waiting; the role passes with it.
  auto options = quiet_group("on");
  options["thread_pool_unreported_wait_limit"] = "20";
  KvServer server(pool_options(options));
  TestClient napper(server.port(), 30s), other(server.port(), 30s);
  REQUIRE(call(other, "PING") == "+PONG");
  REQUIRE(napper.send("NAP 1500\r\n"));
  std::this_thread::sleep_for(50ms);
  auto start = std::chrono::steady_clock::now();
  CHECK(call(other, "PING", 30s) == "+PONG");
  CHECK(std::chrono::steady_clock::now() - start < 1000ms);
  CHECK(reply(napper, 30s) == "+OK");
  CHECK(stat(server.server(), "UNREPORTED_WAITS_TOTAL") >= 1);
  CHECK(stat(server.server(), "LISTENER_HANDOFFS_TOTAL") >= 1);
}

TEST_CASE("the listener's batch runs high-priority requests before the normal ones it polled") {
  // The listener runs a burn; meanwhile three normal requests and one of a connection in
  // a transaction arrive, unseen (nobody else polls). When the burn ends, the listener
  // polls them all at once and runs the transaction's first.
  RunningServer server(pool_options(quiet_group("on")));
  TestClient hog(server.port(), 30s), tx(server.port(), 30s);
  std::vector<std::unique_ptr<TestClient>> normal;
  for (int i = 0; i < 3; ++i) normal.push_back(std::make_unique<TestClient>(server.port(), 30s));
  REQUIRE(tx.request("begin") == "ok");
  for (auto& n : normal) REQUIRE(n->request("echo warm") == "warm");
  REQUIRE(hog.send("burn 400000\n"));
  REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
  {
    std::lock_guard lock(server.probe().order_mutex);
    server.probe().order.clear();
  }
  server.probe().record.store(true);
  for (int i = 0; i < 3; ++i) REQUIRE(normal[static_cast<std::size_t>(i)]->send("echo normal\n"));
  std::this_thread::sleep_for(20ms);
  REQUIRE(tx.send("echo in-transaction\n"));
  CHECK(hog.read_line(30s) == "ok");
  CHECK(tx.read_line(30s) == "in-transaction");
  for (auto& n : normal) CHECK(n->read_line(30s) == "normal");
  std::vector<std::string> order;
  {
    std::lock_guard lock(server.probe().order_mutex);
    order = server.probe().order;
  }
  REQUIRE(order.size() == 4);
  CHECK(order[0].find("echo in-transaction") != std::string::npos);
  CHECK(stat(server.server(), "LISTENER_HANDOFFS_TOTAL") == 0);
  CHECK(stat(server.server(), "LISTENER_REQUESTS_TOTAL") >= 4);
}

TEST_CASE("the listener's batch runs a lock holder's request first") {
  // As above with kv_server: a lock holder's INCR and three others' arrive while the
  // listener runs a burn; the holder's runs first, so it counts 1.
  KvServer server(pool_options(quiet_group("on")));
  TestClient holder(server.port(), 30s), hog(server.port(), 30s);
  std::vector<std::unique_ptr<TestClient>> others;
  for (int i = 0; i < 3; ++i) others.push_back(std::make_unique<TestClient>(server.port(), 30s));
  REQUIRE(call(holder, "GET_LOCK row 10") == ":1");
  for (auto& o : others) REQUIRE(call(*o, "PING") == "+PONG");
  // (GET_LOCK reports a wait even when the name is free: that hand-off is not counted.)
  const std::int64_t handoffs = stat(server.server(), "LISTENER_HANDOFFS_TOTAL");
  const std::int64_t picked = stat(server.server(), "LISTENER_REQUESTS_TOTAL");
  REQUIRE(hog.send("BURN 400000\r\n"));
  // The listener took the burn (nothing else is sent meanwhile): it runs, nobody polls.
  REQUIRE(RunningServer::eventually(
      [&] { return stat(server.server(), "LISTENER_REQUESTS_TOTAL") == picked + 1; }));
  for (auto& o : others) REQUIRE(o->send("INCR order\r\n"));
  std::this_thread::sleep_for(20ms);
  REQUIRE(holder.send("INCR order\r\n"));
  CHECK(reply(hog, 30s).rfind(':', 0) == 0);
  CHECK(reply(holder, 30s) == ":1");
  for (auto& o : others) CHECK(reply(*o, 30s).rfind(':', 0) == 0);
  CHECK(stat(server.server(), "LISTENER_HANDOFFS_TOTAL") == handoffs);
  CHECK(call(holder, "RELEASE_LOCK row") == ":1");
}

TEST_CASE("one thread per connection at a time under many short pipelined requests") {
  // Small batches (a poll every 2 requests) and a short batch time, so that the listener
  // polls, hands off and takes the role back all the time while requests keep coming.
  for (const char* groups : {"1", "2"}) {
    CAPTURE(groups);
    auto overlaps = std::make_shared<Overlaps>();
    RunningServer server(pool_options({{"thread_pool_size", groups},
                                       {"thread_pool_oversubscribe", "4"},
                                       {"thread_pool_listener_batch", "2"},
                                       {"thread_pool_listener_batch_time", "100"}}),
                         std::make_unique<ExclusiveProtocol>(overlaps, 20));
    constexpr int kClients = 16;
    constexpr int kRequests = 300;
    std::atomic<int> in_order{0};
    {
      std::vector<std::jthread> clients;
      for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
          TestClient client(server.port(), 60s);
          for (int i = 0; i < kRequests; ++i) {
            if (!client.send(fmt::format("c{}r{}\n", c, i))) return;
            if (i % 10 == 9) std::this_thread::sleep_for(100us);
          }
          for (int i = 0; i < kRequests; ++i) {
            if (client.read_line(60s) != fmt::format("c{}r{}", c, i)) return;
          }
          in_order.fetch_add(1);
        });
      }
    }
    CHECK(in_order.load() == kClients);
    CHECK(overlaps->served.load() == kClients * kRequests);
    CHECK(overlaps->seen.load() == 0);
    CHECK(stat(server.server(), "LISTENER_REQUESTS_TOTAL") > 0);
  }
}
