// File: core/src/idle_timer.cc
#include "idle_timer.h"

#include <chrono>

#include "server_core.h"

namespace connsched {

IdleTimer::IdleTimer(Check check, Expire expire)
    : check_(std::move(check)), expire_(std::move(expire)) {}

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

// Sleeps until the earliest deadline, takes what is due, and kills the expired ones
// with the lock released: the kill takes core's registry lock and calls the backend.
void IdleTimer::run(std::stop_token stop) {
  std::vector<std::uint64_t> expired;
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    const std::int64_t next = deadlines_.next_ms();
    const std::int64_t now = monotonic_ms();
    if (next > now) {
      if (next == std::numeric_limits<std::int64_t>::max()) {
        wake_.wait(lock, stop, [&] { return deadlines_.size() != 0; });
      } else {
        wake_.wait_for(lock, stop, std::chrono::milliseconds(next - now), [] { return false; });
      }
      continue;
    }
    expired.clear();
    deadlines_.expire(now, check_, [&](std::uint64_t id) { expired.push_back(id); });
    lock.unlock();
    for (std::uint64_t id : expired) expire_(id);
    lock.lock();
  }
}

}  // namespace connsched
