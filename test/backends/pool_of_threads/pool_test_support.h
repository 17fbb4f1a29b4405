// File: test/backends/pool_of_threads/pool_test_support.h
//
// What the pool-of-threads tests share: a server on the pool with given options, and
// readers for the backend's counters and THREAD_POOL_* tables.
#ifndef CONNSCHED_TEST_POOL_OF_THREADS_POOL_TEST_SUPPORT_H_
#define CONNSCHED_TEST_POOL_OF_THREADS_POOL_TEST_SUPPORT_H_

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "running_server.h"

namespace connsched::testing {

/// The poller every pool-of-threads test runs with: CONNSCHED_TEST_POLLER (epoll or
/// io_uring), set by test/backends/pool_of_threads/CMakeLists.txt, which registers each
/// test once per poller; epoll when unset.
inline std::string test_poller() {
  const char* poller = std::getenv("CONNSCHED_TEST_POLLER");
  return poller != nullptr && *poller != '\0' ? poller : "epoll";
}

/// Test options for pool-of-threads with these backend options (underscore names), on
/// the test's poller unless `backend` names one.
inline ServerOptions pool_options(const std::map<std::string, std::string>& backend = {}) {
  ServerOptions options = test_options("pool-of-threads");
  options.backend_options = backend;
  options.backend_options.emplace("thread_pool_poller", test_poller());
  return options;
}

/// `backend` with the mechanisms beyond MariaDB switched off (queue-age reaction,
/// demotion, unreported-wait detection): for tests of MariaDB's own mechanisms (the
/// stall tick, kick-up, queue order, throttling), which those would otherwise pre-empt.
inline std::map<std::string, std::string> mariadb_only(std::map<std::string, std::string> backend) {
  backend.emplace("thread_pool_queue_age_limit", "0");
  backend.emplace("thread_pool_demote_long_requests", "off");
  backend.emplace("thread_pool_unreported_wait_limit", "0");
  return backend;
}

/// A cell as an integer (NULL and text read as nullopt).
inline std::optional<std::int64_t> int_cell(const StatsTable& table, std::size_t row,
                                            const std::string& column) {
  auto it = std::find(table.columns.begin(), table.columns.end(), column);
  if (it == table.columns.end() || row >= table.rows.size()) return std::nullopt;
  const StatValue& v = table.rows[row][static_cast<std::size_t>(it - table.columns.begin())];
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  return std::nullopt;
}

/// The sum of an integer column over every row of a table (0 when it is missing).
inline std::int64_t column_sum(const BackendStats& stats, const std::string& table,
                               const std::string& column) {
  const StatsTable* t = stats.table(table);
  if (t == nullptr) return 0;
  std::int64_t sum = 0;
  for (std::size_t r = 0; r < t->rows.size(); ++r) sum += int_cell(*t, r, column).value_or(0);
  return sum;
}

inline std::int64_t column_sum(Server& server, const std::string& table,
                               const std::string& column) {
  return column_sum(server.backend_stats(), table, column);
}

/// THREAD_POOL_WAITS' count for one reason (e.g. "SLEEP").
inline std::int64_t waits_for(const BackendStats& stats, const std::string& reason) {
  const StatsTable* t = stats.table("THREAD_POOL_WAITS");
  if (t == nullptr) return -1;
  for (const auto& row : t->rows) {
    if (std::get_if<std::string>(&row[0]) && std::get<std::string>(row[0]) == reason) {
      return std::get<std::int64_t>(row[1]);
    }
  }
  return -1;
}

/// Raises this process's open-file soft limit to at least `wanted` (capped by the hard
/// limit); returns the limit now in force.
inline rlim_t raise_fd_limit(rlim_t wanted) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

/// The position of `entry` in the probe's recorded order, or -1.
inline int order_of(Probe& probe, const std::string& entry) {
  std::lock_guard lock(probe.order_mutex);
  auto it = std::find(probe.order.begin(), probe.order.end(), entry);
  return it == probe.order.end() ? -1 : static_cast<int>(it - probe.order.begin());
}

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_POOL_OF_THREADS_POOL_TEST_SUPPORT_H_
