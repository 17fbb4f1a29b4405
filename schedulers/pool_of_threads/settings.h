// File: schedulers/pool_of_threads/settings.h
//
// The pool's tunables, each declared once: its name, help, type, default, range and
// the setting it is stored in. The descriptor's option list, start-up loading and
// set_option all follow from kOptionTable. Every one may change at run time while
// threads read it, so each is an atomic read where it is used: a change applies from
// the next decision that looks at it (MariaDB's behaviour for its sys_vars).
#ifndef CONNSCHED_POOL_OF_THREADS_SETTINGS_H_
#define CONNSCHED_POOL_OF_THREADS_SETTINGS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "connsched/backend.h"

namespace connsched::pool_of_threads {

/// Most thread groups thread_pool_size may ask for (groups are made on demand).
inline constexpr std::size_t kMaxGroups = 1024;

/// thread_pool_high_prio_mode: the index of its choice.
enum class HighPrioMode : std::int64_t { kTransactions = 0, kStatements = 1, kNone = 2 };

// Every field is filled at start-up by kOptionTable.load from core's value (the declared
// default when not given), so none repeats its default here.
struct Settings {
  std::atomic<std::int64_t> size{};  // 0: unset (one group per usable CPU)
  std::atomic<std::int64_t> oversubscribe{};
  std::atomic<std::int64_t> stall_limit_ms{};
  std::atomic<std::int64_t> max_threads{};
  std::atomic<std::int64_t> idle_timeout_s{};
  std::atomic<std::int64_t> prio_kickup_ms{};
  std::atomic<std::int64_t> high_prio_mode{};  // HighPrioMode
  std::atomic<std::int64_t> high_prio_tickets{};
  std::atomic<std::int64_t> dedicated_listener{};
  /// Threads each group may run above max_threads, for lock holders only (MDEV-38219).
  std::atomic<std::int64_t> max_threads_reserve{};
  /// A queue older than this while the group's threads are busy gets a thread (0: off).
  std::atomic<std::int64_t> queue_age_limit_ms{};
  /// A request on one thread this long loses CPU priority (thread_pool_demote_*).
  std::atomic<std::int64_t> demote_long_requests{};
  std::atomic<std::int64_t> demote_limit_ms{};
  std::atomic<std::int64_t> demote_nice{};
  /// A running request whose thread CPU clock stands still this long counts as waiting
  /// (0: off).
  std::atomic<std::int64_t> unreported_wait_limit_ms{};
  /// thread_pool_poller (PollerKind), read once at start-up.
  std::atomic<std::int64_t> poller{};
  /// The listener runs the ready requests itself, in batches (thread_pool_listener_*).
  std::atomic<std::int64_t> listener_runs{};
  std::atomic<std::int64_t> listener_batch{};
  std::atomic<std::int64_t> listener_batch_time_us{};

  HighPrioMode prio_mode() const {
    return static_cast<HighPrioMode>(high_prio_mode.load(std::memory_order_relaxed));
  }
};

inline constexpr std::int64_t kUint32Max = 4294967295LL;

// thread_pool_size has no default: unset means one group per usable CPU (MariaDB's
// MDEV-7806), which only the pool's constructor can know.
//
// thread_pool_stall_limit is 100 ms, not MariaDB's 500. A group's queue waits behind a
// long request for up to that long before the pool adds a thread, and a request shorter
// than the limit never counts as a stall, so 4 connections burning 200 ms each took a
// 2-group pool from 15,000 PINGs/s to 500 (docs/benchmarks.md, mixed). Stall detection
// needs a whole tick with nothing dequeued, so a pool that is merely busy (CPU-bound
// overload) is not stalled at any limit and does not grow; 100 ms costs 10 timer
// wake-ups a second and bounds how long a blocked group waits.
inline constexpr backend::OptionTable<Settings, 19> kOptionTable{{{
    {"thread_pool_size",
     "Thread groups; connection N is served by group N modulo this (default: the number of "
     "CPUs the server may run on). Changing it moves each connection after its next request",
     CONNSCHED_OPTION_INT, nullptr, 1, static_cast<std::int64_t>(kMaxGroups), nullptr, true,
     &Settings::size},
    {"thread_pool_oversubscribe",
     "Threads beyond one that a group lets run requests at once (0: exactly one)",
     CONNSCHED_OPTION_INT, "3", 0, 1000, nullptr, true, &Settings::oversubscribe},
    {"thread_pool_stall_limit",
     "Milliseconds without progress after which a group counts as stalled and gets another "
     "thread; also the timer's tick and the throttling unit (MariaDB: 500)",
     CONNSCHED_OPTION_INT, "100", 1, kUint32Max, nullptr, true, &Settings::stall_limit_ms},
    {"thread_pool_max_threads", "Most threads in the pool (each group may still reach 2)",
     CONNSCHED_OPTION_INT, "65536", 1, 65536, nullptr, true, &Settings::max_threads},
    {"thread_pool_idle_timeout", "Seconds a standby thread waits for work before exiting",
     CONNSCHED_OPTION_INT, "60", 1, kUint32Max, nullptr, true, &Settings::idle_timeout_s},
    {"thread_pool_prio_kickup_timer",
     "Milliseconds after which a normal-priority queue entry moves to the high-priority queue",
     CONNSCHED_OPTION_INT, "1000", 0, kUint32Max, nullptr, true, &Settings::prio_kickup_ms},
    {"thread_pool_high_prio_mode",
     "Which requests go to the high-priority queue: those of connections in a transaction, "
     "all, or none",
     CONNSCHED_OPTION_ENUM, "transactions", 0, 0, "transactions|statements|none", true,
     &Settings::high_prio_mode},
    {"thread_pool_high_prio_tickets",
     "High-priority entries a connection in a transaction gets in a row (0: none)",
     CONNSCHED_OPTION_INT, "4294967295", 0, kUint32Max, nullptr, true,
     &Settings::high_prio_tickets},
    {"thread_pool_dedicated_listener",
     "The listener only queues events and never runs requests itself", CONNSCHED_OPTION_BOOL, "off",
     0, 0, nullptr, true, &Settings::dedicated_listener},
    {"thread_pool_max_threads_reserve",
     "Threads each group may add above thread_pool_max_threads, only to run the requests of "
     "connections holding a lock between requests (0: MariaDB's behaviour, which can "
     "deadlock: MDEV-38219)",
     CONNSCHED_OPTION_INT, "1", 0, 1000, nullptr, true, &Settings::max_threads_reserve},
    {"thread_pool_queue_age_limit",
     "Milliseconds a group's oldest queued request may wait while its threads are busy "
     "before the group gets another thread at once, not at the stall tick (0: off)",
     CONNSCHED_OPTION_INT, "5", 0, kUint32Max, nullptr, true, &Settings::queue_age_limit_ms},
    {"thread_pool_demote_long_requests",
     "A request on its thread for over thread_pool_demote_limit runs at a lower CPU priority "
     "(thread_pool_demote_nice) until it ends, so short requests win the CPU; where the "
     "priority cannot be raised again (no CAP_SYS_NICE, RLIMIT_NICE), its thread exits after it",
     CONNSCHED_OPTION_BOOL, "on", 0, 0, nullptr, true, &Settings::demote_long_requests},
    {"thread_pool_demote_limit", "Milliseconds on one request after which its thread is demoted",
     CONNSCHED_OPTION_INT, "100", 1, kUint32Max, nullptr, true, &Settings::demote_limit_ms},
    {"thread_pool_demote_nice", "The nice value a demoted request's thread runs at",
     CONNSCHED_OPTION_INT, "10", 1, 19, nullptr, true, &Settings::demote_nice},
    {"thread_pool_unreported_wait_limit",
     "Milliseconds a running request's thread CPU clock may stand still (the thread not "
     "runnable) before it counts as waiting, as if it had reported the wait (0: off)",
     CONNSCHED_OPTION_INT, "1", 0, kUint32Max, nullptr, true, &Settings::unreported_wait_limit_ms},
    {"thread_pool_poller",
     "How each group waits for its connections: epoll (edge-triggered, registered once, no "
     "re-arm), io_uring (multishot poll, no re-arm; refuses to start where the kernel or a "
     "seccomp profile does not allow io_uring), auto (io_uring where allowed, else epoll), or "
     "epoll_oneshot (one-shot, re-armed with epoll_ctl after every request: MariaDB's way)",
     CONNSCHED_OPTION_ENUM, "epoll", 0, 0, "epoll|io_uring|auto|epoll_oneshot", false,
     &Settings::poller},
    {"thread_pool_listener_runs",
     "The listener runs every ready request itself, in batches, and hands the queue to other "
     "threads only when one is needed: its batch took thread_pool_listener_batch_time, a "
     "request runs past thread_pool_queue_age_limit, waits, or blocks unreported (off: "
     "MariaDB's listener, which runs one event and leaves the rest to workers it wakes)",
     CONNSCHED_OPTION_BOOL, "on", 0, 0, nullptr, true, &Settings::listener_runs},
    {"thread_pool_listener_batch",
     "Requests the listener runs between two polls of its group, so new arrivals (and their "
     "priorities) are seen",
     CONNSCHED_OPTION_INT, "64", 1, 1024, nullptr, true, &Settings::listener_batch},
    {"thread_pool_listener_batch_time",
     "Microseconds a listener's batch may take; past it, with requests still queued, the "
     "listener role passes to another thread",
     CONNSCHED_OPTION_INT, "5000", 100, 10000000, nullptr, true, &Settings::listener_batch_time_us},
}}};

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_SETTINGS_H_
