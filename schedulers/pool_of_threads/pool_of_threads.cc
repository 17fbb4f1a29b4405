// File: schedulers/pool_of_threads/pool_of_threads.cc
//
// pool-of-threads: MariaDB's Unix thread pool. Connections are spread over
// thread_pool_size groups; each group serves its connections with a few threads that
// take turns listening on the group's epoll set and running requests, creating more
// threads only when a request blocks or the group stalls. Thousands of mostly idle
// connections cost a handful of threads. This file is the C ABI surface: the options
// (settings.h) and the descriptor, whose entry points the backend kit wraps so that no
// C++ exception reaches core.
#include "connsched/backend.h"
#include "pool.h"
#include "settings.h"

namespace connsched::pool_of_threads {
namespace {

constexpr auto kOptions = kOptionTable.descriptors();

// Replies that do not fit the socket wait for EPOLLOUT without a thread (rearm).
constexpr connsched_scheduler kPoolOfThreads = [] {
  auto d = backend::scheduler_descriptor<Pool>(
      "pool-of-threads", "MariaDB's thread pool: groups of threads sharing epoll sets and queues",
      kOptions.data(), 65536);
  d.flags = CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT;
  return d;
}();

}  // namespace
}  // namespace connsched::pool_of_threads

CONNSCHED_DEFINE_SCHEDULER(connsched::pool_of_threads::kPoolOfThreads)
