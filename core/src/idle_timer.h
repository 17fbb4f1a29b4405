// File: core/src/idle_timer.h
//
// Core's enforcement of wait_timeout and request_timeout for every backend: one thread
// sleeping until the earliest deadline (connsched/idle_deadlines.h), so no backend scans
// its connections for idle ones and core does not scan them for slow requests; the cost
// is one heap entry per connection, looked at once per deadline. Replies waiting for a
// full socket without a thread (CONNSCHED_NEXT_WAIT_OUTPUT) have deadlines of their own
// (net_write_timeout, the soft output limit's time) in a second heap, at most one live
// entry per connection.
#ifndef CONNSCHED_CORE_IDLE_TIMER_H_
#define CONNSCHED_CORE_IDLE_TIMER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "connsched/idle_deadlines.h"

namespace connsched {

class IdleTimer {
 public:
  using Check = std::function<IdleDeadlines::Verdict(std::uint64_t id, std::int64_t now_ms,
                                                     std::int64_t* later_ms)>;
  using Expire = std::function<void(std::uint64_t id)>;

  /// `check` is called under the timer's lock and may take core's registry lock;
  /// `expire` (the kill) is called with no timer lock held. `check_output` and
  /// `expire_output` do the same for the output deadlines.
  IdleTimer(Check check, Expire expire, Check check_output, Expire expire_output);
  ~IdleTimer();
  IdleTimer(const IdleTimer&) = delete;
  IdleTimer& operator=(const IdleTimer&) = delete;

  void start();
  /// Stops and joins the thread; no `expire` runs after it returns.
  void stop();
  /// Watches connection `id` from now on, first due at `deadline_ms`.
  void watch(std::uint64_t id, std::int64_t deadline_ms);
  /// Connection `id` has a reply waiting for the socket, due at `deadline_ms`; an entry
  /// already due no later is kept, an earlier one replaces it.
  void watch_output(std::uint64_t id, std::int64_t deadline_ms);

 private:
  void run(std::stop_token stop);
  std::int64_t next_output_ms() const;
  void expire_output(std::int64_t now_ms, std::vector<std::uint64_t>& expired);

  using Entry = std::pair<std::int64_t, std::uint64_t>;  // (due ms, id)
  Check check_;
  Expire expire_;
  Check check_output_;
  Expire expire_output_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  IdleDeadlines deadlines_;
  // Output deadlines: a heap whose entries are live only while they match output_due_
  // (a replaced entry stays in the heap until it comes due, then is dropped).
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> output_heap_;
  std::unordered_map<std::uint64_t, std::int64_t> output_due_;
  std::jthread thread_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_IDLE_TIMER_H_
