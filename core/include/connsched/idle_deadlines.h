// File: connsched/idle_deadlines.h
//
// When each connection's wait_timeout runs out, without a scan: a min-heap of
// (deadline, connection id) with one entry per watched connection, re-armed lazily.
// The deadline a connection's entry carries may be stale (input since then moved it
// forward); when the entry comes due, the connection's current deadline is asked for
// and the entry re-pushed at it, so a busy connection costs one heap operation per
// wait_timeout, not one per request. Core's idle timer uses it for every backend; a
// backend whose connections core cannot see (a pre-forked worker) uses the same.
//
// Header-only and free of core symbols; not thread-safe (the owner holds its lock).
#ifndef CONNSCHED_IDLE_DEADLINES_H_
#define CONNSCHED_IDLE_DEADLINES_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <queue>
#include <vector>

namespace connsched {

class IdleDeadlines {
 public:
  /// What to do with a connection whose entry came due.
  enum class Verdict { kGone, kExpired, kLater };

  /// Watches connection `id`, due at `deadline_ms` (INT64_MAX: never; not watched).
  void watch(std::uint64_t id, std::int64_t deadline_ms) {
    if (deadline_ms == std::numeric_limits<std::int64_t>::max()) return;
    heap_.push(Entry{deadline_ms, id});
  }

  /// The earliest entry's deadline, INT64_MAX when none is watched.
  std::int64_t next_ms() const {
    return heap_.empty() ? std::numeric_limits<std::int64_t>::max() : heap_.top().deadline_ms;
  }

  std::size_t size() const { return heap_.size(); }

  /// Takes every entry due at `now_ms` and asks `check(id, now_ms, &later_ms)`: kGone
  /// drops it, kLater re-watches it at *later_ms, kExpired drops it and calls
  /// `expired(id)` (after the heap is updated, so `expired` may call watch).
  template <class Check, class Expired>
  void expire(std::int64_t now_ms, Check&& check, Expired&& expired) {
    due_.clear();
    while (!heap_.empty() && heap_.top().deadline_ms <= now_ms) {
      const Entry e = heap_.top();
      heap_.pop();
      std::int64_t later = std::numeric_limits<std::int64_t>::max();
      switch (check(e.id, now_ms, &later)) {
        case Verdict::kGone:
          break;
        case Verdict::kLater:
          watch(e.id, later > now_ms ? later : now_ms + 1);
          break;
        case Verdict::kExpired:
          due_.push_back(e.id);
          break;
      }
    }
    for (std::uint64_t id : due_) expired(id);
  }

 private:
  struct Entry {
    std::int64_t deadline_ms;
    std::uint64_t id;
    bool operator>(const Entry& other) const { return deadline_ms > other.deadline_ms; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::vector<std::uint64_t> due_;
};

}  // namespace connsched

#endif  // CONNSCHED_IDLE_DEADLINES_H_
