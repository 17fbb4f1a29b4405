// File: schedulers/pool_of_threads/settings.h
//
// The pool's tunables. Every one may change at run time (set_option) while threads
// read them, so each is an atomic read where it is used: a change applies from the
// next decision that looks at it (MariaDB's behaviour for its sys_vars).
#ifndef CONNSCHED_POOL_OF_THREADS_SETTINGS_H_
#define CONNSCHED_POOL_OF_THREADS_SETTINGS_H_

#include <atomic>
#include <cstdint>

namespace connsched::pool {

/// thread_pool_high_prio_mode.
enum class HighPrioMode : int { kTransactions = 0, kStatements = 1, kNone = 2 };

struct Settings {
  std::atomic<std::int64_t> oversubscribe{3};
  /// 100, not MariaDB's 500: see kStallLimitDefault's comment in pool_of_threads.cc.
  std::atomic<std::int64_t> stall_limit_ms{100};
  std::atomic<std::int64_t> max_threads{65536};
  std::atomic<std::int64_t> idle_timeout_s{60};
  std::atomic<std::int64_t> prio_kickup_ms{1000};
  std::atomic<std::int64_t> high_prio_tickets{4294967295};
  std::atomic<HighPrioMode> high_prio_mode{HighPrioMode::kTransactions};
  std::atomic<bool> dedicated_listener{false};
  /// Threads each group may run above max_threads, for lock holders only (MDEV-38219).
  std::atomic<std::int64_t> max_threads_reserve{1};
  /// A queue older than this while the group's threads are busy gets a thread (0: off).
  std::atomic<std::int64_t> queue_age_limit_ms{5};
  /// A request on one thread this long loses CPU priority (thread_pool_demote_*).
  std::atomic<bool> demote_long_requests{true};
  std::atomic<std::int64_t> demote_limit_ms{100};
  std::atomic<std::int64_t> demote_nice{10};
  /// A running request whose thread CPU clock stands still this long counts as waiting
  /// (0: off).
  std::atomic<std::int64_t> unreported_wait_limit_ms{1};
};

}  // namespace connsched::pool

#endif  // CONNSCHED_POOL_OF_THREADS_SETTINGS_H_
