// File: core/src/idle_timer.cc
#include "idle_timer.h"

#include <algorithm>
#include <chrono>

#include "server_core.h"

namespace connsched {

IdleTimer::IdleTimer(Check check, Expire expire, Check check_output, Expire expire_output)
    : check_(std::move(check)),
      expire_(std::move(expire)),
      check_output_(std::move(check_output)),
      expire_output_(std::move(expire_output)) {}

IdleTimer::~IdleTimer() {
  stop();
}

void IdleTimer::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void IdleTimer::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
}

// The thread sleeps until the earliest deadline: it is woken only when this one comes
// before it (a new connection is usually due later than everything watched).
void IdleTimer::watch(std::uint64_t id, std::int64_t deadline_ms) {
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    earliest = deadline_ms < deadlines_.next_ms();
    deadlines_.watch(id, deadline_ms);
  }
  if (earliest) wake_.notify_all();
}

// One live entry per connection: a slow reader that waits for the socket many times
// within net_write_timeout does not grow the heap, and a deadline that comes earlier
// (the soft limit's) is not hidden behind a later one.
void IdleTimer::watch_output(std::uint64_t id, std::int64_t deadline_ms) {
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    auto [it, added] = output_due_.try_emplace(id, deadline_ms);
    if (!added && it->second <= deadline_ms) return;
    it->second = deadline_ms;
    earliest = deadline_ms < std::min(deadlines_.next_ms(), next_output_ms());
    output_heap_.emplace(deadline_ms, id);
  }
  if (earliest) wake_.notify_all();
}

std::int64_t IdleTimer::next_output_ms() const {
  return output_heap_.empty() ? std::numeric_limits<std::int64_t>::max() : output_heap_.top().first;
}

// Takes the output entries due: a replaced one is dropped, a live one asked about as
// the idle entries are (kLater re-arms it, kExpired queues the kill).
void IdleTimer::expire_output(std::int64_t now_ms, std::vector<std::uint64_t>& expired) {
  while (!output_heap_.empty() && output_heap_.top().first <= now_ms) {
    const auto [due, id] = output_heap_.top();
    output_heap_.pop();
    auto it = output_due_.find(id);
    if (it == output_due_.end() || it->second != due) continue;
    std::int64_t later = std::numeric_limits<std::int64_t>::max();
    switch (check_output_(id, now_ms, &later)) {
      case IdleDeadlines::Verdict::kLater:
        it->second = later > now_ms ? later : now_ms + 1;
        output_heap_.emplace(it->second, id);
        break;
      case IdleDeadlines::Verdict::kExpired:
        expired.push_back(id);
        output_due_.erase(it);
        break;
      case IdleDeadlines::Verdict::kGone:
        output_due_.erase(it);
        break;
    }
  }
}

// Sleeps until the earliest deadline, takes what is due, and kills the expired ones
// with the lock released: the kill takes core's registry lock and calls the backend.
void IdleTimer::run(std::stop_token stop) {
  std::vector<std::uint64_t> expired;
  std::vector<std::uint64_t> expired_output;
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const std::int64_t next = std::min(deadlines_.next_ms(), next_output_ms());
    const std::int64_t now = monotonic_ms();
    if (next > now) {
      if (next == std::numeric_limits<std::int64_t>::max()) {
        wake_.wait(lock, stop, [&] { return deadlines_.size() != 0 || !output_heap_.empty(); });
      } else {
        // Woken early only by a deadline before this one (watch, watch_output).
        wake_.wait_for(lock, stop, std::chrono::milliseconds(next - now),
                       [&] { return std::min(deadlines_.next_ms(), next_output_ms()) < next; });
      }
      continue;
    }
    expired.clear();
    expired_output.clear();
    deadlines_.expire(now, check_, [&](std::uint64_t id) { expired.push_back(id); });
    expire_output(now, expired_output);
    lock.unlock();
    for (std::uint64_t id : expired) expire_(id);
    for (std::uint64_t id : expired_output) expire_output_(id);
    lock.lock();
  }
}

}  // namespace connsched
