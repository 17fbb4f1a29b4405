// File: core/src/idle_timer.h
//
// Core's enforcement of wait_timeout and request_timeout for every backend: one thread
// sleeping until the earliest deadline (connsched/idle_deadlines.h), so no backend scans
// its connections for idle ones and core does not scan them for slow requests; the cost
// is one heap entry per connection, looked at once per deadline.
#ifndef CONNSCHED_CORE_IDLE_TIMER_H_
#define CONNSCHED_CORE_IDLE_TIMER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include "connsched/idle_deadlines.h"

namespace connsched {

class IdleTimer {
 public:
  using Check = std::function<IdleDeadlines::Verdict(std::uint64_t id, std::int64_t now_ms,
                                                     std::int64_t* later_ms)>;
  using Expire = std::function<void(std::uint64_t id)>;

  /// `check` is called under the timer's lock and may take core's registry lock;
  /// `expire` (the kill) is called with no timer lock held.
  IdleTimer(Check check, Expire expire);
  ~IdleTimer();
  IdleTimer(const IdleTimer&) = delete;
  IdleTimer& operator=(const IdleTimer&) = delete;

  void start();
  /// Stops and joins the thread; no `expire` runs after it returns.
  void stop();
  /// Watches connection `id` from now on, first due at `deadline_ms`.
  void watch(std::uint64_t id, std::int64_t deadline_ms);

 private:
  void run(std::stop_token stop);

  Check check_;
  Expire expire_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  IdleDeadlines deadlines_;
  std::jthread thread_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_IDLE_TIMER_H_
