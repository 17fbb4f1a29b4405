// File: test/backends/pool_of_threads/pool_reaction_test.cc
//
// The pool beyond MariaDB's stall tick: a queue that ages gets a thread at once; a long
// request is demoted to a lower CPU priority (and its thread never serves the next request
// so); a request that blocks without saying so is found from its thread's CPU clock,
// while a pure CPU burn never is. Each test sets the stall limit far beyond what it
// waits, so the tick cannot be what helped, and reads the pool's own counters.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kv_test_support.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
std::int64_t stat(Server& server, const char* column) {
  return column_sum(server, "THREAD_POOL_STATS", column);
}

// Everything the reaction tests turn off unless they test it.
std::map<std::string, std::string> quiet(std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> options{{"thread_pool_size", "1"},
                                             {"thread_pool_stall_limit", "60000"},
                                             {"thread_pool_queue_age_limit", "0"},
                                             {"thread_pool_demote_long_requests", "off"},
                                             {"thread_pool_unreported_wait_limit", "0"}};
  for (auto& [k, v] : extra) options[k] = v;
  return options;
}

// The scheduling policy and nice value of the calling thread, as "policy/nice".
std::string own_priority() {
  errno = 0;
  int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
  return fmt::format("{}/{}", ::sched_getscheduler(0), nice);
}

// How many threads of this process run at nice `nice` (field 19 of their stat).
int threads_at_nice(int nice) {
  int count = 0;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream in(fmt::format("/proc/self/task/{}/stat", entry->d_name));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    for (int i = 3; i <= 19 && (fields >> field); ++i) {
      if (i == 19 && field == std::to_string(nice)) ++count;
    }
  }
  ::closedir(dir);
  return count;
}

// Lines: "burn <us>" spins that long (wall time), then answers the priority it ran at
// by then; "prio" answers the priority it runs at.
class PrioritySession final : public Session {
 public:
  std::size_t handle(std::string_view in, Reply& out, RequestContext&) override {
    auto nl = in.find('\n');
    if (nl == std::string_view::npos) return 0;
    std::string line(in.substr(0, nl));
    if (line.rfind("burn ", 0) == 0) burn_cpu_us(std::stol(line.substr(5)));
    out.append(own_priority() + "\n");
    return nl + 1;
  }
};
class PriorityProtocol final : public Protocol {
 public:
  std::unique_ptr<Session> new_session() override { return std::make_unique<PrioritySession>(); }
  std::string too_many_connections_reply() const override { return "full\n"; }
  std::string request_too_large_reply(std::size_t) const override { return "large\n"; }
  std::string internal_error_reply(std::string_view) const override { return "error\n"; }
};
}  // namespace

TEST_CASE(
    "a group whose queue ages past thread_pool_queue_age_limit gets a thread before the tick") {
  for (const char* limit : {"5", "0"}) {
    CAPTURE(limit);
    // One thread, on a 1.5 s request: the group has no listener and nothing frees a
    // thread before the request ends (the stall tick is a minute away).
    RunningServer server(pool_options(quiet({{"thread_pool_queue_age_limit", limit}})));
    TestClient hog(server.port(), 30s), shorty(server.port(), 30s);
    REQUIRE(hog.send("burn 1500000\n"));
    REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    std::this_thread::sleep_for(50ms);
    auto start = std::chrono::steady_clock::now();
    REQUIRE(shorty.send("echo short\n"));
    CHECK(shorty.read_line(30s) == "short");
    auto waited = std::chrono::steady_clock::now() - start;
    bool hog_running = server.probe().running.load() >= 1;
    CHECK(hog.read_line(30s) == "ok");
    auto stats = server.server().backend_stats();
    CHECK(column_sum(stats, "THREAD_POOL_STATS", "STALLS_TOTAL") == 0);
    CHECK(column_sum(stats, "THREAD_POOL_STATS", "THREAD_CREATIONS_DUE_TO_STALL_TOTAL") == 0);
    if (std::string(limit) == "5") {
      CHECK(column_sum(stats, "THREAD_POOL_STATS", "QUEUE_AGE_WAKEUPS_TOTAL") >= 1);
      CHECK(hog_running);  // answered while the long request still ran
      CHECK(waited < 1000ms);
    } else {
      // Switched off: the short request waited for the long one (MariaDB's behaviour
      // until its stall tick).
      CHECK(column_sum(stats, "THREAD_POOL_STATS", "QUEUE_AGE_WAKEUPS_TOTAL") == 0);
      CHECK(waited >= 1000ms);
    }
  }
}

TEST_CASE("a request past thread_pool_demote_limit runs at a lower priority; the next never does") {
  RunningServer server(pool_options(quiet({{"thread_pool_demote_long_requests", "on"},
                                           {"thread_pool_demote_limit", "50"},
                                           {"thread_pool_demote_nice", "13"}})),
                       std::make_unique<PriorityProtocol>());
  const std::string normal = fmt::format("{}/0", SCHED_OTHER);
  TestClient client(server.port(), 30s), other(server.port(), 30s);
  CHECK(client.request("prio") == normal);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    REQUIRE(client.send("burn 400000\n"));
    CHECK(RunningServer::eventually([&] { return threads_at_nice(13) == 1; }, 5s));
    // The burn ended at nice 13: it was demoted while it ran.
    CHECK(client.read_line(30s) == fmt::format("{}/13", SCHED_OTHER));
    // Whatever thread serves next (the demoted one included) runs at normal priority.
    CHECK(client.request("prio") == normal);
    CHECK(other.request("prio") == normal);
  }
  CHECK(stat(server.server(), "DEMOTIONS_TOTAL") == 3);
  CHECK(RunningServer::eventually([&] { return threads_at_nice(13) == 0; }, 5s));
}

TEST_CASE("with thread_pool_demote_long_requests off a long request keeps its priority") {
  RunningServer server(pool_options(quiet({{"thread_pool_demote_limit", "20"}})),
                       std::make_unique<PriorityProtocol>());
  TestClient client(server.port(), 30s);
  CHECK(client.request("burn 200000", 30s) == fmt::format("{}/0", SCHED_OTHER));
  CHECK(stat(server.server(), "DEMOTIONS_TOTAL") == 0);
}

TEST_CASE("an unreported NAP is detected and another thread serves the queue") {
  for (const char* limit : {"5", "0"}) {
    CAPTURE(limit);
    KvServer server(pool_options(quiet({{"thread_pool_unreported_wait_limit", limit}})));
    TestClient napper(server.port(), 30s), pinger(server.port(), 30s);
    REQUIRE(napper.send("NAP 1500\r\n"));
    std::this_thread::sleep_for(100ms);
    auto start = std::chrono::steady_clock::now();
    CHECK(call(pinger, "PING", 30s) == "+PONG");
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(reply(napper, 30s) == "+OK");
    auto stats = server.server().backend_stats();
    CHECK(column_sum(stats, "THREAD_POOL_STATS", "STALLS_TOTAL") == 0);
    if (std::string(limit) == "5") {
      CHECK(column_sum(stats, "THREAD_POOL_STATS", "UNREPORTED_WAITS_TOTAL") >= 1);
      CHECK(waited < 1000ms);  // while the nap still ran
    } else {
      CHECK(column_sum(stats, "THREAD_POOL_STATS", "UNREPORTED_WAITS_TOTAL") == 0);
      CHECK(waited >= 1000ms);
    }
    // After the nap the thread counts as active again: nothing is left counted waiting.
    CHECK(RunningServer::eventually([&] {
      return server.server().backend_stats().counter("threadpool_waiting_threads") == 0;
    }));
  }
}

TEST_CASE("a pure CPU burn is never mistaken for blocking, even when it waits for a CPU") {
  // Three burners on one group of a machine with few cores: each is often runnable but
  // not running (its CPU clock then stands still too); none may count as waiting.
  KvServer server(pool_options(
      quiet({{"thread_pool_unreported_wait_limit", "2"}, {"thread_pool_oversubscribe", "8"}})));
  std::vector<TestClient> burners;
  for (int i = 0; i < 3; ++i) {
    burners.emplace_back(server.port(), 60s);
    REQUIRE(burners.back().send("BURN 700000\r\n"));
  }
  for (auto& b : burners) CHECK(reply(b, 60s).rfind(":", 0) == 0);
  CHECK(stat(server.server(), "UNREPORTED_WAITS_TOTAL") == 0);
}

TEST_CASE("naps found blocked get their threads at once while another thread is busy") {
  // One connection burns the CPU for the whole test, so the group always has an active
  // thread; sixteen connections then NAP 1500 ms in parallel. The queue's age gets the
  // group its first threads; after that a thread found blocked is a reported wait for
  // thread creation: each nap's replacement is made at once, not at the throttle's pace
  // (past 4 threads, one per stall tick: a minute here), so every nap runs at the same
  // time and all end in about one nap's time, where throttled they ran 3 at a time.
  constexpr int kNappers = 16;
  KvServer server(pool_options(
      quiet({{"thread_pool_unreported_wait_limit", "5"}, {"thread_pool_queue_age_limit", "5"}})));
  TestClient burner(server.port(), 60s);
  REQUIRE(burner.send("BURN 4000000\r\n"));
  std::this_thread::sleep_for(100ms);
  std::vector<TestClient> nappers;
  for (int i = 0; i < kNappers; ++i) nappers.emplace_back(server.port(), 60s);
  auto start = std::chrono::steady_clock::now();
  for (auto& n : nappers) REQUIRE(n.send("NAP 1500\r\n"));
  for (auto& n : nappers) CHECK(reply(n, 60s) == "+OK");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < 3000ms);  // throttled, the last naps would start a minute later
  CHECK(stat(server.server(), "UNREPORTED_WAITS_TOTAL") >= kNappers);
  CHECK(stat(server.server(), "STALLS_TOTAL") == 0);
  CHECK(reply(burner, 60s).rfind(":", 0) == 0);
}

TEST_CASE("a connection whose last request was found blocked counts as waiting from its next") {
  // One request may run at a time (oversubscribe 0) and detection takes a second. The
  // first NAP is found blocked only after that second; the second NAP of the same
  // connection counts as waiting from the start, so a PING sent meanwhile is answered
  // at once instead of after the detection limit.
  KvServer server(pool_options(
      quiet({{"thread_pool_unreported_wait_limit", "1000"}, {"thread_pool_oversubscribe", "0"}})));
  TestClient napper(server.port(), 30s), pinger(server.port(), 30s);
  CHECK(call(pinger, "PING", 30s) == "+PONG");
  CHECK(call(napper, "NAP 1500", 30s) == "+OK");
  CHECK(stat(server.server(), "UNREPORTED_WAITS_TOTAL") == 1);
  REQUIRE(napper.send("NAP 2500\r\n"));
  std::this_thread::sleep_for(100ms);
  auto start = std::chrono::steady_clock::now();
  CHECK(call(pinger, "PING", 30s) == "+PONG");
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited < 700ms);  // not held until the nap is detected (a second in)
  CHECK(reply(napper, 30s) == "+OK");
  // A short request afterwards clears the mark: the PING after it is not presumed.
  CHECK(call(napper, "PING", 30s) == "+PONG");
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threadpool_waiting_threads") == 0; }));
}
