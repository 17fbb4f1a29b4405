// File: schedulers/pool_of_threads/thread_group.h
//
// One thread group (MariaDB's thread_group_t): a mutex, an epoll set of its idle
// connections, a high- and a normal-priority queue, the LIFO list of standby threads,
// at most one listener, and the counters the timer and the stats read. Everything
// here is guarded by `mutex`; the pool (pool.cc) holds the decisions, this file only
// the data and the small operations on it.
#ifndef CONNSCHED_POOL_OF_THREADS_THREAD_GROUP_H_
#define CONNSCHED_POOL_OF_THREADS_THREAD_GROUP_H_

#include <sys/epoll.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pool_connection.h"
#include "standby_list.h"

namespace connsched::pool {

/// A file descriptor closed on destruction.
class OwnedFd {
 public:
  explicit OwnedFd(int fd = -1) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

/// A pool thread as its group sees it (MariaDB's worker_thread_t). Lives on the
/// thread's own stack; the group only points at it while the thread is registered.
struct Worker {
  std::condition_variable wake;       // its own: waking one standby thread wakes exactly it
  bool woken = false;                 // set by whoever popped it from the standby list
  bool in_wait = false;               // inside wait_begin/wait_end
  bool stuck = false;                 // counted in stuck_threads (running for > stall limit)
  std::int64_t request_start_ms = 0;  // 0: not running a request
};

/// THREAD_POOL_STATS, per group.
struct GroupCounters {
  std::uint64_t thread_creations = 0;
  std::uint64_t thread_creations_due_to_stall = 0;
  std::uint64_t wakes = 0;
  std::uint64_t wakes_due_to_stall = 0;
  std::uint64_t throttles = 0;
  std::uint64_t stalls = 0;
  std::uint64_t polls_by_listener = 0;
  std::uint64_t polls_by_worker = 0;
  std::uint64_t dequeues_by_listener = 0;
  std::uint64_t dequeues_by_worker = 0;
};

/// The epoll data of the group's wake-up eventfd (connection ids start at 1).
inline constexpr std::uint64_t kWakeEventId = UINT64_MAX;

class ThreadGroup {
 public:
  /// Makes the epoll set and the wake-up eventfd; throws std::system_error.
  explicit ThreadGroup(std::size_t group_index);
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;

  const std::size_t index;
  std::mutex mutex;

  // --- everything below: guarded by `mutex` ---
  ConnectionQueue queues[2];  // [kHighPriority], [kNormalPriority]
  StandbyList<Worker> standby;
  std::vector<Worker*> workers;  // every registered thread of the group
  Worker* listener = nullptr;
  int thread_count = 0;
  int active_count = 0;   // threads not asleep, not listening, not in a wait
  int waiting_count = 0;  // threads inside wait_begin/wait_end
  int stuck_count = 0;    // active threads on one request for over a stall limit
  int connection_count = 0;
  std::unordered_map<std::uint64_t, PoolConnection*> members;  // by connection id
  std::set<std::pair<std::int64_t, std::uint64_t>> deadlines;  // (idle deadline ms, id)
  std::uint64_t io_event_count = 0;     // events polled since the last stall check
  std::uint64_t queue_event_count = 0;  // dequeues since the last stall check
  std::int64_t last_thread_creation_us = 0;
  bool shutdown = false;
  bool stalled = false;
  GroupCounters counters;

  bool queue_empty() const { return queues[0].empty() && queues[1].empty(); }
  std::size_t queue_length() const { return queues[0].size() + queues[1].size(); }
  /// Appends `c` to a queue and marks it queued.
  void enqueue(PoolConnection& c, int priority, std::int64_t now_us);
  /// The next connection to run, high priority first; marks it running.
  PoolConnection* dequeue();
  /// Moves `c` from the normal to the high-priority queue (kick-up, kill).
  void promote(PoolConnection& c);

  /// Registers `c` in the epoll set (or re-arms it) for one readable event.
  bool arm(PoolConnection& c);
  /// Takes `c` out of the epoll set (it is moving to another group or closing).
  void unregister(PoolConnection& c);
  /// Keeps `c` registered but deaf: no event until arm() again.
  void disarm(PoolConnection& c);

  /// Tracks `c`'s idle deadline (at most one entry per connection).
  void add_deadline(PoolConnection& c, std::int64_t deadline_ms);
  void remove_deadline(PoolConnection& c);

  /// Fills `events` without blocking (timeout_ms 0) or blocking; returns the count or -1.
  int poll(epoll_event* events, int max_events, int timeout_ms) const;
  /// Makes the listener's epoll_wait return (shutdown, retirement).
  void wake_listener() const;
  /// Clears a wake-up the listener has seen.
  void clear_wake() const;

 private:
  OwnedFd epoll_fd_;
  OwnedFd wake_fd_;
};

}  // namespace connsched::pool

#endif  // CONNSCHED_POOL_OF_THREADS_THREAD_GROUP_H_
