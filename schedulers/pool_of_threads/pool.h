// File: schedulers/pool_of_threads/pool.h
//
// The pool-of-threads backend's state and decisions: MariaDB's TP_pool_generic
// (threadpool_generic.cc) rebuilt on the connsched ABI. Where the decisions live:
//   pool.cc        connections in and out, get_event, the listener, waits, kill,
//                  thread creation and wake-ups
//   pool_timer.cc  the timer: stalls, missing listeners, kick-up, unreported waits,
//                  demotion (core closes connections idle past wait_timeout)
//   pool_stats.cc  status counters and the THREAD_POOL_* tables
//
// Lock order (never the reverse): core's registry lock -> a group's mutex -> (worker
// thread list, log rate limit). No pool lock is held while calling
// services->do_command, end_connection or kill_connection.
#ifndef CONNSCHED_POOL_OF_THREADS_POOL_H_
#define CONNSCHED_POOL_OF_THREADS_POOL_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connsched/scheduler_abi.h"
#include "pool_connection.h"
#include "settings.h"
#include "thread_group.h"
#include "worker_threads.h"

namespace connsched::pool_of_threads {

class Pool {
 public:
  /// Loads the options, makes thread_pool_size groups and starts the timer; groups get
  /// their first thread with their first connection. Throws to refuse init (an option
  /// that does not fit, an epoll set that cannot be made).
  explicit Pool(const connsched_services* services);
  /// Stops the timer, tells every group to shut down, joins every thread.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // The ABI's members (see scheduler_abi.h for who calls them, when, with which locks),
  // wired by backend::scheduler_descriptor.
  bool add_connection(connsched_conn* conn);
  void wait_begin(connsched_conn* conn, int type);
  void wait_end(connsched_conn* conn);
  void post_kill_notification(connsched_conn* conn);
  void release_connection(connsched_conn* conn);
  /// Applies a run-time option; returns an error message, empty on success.
  std::string set_option(const char* name, const char* value);
  void stats(const connsched_stats_sink& sink);

 private:
  // pool.cc
  ThreadGroup& group(std::size_t index) { return *groups_[index]; }
  std::size_t created_groups() const { return created_groups_.load(std::memory_order_acquire); }
  void resize(std::size_t count);
  bool must_exit(const ThreadGroup& g) const;
  void tell_threads_to_exit(ThreadGroup& g);
  bool too_many_threads(const ThreadGroup& g, bool caller_is_active) const;
  void enqueue(ThreadGroup& g, PoolConnection& c, std::int64_t now_us);
  bool holds_locks(const PoolConnection& c) const;
  void note_lock_holder(ThreadGroup& g, PoolConnection& c, bool holds);
  bool may_use_reserve(const ThreadGroup& g) const;
  void react_to_queue_age(ThreadGroup& g, std::int64_t now_us);
  void end_request(ThreadGroup& g, Worker& self);
  bool queue_events(ThreadGroup& g, const PollEvent* events, int count, bool* woken);
  bool input_left(const PoolConnection& c) const;
  PollerKind choose_poller(PollerKind wanted);
  void worker_main(ThreadGroup& g, bool reserve);
  PoolConnection* get_event(ThreadGroup& g, Worker& self);
  void begin_request(ThreadGroup& g, Worker& self, PoolConnection& c);
  PoolConnection* listen(ThreadGroup& g, Worker& self, std::unique_lock<std::mutex>& lock,
                         bool holders_only);
  // The listener's fast path (thread_pool_listener_runs).
  PoolConnection* continue_batch(ThreadGroup& g, Worker& self, std::unique_lock<std::mutex>& lock);
  bool runs_as_listener(const ThreadGroup& g) const;
  bool listener_runs_batch(const ThreadGroup& g, const Worker& self) const;
  /// `w` stops being the listener mid-batch; with `wake`, a thread is woken or made to
  /// take the role (returns whether one was).
  bool hand_off_listener(ThreadGroup& g, Worker& w, bool wake, bool due_to_stall = false);
  void serve(PoolConnection& c);
  void rearm(PoolConnection& c, std::int64_t started_us, bool for_output);
  ThreadGroup& move_to_group(PoolConnection& c, ThreadGroup& from, std::size_t to,
                             std::unique_lock<std::mutex>& lock);
  /// `started_us`: when the request that ends it began (its service time), or 0.
  /// `hand_back`: a switch of thread_handling asked for it (return_connection, not
  /// end_connection).
  void close_connection(PoolConnection& c, std::int64_t started_us = 0, bool hand_back = false);
  void queue_for_release(ThreadGroup& g, PoolConnection& c);
  /// `tick_us`: the timer's tick time when it asks (due_to_stall), else 0 (now).
  bool wake_or_create_thread(ThreadGroup& g, bool due_to_stall, std::int64_t tick_us = 0);
  bool find_thread(ThreadGroup& g, bool due_to_stall, std::int64_t tick_us);
  bool wake_thread(ThreadGroup& g, bool due_to_stall);
  bool create_worker(ThreadGroup& g, bool due_to_stall, std::int64_t decided_us);
  void report_max_threads_reached(const ThreadGroup& g);
  void log(int level, const std::string& message) const;
  void wake_timer();
  template <typename Fn>
  void with_connection_locked(PoolConnection& c, Fn&& fn);
  void requeue_killed(PoolConnection& c, ThreadGroup& g);

  // pool_timer.cc
  void timer_main();
  std::int64_t fast_tick_us() const;
  /// Returns true while the group runs a request (the timer then ticks fast).
  bool check_group(ThreadGroup& g, std::int64_t now_ms, bool stall_tick);
  bool watch_requests(ThreadGroup& g, std::int64_t now_ms, std::int64_t now_us);
  void replace_blocked_thread(ThreadGroup& g);
  void presume_wait(ThreadGroup& g, Worker& w);
  void settle_presumption(PoolConnection& c, Worker& w);
  void poll_for_absent_listener(ThreadGroup& g);
  void check_stall(ThreadGroup& g, std::int64_t now_ms);
  void kick_up(ThreadGroup& g, std::int64_t now_us);

  const connsched_services* const svc_;
  const bool svc_has_holds_locks_;  // ABI 1.2's conn_holds_locks is there
  const bool svc_has_read_capped_;  // ABI 1.2's conn_read_capped is there
  Settings settings_;
  PollerKind poller_kind_ = PollerKind::kEpoll;  // decided by init: never kAuto

  // Groups are created on demand and never destroyed before the pool: a group past
  // thread_pool_size ("retired") keeps serving its connections until each moves on
  // its next request, then its threads exit.
  std::vector<std::unique_ptr<ThreadGroup>> groups_;  // kMaxGroups slots
  std::atomic<std::size_t> created_groups_{0};
  std::atomic<std::size_t> group_count_{0};  // thread_pool_size now
  std::mutex resize_mutex_;

  std::atomic<std::int64_t> total_threads_{0};
  std::array<std::atomic<std::uint64_t>, CONNSCHED_WAIT_TYPE_COUNT> waits_{};
  std::atomic<std::uint64_t> max_threads_reached_{0};
  std::atomic<std::uint64_t> connections_moved_{0};
  std::atomic<std::uint64_t> output_waits_{0};  // re-arms for output

  // "Pool blocked" reporting: at once, then at most every kBlockedLogIntervalMs.
  std::mutex blocked_log_mutex_;
  std::int64_t blocked_logged_ms_ = 0;
  std::uint64_t blocked_unlogged_ = 0;

  WorkerThreads threads_;

  std::mutex timer_mutex_;
  std::condition_variable timer_wake_;
  bool timer_stop_ = false;
  bool timer_reschedule_ = false;
  std::jthread timer_;  // last: started once everything above exists
};

// Locks the group `c` belongs to, re-checking after the lock: the connection may have
// moved between reading its group and locking it.
template <typename Fn>
void Pool::with_connection_locked(PoolConnection& c, Fn&& fn) {
  while (true) {
    std::size_t index = c.group.load();
    ThreadGroup& g = group(index);
    std::lock_guard lock(g.mutex);
    if (c.group.load() != index) continue;
    fn(g);
    return;
  }
}

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_POOL_H_
