// File: schedulers/pool_of_threads/pool_timer.cc
//
// The timer thread (MariaDB's timer_thread and check_stall). Every stall limit it
// looks for stalled groups and groups without a listener; more often (every
// kTimerResolutionMs at most) it moves old normal-priority entries up and closes
// connections idle past wait_timeout. Each group is visited under its own mutex only,
// and only the due part of its deadline set is touched, never every connection.
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "pool.h"

namespace connsched::pool {

namespace {
// wait_timeout and kick-up are checked at least this often, whatever the stall limit.
constexpr std::int64_t kTimerResolutionMs = 100;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// True when input, EOF or an error is waiting: the client is not idle, whatever its
// deadline says (the listener is about to queue it).
bool has_pending_input(int fd) {
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}
}  // namespace

// Ticks are measured from the previous stall check, so a change of the stall limit
// applies at once (set_option wakes the timer), and the thread never sleeps longer
// than kTimerResolutionMs so that timeouts and kick-up stay prompt.
void Pool::timer_main() {
  std::int64_t next_stall_check = svc_->now_ms() + settings_.stall_limit_ms.load();
  std::unique_lock lock(timer_mutex_);
  while (!timer_stop_) {
    std::int64_t now = svc_->now_ms();
    std::int64_t sleep_ms = std::clamp<std::int64_t>(next_stall_check - now, 1, kTimerResolutionMs);
    timer_wake_.wait_for(lock, std::chrono::milliseconds(sleep_ms),
                         [&] { return timer_stop_ || timer_reschedule_; });
    if (timer_stop_) break;
    now = svc_->now_ms();
    if (timer_reschedule_) {
      timer_reschedule_ = false;
      next_stall_check = std::min(next_stall_check, now + settings_.stall_limit_ms.load());
    }
    bool stall_tick = now >= next_stall_check;
    if (stall_tick) next_stall_check = now + settings_.stall_limit_ms.load();
    lock.unlock();
    for (std::size_t i = 0; i < created_groups(); ++i) check_group(group(i), now, stall_tick);
    threads_.reap();
    lock.lock();
  }
}

// Everything for one group under one hold of its mutex; the kills wait until it is
// released (kill_connection takes core's registry lock, which comes first).
void Pool::check_group(ThreadGroup& g, std::int64_t now_ms, bool stall_tick) {
  std::vector<std::uint64_t> expired;
  {
    std::lock_guard lock(g.mutex);
    kick_up(g, now_us());
    expire_idle(g, now_ms, expired);
    if (stall_tick) check_stall(g, now_ms);
    if (must_exit(g) && g.thread_count > 0) tell_threads_to_exit(g);
  }
  for (std::uint64_t id : expired) kill_timed_out(id);
}

// MariaDB's check_stall, plus one thing it lacks: a thread on the same request for a
// whole stall limit is marked stuck and stops counting against oversubscribe, so the
// group can run its queue meanwhile. Then: a group with connections but no listener
// and no polled event since the last tick gets a thread (which will listen); a group
// whose queue did not move for a whole tick is stalled: its limit is lifted until a
// thread takes work, and a thread is woken or created.
void Pool::check_stall(ThreadGroup& g, std::int64_t now_ms) {
  const std::int64_t stall_limit = settings_.stall_limit_ms.load();
  for (Worker* w : g.workers) {
    if (w->request_start_ms != 0 && !w->in_wait && !w->stuck &&
        now_ms - w->request_start_ms >= stall_limit) {
      w->stuck = true;
      ++g.stuck_count;
    }
  }
  if (g.connection_count == 0) {
    g.io_event_count = 0;
    g.queue_event_count = 0;
    return;
  }
  if (g.listener == nullptr && g.io_event_count == 0) {
    wake_or_create_thread(g, true, now_ms * 1000);
    return;
  }
  g.io_event_count = 0;
  if (!g.queue_empty() && g.queue_event_count == 0) {
    g.stalled = true;
    ++g.counters.stalls;
    wake_or_create_thread(g, true, now_ms * 1000);
  }
  g.queue_event_count = 0;
}

// Anti-starvation (MariaDB's thread_pool_prio_kickup_timer): normal entries that
// waited that long join the tail of the high-priority queue, oldest first.
void Pool::kick_up(ThreadGroup& g, std::int64_t now) {
  const std::int64_t kickup_us = settings_.prio_kickup_ms.load() * 1000;
  while (PoolConnection* c = g.queues[kNormalPriority].front()) {
    if (now - c->enqueue_us < kickup_us) break;
    g.promote(*c);
  }
}

// wait_timeout, from the due end of the group's deadline set only. A connection that
// is queued or running is not idle (MariaDB once killed queued ones: research §4.8)
// and gets a fresh entry when it is re-armed; a key that is stale because input came
// since is re-inserted at the real deadline. An idle connection past its deadline is
// disarmed first and then checked for input that raced in: only a silent socket is
// condemned (kTimingOut), and killed once the mutex is released.
void Pool::expire_idle(ThreadGroup& g, std::int64_t now_ms, std::vector<std::uint64_t>& expired) {
  while (!g.deadlines.empty()) {
    auto [key, id] = *g.deadlines.begin();
    if (key > now_ms) break;
    g.deadlines.erase(g.deadlines.begin());
    auto it = g.members.find(id);
    if (it == g.members.end()) continue;
    PoolConnection& c = *it->second;
    c.has_deadline = false;
    if (c.state != ConnState::kIdle) continue;
    std::int64_t deadline = svc_->conn_idle_deadline_ms(c.conn);
    if (deadline > now_ms) {
      g.add_deadline(c, deadline);
      continue;
    }
    g.disarm(c);
    if (has_pending_input(c.fd)) {
      g.arm(c);
      continue;
    }
    c.state = ConnState::kTimingOut;
    expired.push_back(id);
  }
}

// Core marks it, shuts its socket and calls post_kill_notification, which queues it;
// if core did not (it was killed already), it is queued here. Either way a worker
// runs it, do_command says close, and it is handed back.
void Pool::kill_timed_out(std::uint64_t id) {
  if (svc_->kill_connection(svc_, id, CONNSCHED_KILL_TIMEOUT) != 0) {
    wait_timeouts_.fetch_add(1, std::memory_order_relaxed);
  }
  std::lock_guard lock(index_mutex_);
  auto it = index_.find(id);
  if (it == index_.end()) return;
  PoolConnection& c = *it->second;
  with_connection_locked(c, [&](ThreadGroup& g) {
    if (c.state == ConnState::kTimingOut) requeue_killed(c, g);
  });
}

}  // namespace connsched::pool
