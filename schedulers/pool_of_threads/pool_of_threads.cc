// File: schedulers/pool_of_threads/pool_of_threads.cc
//
// pool-of-threads: MariaDB's Unix thread pool. Connections are spread over
// thread_pool_size groups; each group serves its connections with a few threads that
// take turns listening on the group's epoll set and running requests, creating more
// threads only when a request blocks or the group stalls. Thousands of mostly idle
// connections cost a handful of threads. This file is the C ABI surface: options,
// the descriptor, and thunks that keep C++ exceptions out of core.
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "connsched/scheduler_abi.h"
#include "pool.h"

namespace {

using connsched::pool::HighPrioMode;
using connsched::pool::kMaxGroups;
using connsched::pool::Pool;

Pool& pool_of(void* backend) {
  return *static_cast<Pool*>(backend);
}

void copy_error(char* err, size_t errlen, const std::string& message) {
  if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", message.c_str());
}

long long option_int(const connsched_services* svc, const char* name, long long fallback) {
  const char* value = svc->get_option(svc, name);
  return value ? std::atoll(value) : fallback;
}

// The CPUs this process may run on: its affinity mask (taskset, cpusets, a container's
// --cpuset-cpus), else every online CPU. One group per CPU it cannot use would only add
// listeners contending for the ones it can. A CFS quota (a container's --cpus) leaves
// the mask whole and is not seen here: set --thread-pool-size for it.
long long usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}

// thread_pool_size is declared without a default: unset means one group per usable
// CPU (MariaDB's MDEV-7806), which only init can know. Every other option arrives from
// core already validated against its declaration, and goes through set_option so the
// start-up and run-time paths are one.
int pool_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  try {
    long long size = option_int(svc, "thread_pool_size", 0);
    if (size <= 0) size = usable_cpus();
    size = std::min<long long>(size, static_cast<long long>(kMaxGroups));
    auto pool = std::make_unique<Pool>(svc, static_cast<std::size_t>(size));
    for (const char* name :
         {"thread_pool_oversubscribe", "thread_pool_stall_limit", "thread_pool_max_threads",
          "thread_pool_idle_timeout", "thread_pool_prio_kickup_timer", "thread_pool_high_prio_mode",
          "thread_pool_high_prio_tickets", "thread_pool_dedicated_listener",
          "thread_pool_max_threads_reserve", "thread_pool_queue_age_limit",
          "thread_pool_demote_long_requests", "thread_pool_demote_limit", "thread_pool_demote_nice",
          "thread_pool_unreported_wait_limit"}) {
      if (const char* value = svc->get_option(svc, name)) {
        if (std::string why = pool->set_option(name, value); !why.empty()) {
          copy_error(err, errlen, std::string(name) + ": " + why);
          return 1;
        }
      }
    }
    *backend = pool.release();
    return 0;
  } catch (const std::exception& e) {
    copy_error(err, errlen, e.what());
    return 1;
  }
}

// Refusing (nonzero) makes core close the connection and log it: the only failures
// are out of memory or an epoll set that will not take the socket.
int pool_add_connection(void* backend, connsched_conn* conn) {
  try {
    return pool_of(backend).add_connection(conn) ? 0 : 1;
  } catch (const std::exception&) {
    return 1;
  }
}

void pool_wait_begin(void* backend, connsched_conn* conn, int type) {
  pool_of(backend).wait_begin(conn, type);
}

void pool_wait_end(void* backend, connsched_conn* conn) {
  pool_of(backend).wait_end(conn);
}

void pool_post_kill_notification(void* backend, connsched_conn* conn) {
  pool_of(backend).post_kill_notification(conn);
}

// Core calls end after every connection ended: destroying the pool stops the timer
// and joins every thread.
void pool_end(void* backend) {
  std::unique_ptr<Pool> owned(static_cast<Pool*>(backend));
}

int pool_set_option(void* backend, const char* name, const char* value, char* err, size_t errlen) {
  try {
    std::string why = pool_of(backend).set_option(name, value);
    if (why.empty()) return 0;
    copy_error(err, errlen, why);
  } catch (const std::exception& e) {
    copy_error(err, errlen, e.what());
  }
  return 1;
}

void pool_stats(void* backend, const connsched_stats_sink* sink) {
  try {
    pool_of(backend).report(*sink);
  } catch (const std::exception&) {
  }
}

// MariaDB defaults thread_pool_stall_limit to 500 ms. A group's queue waits behind a
// long request for up to that long before the pool adds a thread, and a request shorter
// than the limit never counts as a stall, so 4 connections burning 200 ms each took a
// 2-group pool from 15,000 PINGs/s to 500 (docs/benchmarks.md, mixed). Stall detection
// needs a whole tick with nothing dequeued, so a pool that is merely busy (CPU-bound
// overload) is not stalled at any limit and does not grow; 100 ms costs 10 timer
// wake-ups a second and bounds how long a blocked group waits.
constexpr const char* kStallLimitDefault = "100";

constexpr connsched_option_desc kOptions[] = {
    {"thread_pool_size",
     "Thread groups; connection N is served by group N modulo this (default: the number of "
     "CPUs the server may run on). Changing it moves each connection after its next request",
     CONNSCHED_OPTION_INT, nullptr, 1, static_cast<int64_t>(kMaxGroups), nullptr, 1},
    {"thread_pool_oversubscribe",
     "Threads beyond one that a group lets run requests at once (0: exactly one)",
     CONNSCHED_OPTION_INT, "3", 0, 1000, nullptr, 1},
    {"thread_pool_stall_limit",
     "Milliseconds without progress after which a group counts as stalled and gets another "
     "thread; also the timer's tick and the throttling unit (MariaDB: 500)",
     CONNSCHED_OPTION_INT, kStallLimitDefault, 1, 4294967295LL, nullptr, 1},
    {"thread_pool_max_threads", "Most threads in the pool (each group may still reach 2)",
     CONNSCHED_OPTION_INT, "65536", 1, 65536, nullptr, 1},
    {"thread_pool_idle_timeout", "Seconds a standby thread waits for work before exiting",
     CONNSCHED_OPTION_INT, "60", 1, 4294967295LL, nullptr, 1},
    {"thread_pool_prio_kickup_timer",
     "Milliseconds after which a normal-priority queue entry moves to the high-priority queue",
     CONNSCHED_OPTION_INT, "1000", 0, 4294967295LL, nullptr, 1},
    {"thread_pool_high_prio_mode",
     "Which requests go to the high-priority queue: those of connections in a transaction, "
     "all, or none",
     CONNSCHED_OPTION_ENUM, "transactions", 0, 0, "transactions|statements|none", 1},
    {"thread_pool_high_prio_tickets",
     "High-priority entries a connection in a transaction gets in a row (0: none)",
     CONNSCHED_OPTION_INT, "4294967295", 0, 4294967295LL, nullptr, 1},
    {"thread_pool_dedicated_listener",
     "The listener only queues events and never runs requests itself", CONNSCHED_OPTION_BOOL, "off",
     0, 0, nullptr, 1},
    {"thread_pool_max_threads_reserve",
     "Threads each group may add above thread_pool_max_threads, only to run the requests of "
     "connections holding a lock between requests (0: MariaDB's behaviour, which can "
     "deadlock: MDEV-38219)",
     CONNSCHED_OPTION_INT, "1", 0, 1000, nullptr, 1},
    {"thread_pool_queue_age_limit",
     "Milliseconds a group's oldest queued request may wait while its threads are busy "
     "before the group gets another thread at once, not at the stall tick (0: off)",
     CONNSCHED_OPTION_INT, "5", 0, 4294967295LL, nullptr, 1},
    {"thread_pool_demote_long_requests",
     "A request on its thread for over thread_pool_demote_limit runs at a lower CPU priority "
     "(thread_pool_demote_nice) until it ends, so short requests win the CPU; where the "
     "priority cannot be raised again (no CAP_SYS_NICE, RLIMIT_NICE), its thread exits after it",
     CONNSCHED_OPTION_BOOL, "on", 0, 0, nullptr, 1},
    {"thread_pool_demote_limit", "Milliseconds on one request after which its thread is demoted",
     CONNSCHED_OPTION_INT, "100", 1, 4294967295LL, nullptr, 1},
    {"thread_pool_demote_nice", "The nice value a demoted request's thread runs at",
     CONNSCHED_OPTION_INT, "10", 1, 19, nullptr, 1},
    {"thread_pool_unreported_wait_limit",
     "Milliseconds a running request's thread CPU clock may stand still (the thread not "
     "runnable) before it counts as waiting, as if it had reported the wait (0: off)",
     CONNSCHED_OPTION_INT, "1", 0, 4294967295LL, nullptr, 1},
    {nullptr, nullptr, 0, nullptr, 0, 0, nullptr, 0},
};

constexpr connsched_scheduler kPoolOfThreads = [] {
  auto d = connsched_scheduler_header(
      "pool-of-threads", "MariaDB's thread pool: groups of threads sharing epoll sets and queues");
  d.max_threads = 65536;
  d.options = kOptions;
  d.init = pool_init;
  d.add_connection = pool_add_connection;
  d.wait_begin = pool_wait_begin;
  d.wait_end = pool_wait_end;
  d.post_kill_notification = pool_post_kill_notification;
  d.end = pool_end;
  d.set_option = pool_set_option;
  d.stats = pool_stats;
  d.flags = CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT;
  return d;
}();

}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kPoolOfThreads)
