// File: schedulers/pool_of_threads/thread_group.h
//
// One thread group (MariaDB's thread_group_t): a mutex, a poller (epoll or io_uring:
// poller.h) watching its idle connections, a high- and a normal-priority queue, the LIFO list of
// standby threads, at most one listener, and the counters the timer and the stats read. Everything
// here is guarded by `mutex`; the pool (pool.cc) holds the decisions, this file only
// the data and the small operations on it.
#ifndef CONNSCHED_POOL_OF_THREADS_THREAD_GROUP_H_
#define CONNSCHED_POOL_OF_THREADS_THREAD_GROUP_H_

#include <sys/types.h>
#include <time.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "connsched/log_histogram.h"
#include "poller.h"
#include "pool_connection.h"
#include "standby_list.h"

namespace connsched::pool_of_threads {

/// A pool thread as its group sees it (MariaDB's worker_thread_t). Lives on the
/// thread's own stack; the group only points at it while the thread is registered.
struct Worker {
  std::condition_variable wake;          // its own: waking one standby thread wakes exactly it
  bool woken = false;                    // set by whoever popped it from the standby list
  bool in_wait = false;                  // inside wait_begin/wait_end, or detected as waiting
  bool stuck = false;                    // counted in stuck_threads (running for > stall limit)
  bool reserve = false;                  // above max_threads: serves lock holders only
  bool demoted = false;                  // at thread_pool_demote_nice until its request ends
  bool unreported_wait = false;          // in_wait because its CPU clock stood still
  bool presumed_wait = false;            // unreported_wait from its connection's last request
  PoolConnection* connection = nullptr;  // the one it runs, until its request ends
  std::int64_t request_cpu_ns = 0;       // its CPU clock when the request began
  std::int64_t request_start_ms = 0;     // 0: not running a request
  pid_t tid = 0;                         // for the timer to change its CPU priority
  clockid_t cpu_clock{};                 // its thread CPU clock (pthread_getcpuclockid)
  bool has_cpu_clock = false;
  std::int64_t cpu_ns = 0;           // the clock at the timer's last sample (kUnsampled)
  std::int64_t cpu_progress_us = 0;  // when that clock last moved (or was first sampled)
  // The listener's fast path (thread_pool_listener_runs): while `runs_batch`, this thread
  // is the group's listener and runs the requests of its last poll itself.
  bool runs_batch = false;
  int batch_count = 0;              // requests run since the last poll
  std::int64_t batch_start_us = 0;  // when that poll returned
};

/// Worker::cpu_ns and request_cpu_ns before the timer's first sample of a request: the
/// clock is read by the timer, not on every request (a system call each).
inline constexpr std::int64_t kUnsampled = -2;

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
  // Beyond MariaDB:
  std::uint64_t queue_age_wakeups = 0;     // threads woken or made for an old queue, or to
                                           // listen while the listener's request runs long
  std::uint64_t reserve_creations = 0;     // threads made above max_threads for lock holders
  std::uint64_t reserve_dequeues = 0;      // lock holders' requests run by those threads
  std::uint64_t demotions = 0;             // requests moved to a lower CPU priority
  std::uint64_t demotion_retirements = 0;  // threads that exited: priority not restorable
  std::uint64_t unreported_waits = 0;      // requests found blocked without wait_begin
  std::uint64_t timer_polls = 0;           // polls by the timer (no listener)
  std::uint64_t refires = 0;               // events kept for a running connection (multishot)
  std::uint64_t listener_requests = 0;     // requests the listener ran in its batches
  std::uint64_t listener_handoffs = 0;     // times the listener role passed mid-batch
  // Context switches of the group's threads that have exited (the live ones are read
  // from /proc when the stats are asked for).
  std::uint64_t exited_voluntary_switches = 0;
  std::uint64_t exited_involuntary_switches = 0;
};

/// Queue wait per priority and service time, in microseconds, per group.
struct GroupLatency {
  LogHistogram queue_wait[kQueueCount];
  LogHistogram service;
};

class ThreadGroup {
 public:
  /// Makes the group's poller (`kind` is not kAuto); throws std::system_error,
  /// or PollerUnavailable.
  ThreadGroup(std::size_t group_index, PollerKind kind);
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;

  const std::size_t index;
  std::mutex mutex;

  // --- everything below: guarded by `mutex` ---
  ConnectionQueue queues[kQueueCount];  // [kHighPriority], [kNormalPriority], [kLockHolder...]
  StandbyList<Worker> standby;
  std::vector<Worker*> workers;  // every registered thread of the group
  Worker* listener = nullptr;
  int thread_count = 0;
  int active_count = 0;   // threads not asleep, not listening, not in a wait
  int waiting_count = 0;  // threads inside wait_begin/wait_end
  int stuck_count = 0;    // active threads on one request for over a stall limit
  int connection_count = 0;
  int holder_count = 0;   // connections holding a lock between requests
  int reserve_count = 0;  // threads above max_threads (Worker::reserve)
  std::unordered_map<std::uint64_t, PoolConnection*> members;  // by connection id
  std::uint64_t io_event_count = 0;     // events polled since the last stall check
  std::uint64_t queue_event_count = 0;  // dequeues since the last stall check
  std::int64_t last_thread_creation_us = 0;
  std::int64_t queue_age_reacted_us = 0;  // the last reaction to an old queue
  bool shutdown = false;
  bool stalled = false;
  GroupCounters counters;
  GroupLatency latency;

  bool queue_empty() const { return queues[0].empty() && queues[1].empty() && queues[2].empty(); }
  std::size_t queue_length() const {
    return queues[0].size() + queues[1].size() + queues[2].size();
  }
  /// When the oldest entry of any queue was queued; 0 when every queue is empty.
  std::int64_t oldest_enqueue_us() const;
  /// Appends `c` to a queue and marks it queued.
  void enqueue(PoolConnection& c, int priority, std::int64_t now_us);
  /// The next connection to run, lock holders first, then high priority; marks it
  /// running and counts its wait.
  PoolConnection* dequeue(std::int64_t now_us);
  /// The next lock holder to run, or nullptr (what a reserve thread may take).
  PoolConnection* dequeue_lock_holder(std::int64_t now_us);
  /// Moves `c` from the normal to the high-priority queue (kick-up, kill).
  void promote(PoolConnection& c);

  /// Registers `c` with the poller (or re-arms it) for one readable event, or with
  /// `for_output` for one writable event (a reply waits for the socket).
  bool arm(PoolConnection& c, bool for_output = false);
  /// Takes `c` out of the poller (it is moving to another group or closing).
  void unregister(PoolConnection& c);
  /// True when a registration stays armed while its connection runs (io_uring): an
  /// event for a running connection is then kept (PoolConnection::refire).
  bool multishot() const { return poller_->multishot(); }
  const Poller& poller() const { return *poller_; }

  /// Fills `events` without blocking (timeout_ms 0) or blocking; returns the count or -1.
  int poll(PollEvent* events, int max_events, int timeout_ms) {
    return poller_->poll(events, max_events, timeout_ms);
  }
  /// Makes the listener's poll return (shutdown, retirement).
  void wake_listener() { poller_->wake(); }
  /// Clears a wake-up the listener has seen.
  void clear_wake() { poller_->clear_wake(); }

 private:
  std::unique_ptr<Poller> poller_;
};

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_THREAD_GROUP_H_
