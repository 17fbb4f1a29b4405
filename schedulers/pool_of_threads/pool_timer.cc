// File: schedulers/pool_of_threads/pool_timer.cc
//
// The timer thread (MariaDB's timer_thread and check_stall). Every stall limit it
// looks for stalled groups and groups without a listener; more often (every
// kTimerResolutionMs at most) it moves old normal-priority entries up, and while a
// group runs requests it watches them for demotion and unreported blocking. Each group
// is visited under its own mutex only. wait_timeout is core's (server_core.cc,
// check_idle), as for every backend.
#include <algorithm>
#include <chrono>

#include "connsched/clock.h"
#include "pool.h"
#include "thread_priority.h"

namespace connsched::pool_of_threads {

namespace {
// Kick-up is checked at least this often, whatever the stall limit.
constexpr std::int64_t kTimerResolutionMs = 100;
constexpr std::int64_t kFastestTickUs = 250;
// Events the timer takes in one poll of a group that has no listener.
constexpr int kTimerPollEvents = 64;
}  // namespace

// Ticks are measured from the previous stall check, so a change of the stall limit
// applies at once (set_option wakes the timer), and the thread never sleeps longer
// than kTimerResolutionMs so that kick-up stays prompt. While any group
// runs a request it ticks fast (fast_tick_us): that is when queues age, requests grow
// long and threads block unreported; an idle server keeps the slow tick.
void Pool::timer_main() {
  std::int64_t next_stall_check = svc_->now_ms() + settings_.stall_limit_ms.load();
  bool busy = false;
  std::unique_lock lock(timer_mutex_);
  while (!timer_stop_) {
    std::int64_t now = svc_->now_ms();
    std::int64_t sleep_us = std::clamp<std::int64_t>(
        (next_stall_check - now) * 1000, 1000, busy ? fast_tick_us() : kTimerResolutionMs * 1000);
    if (busy) sleep_us = std::min(sleep_us, fast_tick_us());
    timer_wake_.wait_for(lock, std::chrono::microseconds(sleep_us),
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
    busy = false;
    for (std::size_t i = 0; i < created_groups(); ++i) {
      if (check_group(group(i), now, stall_tick)) busy = true;
    }
    threads_.reap();
    lock.lock();
  }
}

// Half the shortest of the limits the fast tick serves, so each is noticed within
// 1.5 times itself; never slower than the slow tick, never faster than kFastestTickUs.
std::int64_t Pool::fast_tick_us() const {
  std::int64_t shortest = kTimerResolutionMs * 2;
  for (std::int64_t limit : {settings_.queue_age_limit_ms.load(std::memory_order_relaxed),
                             settings_.unreported_wait_limit_ms.load(std::memory_order_relaxed),
                             settings_.demote_long_requests.load(std::memory_order_relaxed)
                                 ? settings_.demote_limit_ms.load(std::memory_order_relaxed)
                                 : 0}) {
    if (limit > 0) shortest = std::min(shortest, limit);
  }
  return std::clamp<std::int64_t>(shortest * 1000 / 2, kFastestTickUs, kTimerResolutionMs * 1000);
}

// Everything for one group under one hold of its mutex.
bool Pool::check_group(ThreadGroup& g, std::int64_t now_ms, bool stall_tick) {
  std::lock_guard lock(g.mutex);
  const std::int64_t now = now_us();
  kick_up(g, now);
  const bool busy = watch_requests(g, now_ms, now);
  if (busy) poll_for_absent_listener(g);
  react_to_queue_age(g, now);
  if (stall_tick) check_stall(g, now_ms);
  if (must_exit(g) && g.thread_count > 0) tell_threads_to_exit(g);
  return busy;
}

// What the timer watches on each running request, beyond MariaDB:
//  - demotion: a request on its thread for thread_pool_demote_limit is moved to
//    thread_pool_demote_nice (thread_priority.cc) and stops counting as active, so the short
//    requests on the group's other threads win the CPU; its thread restores itself
//    (or retires) when the request ends (get_event);
//  - unreported blocking (the idea of Go's sysmon): a request whose thread CPU clock
//    has not moved for thread_pool_unreported_wait_limit, and whose thread is not
//    runnable (a busy CPU also stops the clock), is counted as waiting, exactly as if
//    it had called wait_begin, so the group may run another thread; it counts as
//    active again when its clock moves or its request ends;
//  - the listener's batch (thread_pool_listener_runs): while the listener runs a
//    request nobody polls the group, so one past thread_pool_queue_age_limit (the stall
//    limit when that is off) hands the role to another thread, as an old queue gets one.
// Returns true when the group runs any request.
bool Pool::watch_requests(ThreadGroup& g, std::int64_t now_ms, std::int64_t now) {
  const bool demote = settings_.demote_long_requests.load(std::memory_order_relaxed);
  const std::int64_t demote_limit = settings_.demote_limit_ms.load(std::memory_order_relaxed);
  const std::int64_t still_us =
      settings_.unreported_wait_limit_ms.load(std::memory_order_relaxed) * 1000;
  const std::int64_t stall_limit = settings_.stall_limit_ms.load(std::memory_order_relaxed);
  const std::int64_t age_limit = settings_.queue_age_limit_ms.load(std::memory_order_relaxed);
  const bool handoff_at_age = age_limit > 0 && age_limit < stall_limit;
  const std::int64_t handoff_limit = handoff_at_age ? age_limit : stall_limit;
  bool busy = false;
  for (Worker* w : g.workers) {
    if (w->request_start_ms == 0) continue;
    busy = true;
    if (w->runs_batch && now_ms - w->request_start_ms >= handoff_limit &&
        hand_off_listener(g, *w, true, !handoff_at_age) && handoff_at_age) {
      ++g.counters.queue_age_wakeups;
    }
    if (demote && !w->demoted && !w->in_wait && now_ms - w->request_start_ms >= demote_limit &&
        demote_thread(w->tid, static_cast<int>(settings_.demote_nice.load()))) {
      w->demoted = true;
      ++g.counters.demotions;
      if (!w->stuck) {
        w->stuck = true;
        ++g.stuck_count;
      }
    }
    if (still_us <= 0 || !w->has_cpu_clock || (w->in_wait && !w->unreported_wait)) continue;
    const std::int64_t cpu = cpu_clock_ns(w->cpu_clock);
    if (w->cpu_ns == kUnsampled) {
      // The request's first look (begin_request leaves the clock unread): its stillness
      // is counted from here.
      w->cpu_ns = w->request_cpu_ns = cpu;
      w->cpu_progress_us = now;
      continue;
    }
    if (cpu != w->cpu_ns) {
      // A presumed wait stands while the thread uses less than half the CPU time since
      // the last sample (a few microseconds to parse, then asleep), or has used under
      // kPresumedCpuNs in all (a parse slowed down by a loaded machine or a sanitizer is
      // not yet running); more is running.
      constexpr std::int64_t kPresumedCpuNs = 5'000'000;
      const bool running =
          !w->presumed_wait || ((cpu - w->cpu_ns) * 2 >= (now - w->cpu_progress_us) * 1000 &&
                                cpu - w->request_cpu_ns >= kPresumedCpuNs);
      w->cpu_ns = cpu;
      w->cpu_progress_us = now;
      if (w->unreported_wait && running) {  // running again
        if (w->presumed_wait && w->connection != nullptr) w->connection->blocks_unreported = false;
        w->presumed_wait = false;
        w->unreported_wait = false;
        w->in_wait = false;
        ++g.active_count;
        --g.waiting_count;
      }
      continue;
    }
    if (w->in_wait || now - w->cpu_progress_us < still_us) continue;
    if (thread_runnable(w->tid)) {
      w->cpu_progress_us = now;  // preempted, not blocked
      continue;
    }
    w->in_wait = true;
    w->unreported_wait = true;
    --g.active_count;
    ++g.waiting_count;
    if (w->stuck) {
      w->stuck = false;
      --g.stuck_count;
    }
    ++g.counters.unreported_waits;
    if (w->connection != nullptr) w->connection->blocks_unreported = true;
    if (w->runs_batch) hand_off_listener(g, *w, false);  // replaced just below
    if (!g.queue_empty() || g.listener == nullptr) replace_blocked_thread(g);
  }
  return busy;
}

// A thread found blocked is a reported wait that came late, and its replacement is made
// as wait_begin's is: at once, not at the throttle's pace. The throttle guards against a
// storm of threads competing for the CPU, and a blocked thread uses none; waiting for it
// while any other thread of the group is active grew the pool to 28 threads in 10 s
// where the same load with the wait reported grew it to 505 (docs/benchmarks.md,
// unreported). One replacement per blocked request, and only while the group runs fewer
// than its oversubscribe limit, never more threads than connections or max_threads.
void Pool::replace_blocked_thread(ThreadGroup& g) {
  if (g.shutdown || too_many_threads(g, false)) return;
  if (wake_thread(g, false)) return;
  if (g.thread_count > g.connection_count) return;
  create_worker(g, false, now_us());
}

// A connection whose last request was found blocked will likely block again (the same
// command): its next request's thread counts as waiting from the start, as a reported
// wait's does from wait_begin. Without it, each thread about to sleep unseen counted
// against the oversubscribe limit until the timer found it, which capped a group at
// oversubscribe + 1 request starts per detection limit (2,000 NAP 10 a second where
// SLEEP 10, reported, ran 8,500: docs/benchmarks.md, unreported). The timer takes the
// presumption back as soon as the thread uses CPU (watch_requests).
void Pool::presume_wait(ThreadGroup& g, Worker& w) {
  if (!w.has_cpu_clock || settings_.unreported_wait_limit_ms.load(std::memory_order_relaxed) <= 0)
    return;
  w.in_wait = true;
  w.unreported_wait = true;
  w.presumed_wait = true;
  --g.active_count;
  ++g.waiting_count;
  if (w.runs_batch) hand_off_listener(g, w, false);  // replaced just below
  if (!g.queue_empty() || g.listener == nullptr) replace_blocked_thread(g);
}

// When a presumed request ends: the mark stays only if the request was long (past the
// detection limit) and mostly off the CPU, so a connection that moved on to short or
// CPU-bound requests loses it. Called with the connection's group mutex held, before
// it can be queued again; the worker lets go of it here.
void Pool::settle_presumption(PoolConnection& c, Worker& w) {
  if (w.presumed_wait && w.has_cpu_clock) {
    const std::int64_t wall_us = now_us() - w.request_start_ms * 1000;
    const std::int64_t cpu_us = (cpu_clock_ns(w.cpu_clock) - w.request_cpu_ns) / 1000;
    const std::int64_t limit_us =
        settings_.unreported_wait_limit_ms.load(std::memory_order_relaxed) * 1000;
    c.blocks_unreported = wall_us >= limit_us && cpu_us * 2 < wall_us;
  }
  w.connection = nullptr;
}

// A group whose threads are all on requests has no listener: what its clients send
// stays in the poller, unseen, until a request ends or the stall tick. The timer
// queues it meanwhile (without blocking), so its age counts and it gets a thread.
void Pool::poll_for_absent_listener(ThreadGroup& g) {
  if (g.listener != nullptr || g.connection_count == 0 || g.shutdown) return;
  PollEvent events[kTimerPollEvents];
  int n = g.poll(events, kTimerPollEvents, 0);
  if (n <= 0) return;
  ++g.counters.timer_polls;
  bool woken = false;
  queue_events(g, events, n, &woken);
  if (woken) g.clear_wake();
  if (g.active_count == 0 && !g.queue_empty()) wake_or_create_thread(g, false);
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

}  // namespace connsched::pool_of_threads
