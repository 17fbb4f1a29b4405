// File: test/backends/pool_of_threads/pool_latency_test.cc
//
// THREAD_POOL_LATENCY: per group, the queue wait of each priority (normal, high,
// lock holder) and the service time, as counts and percentiles of a log-linear
// histogram. Every dequeue is counted exactly once, and every served request once.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <thread>
#include <vector>

#include "kv_test_support.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
// Sum of `column` over the rows of one measure (and priority, when given).
std::int64_t latency_sum(const BackendStats& stats, const std::string& measure,
                         const std::string& priority, const std::string& column) {
  const StatsTable* t = stats.table("THREAD_POOL_LATENCY");
  if (t == nullptr) return -1;
  auto col = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(t->columns.begin(), t->columns.end(), name) -
                                    t->columns.begin());
  };
  std::int64_t sum = 0;
  for (std::size_t r = 0; r < t->rows.size(); ++r) {
    const auto& row = t->rows[r];
    if (std::get<std::string>(row[col("MEASURE")]) != measure) continue;
    if (!priority.empty() && std::get<std::string>(row[col("PRIORITY")]) != priority) continue;
    sum += int_cell(*t, r, column).value_or(0);
  }
  return sum;
}
}  // namespace

TEST_CASE("the latency histograms count every dequeue once, per priority, and every request") {
  KvServer server(pool_options({{"thread_pool_size", "2"}}));
  constexpr int kClients = 6, kRequests = 50;
  {
    std::vector<std::jthread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&, i] {
        TestClient c(server.port(), 30s);
        if (i == 0) REQUIRE(call(c, "GET_LOCK mine 5") == ":1");
        if (i == 1) REQUIRE(call(c, "MULTI") == "+OK");
        for (int n = 0; n < kRequests; ++n) {
          std::string r = call(c, n % 10 == 0 ? "BURN 2000" : "PING");
          CHECK((r == "+PONG" || r == "+QUEUED" || r.rfind(":", 0) == 0));
        }
        if (i == 1) CHECK(call(c, "DISCARD") == "+OK");
        if (i == 0) CHECK(call(c, "RELEASE_LOCK mine") == ":1");
      });
    }
  }
  // Each connection's close is one more dequeue (the EOF); wait until all are served.
  REQUIRE(RunningServer::eventually(
      [&] { return server.server().core_stats().connections_current == 0; }));
  auto stats = server.server().backend_stats();
  const std::int64_t dequeues =
      column_sum(stats, "THREAD_POOL_STATS", "DEQUEUES_BY_LISTENER_TOTAL") +
      column_sum(stats, "THREAD_POOL_STATS", "DEQUEUES_BY_WORKER_TOTAL");
  const std::int64_t waits = latency_sum(stats, "queue_wait", "", "COUNT_TOTAL");
  CHECK(waits == dequeues);
  CHECK(latency_sum(stats, "service", "", "COUNT_TOTAL") == dequeues);
  // Every request went through the queue once: 6 x 50, the lock and transaction
  // commands, and the closes.
  CHECK(dequeues >= kClients * kRequests + 4 + kClients);
  // The holder's requests (between GET_LOCK and RELEASE_LOCK) were queued as a lock
  // holder's; the transaction's as high priority.
  CHECK(latency_sum(stats, "queue_wait", "lock_holder", "COUNT_TOTAL") >= kRequests);
  CHECK(latency_sum(stats, "queue_wait", "high", "COUNT_TOTAL") >= kRequests);
  CHECK(latency_sum(stats, "queue_wait", "normal", "COUNT_TOTAL") >= (kClients - 2) * kRequests);
  // Service time: the BURN 2000 requests took at least 2 ms each, so the max is above.
  CHECK(latency_sum(stats, "service", "", "MAX_MICROSECONDS") >= 2000);
  CHECK(latency_sum(stats, "service", "", "P50_MICROSECONDS") <=
        latency_sum(stats, "service", "", "P99_MICROSECONDS"));

  // The Prometheus form (core's /metrics makes it a histogram): per series, cumulative
  // counts that never decrease, ending at "+Inf" with the same count.
  const StatsTable* h = stats.table("THREAD_POOL_LATENCY_SECONDS_HISTOGRAM");
  REQUIRE(h != nullptr);
  CHECK(h->columns == std::vector<std::string>{"GROUP_ID", "MEASURE", "PRIORITY", "LE", "COUNT",
                                               "SUM_MICROSECONDS"});
  std::int64_t previous = 0, at_infinity = 0;
  for (std::size_t r = 0; r < h->rows.size(); ++r) {
    std::int64_t count = int_cell(*h, r, "COUNT").value_or(-1);
    CHECK(count >= previous);
    previous = count;
    if (std::get<std::string>(h->rows[r][3]) == "+Inf") {
      at_infinity += count;
      previous = 0;
    }
  }
  CHECK(at_infinity == 2 * dequeues);  // queue waits and service times
}
