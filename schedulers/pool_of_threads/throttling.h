// File: schedulers/pool_of_threads/throttling.h
//
// How long a busy thread group waits between creating threads: MariaDB's
// microsecond_throttling_interval (sql/threadpool_generic.cc), made a pure function with
// a curve that means something.
//
// MariaDB 10.5+ multiplies 50/100/20 ms by an integer factor that is 0 below a stall
// limit of 500 ms and 1 above it: throttling silently turns off, and the >= 16 row is
// smaller than the row before it. Worse, even its intended curve (a fraction of a
// tick) can never bind against the timer, which is what creates threads in a group
// that still has an active thread: the timer asks at most once per tick.
//
// Here the interval is counted in stall-limit periods ("ticks"), so it scales exactly
// with thread_pool_stall_limit and actually limits growth:
//
//   threads in the group              the group may gain a thread
//   < max(4, 1 + oversubscribe)       at once (no throttling)
//   below 2 x that                    once per tick
//   below 4 x that                    once per 2 ticks
//   from 4 x that on                  once per 4 ticks
//
// The interval is `ticks x stall_limit - stall_limit / 4`: the quarter-tick slack
// absorbs timer jitter, so "once per N ticks" does not turn into "once per N + 1".
// The function is monotonic (non-decreasing) in the thread count and in the stall
// limit, linear in the stall limit, and never 0 for a throttled group.
#ifndef CONNSCHED_POOL_OF_THREADS_THROTTLING_H_
#define CONNSCHED_POOL_OF_THREADS_THROTTLING_H_

#include <algorithm>
#include <cstdint>

namespace connsched::pool_of_threads {

/// Threads a group may have before creation is throttled at all.
constexpr std::int64_t unthrottled_threads(std::int64_t oversubscribe) {
  return std::max<std::int64_t>(4, 1 + std::max<std::int64_t>(oversubscribe, 0));
}

/// Stall-limit periods between two thread creations in a group of `threads`.
constexpr std::int64_t throttling_ticks(std::int64_t threads, std::int64_t oversubscribe) {
  const std::int64_t free = unthrottled_threads(oversubscribe);
  if (threads < free) return 0;
  if (threads < 2 * free) return 1;
  if (threads < 4 * free) return 2;
  return 4;
}

/// Microseconds that must pass since the group's last thread creation before a
/// group of `threads` may create another (when it still has an active thread).
constexpr std::int64_t throttling_interval_us(std::int64_t threads, std::int64_t oversubscribe,
                                              std::int64_t stall_limit_ms) {
  const std::int64_t ticks = throttling_ticks(threads, oversubscribe);
  if (ticks == 0) return 0;
  const std::int64_t tick_us = std::max<std::int64_t>(stall_limit_ms, 1) * 1000;
  return ticks * tick_us - tick_us / 4;
}

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_THROTTLING_H_
