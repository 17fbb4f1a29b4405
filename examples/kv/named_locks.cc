// File: examples/kv/named_locks.cc
#include "named_locks.h"

#include <algorithm>

namespace kv {

namespace {
// How often a waiter re-checks whether it was killed: a kill must not wait out the
// lock's timeout.
constexpr std::chrono::milliseconds kAbandonCheck{20};
}  // namespace

// One condition variable for every name: these are workload commands, rarely
// contended on many names at once, and a spurious wake-up only costs a re-check.
NamedLocks::Guard::Guard(NamedLocks& locks, std::string name)
    : locks_(locks), name_(std::move(name)) {
  std::unique_lock lock(locks_.mutex_);
  locks_.released_.wait(lock, [&] { return !locks_.held_.contains(name_); });
  locks_.held_.emplace(name_, Hold{kAnonymous, 1});
}

NamedLocks::Guard::~Guard() {
  {
    std::lock_guard lock(locks_.mutex_);
    locks_.held_.erase(name_);
  }
  locks_.released_.notify_all();
}

// MySQL 5.7's GET_LOCK: re-entrant for the owner, a timeout answers "not acquired"
// rather than an error; the wait is sliced so a kill is noticed within kAbandonCheck.
NamedLocks::Acquired NamedLocks::acquire(std::string_view name, std::uint64_t owner,
                                         std::chrono::milliseconds timeout,
                                         const std::function<bool()>& abandon) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  while (true) {
    auto it = held_.find(name);
    if (it == held_.end()) {
      held_.emplace(std::string(name), Hold{owner, 1});
      return Acquired::kYes;
    }
    if (it->second.owner == owner && owner != kAnonymous) {
      ++it->second.count;
      return Acquired::kYes;
    }
    if (abandon && abandon()) return Acquired::kAbandoned;
    auto slice = std::chrono::steady_clock::now() + kAbandonCheck;
    if (timeout.count() >= 0) {
      if (std::chrono::steady_clock::now() >= deadline) return Acquired::kTimedOut;
      slice = std::min(slice, deadline);
    }
    released_.wait_until(lock, slice);
  }
}

NamedLocks::Released NamedLocks::release(std::string_view name, std::uint64_t owner) {
  {
    std::lock_guard lock(mutex_);
    auto it = held_.find(name);
    if (it == held_.end()) return Released::kNotHeld;
    if (it->second.owner != owner || owner == kAnonymous) return Released::kNotOwner;
    if (--it->second.count > 0) return Released::kYes;
    held_.erase(it);
  }
  released_.notify_all();
  return Released::kYes;
}

std::size_t NamedLocks::release_all(std::uint64_t owner) {
  std::size_t names = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto it = held_.begin(); it != held_.end();) {
      if (it->second.owner == owner && owner != kAnonymous) {
        it = held_.erase(it);
        ++names;
      } else {
        ++it;
      }
    }
  }
  if (names > 0) released_.notify_all();
  return names;
}

std::size_t NamedLocks::held_by(std::uint64_t owner) {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(
      held_.begin(), held_.end(), [&](const auto& entry) { return entry.second.owner == owner; }));
}

bool NamedLocks::held(std::string_view name) {
  std::lock_guard lock(mutex_);
  return held_.find(name) != held_.end();
}

std::size_t NamedLocks::held_count() {
  std::lock_guard lock(mutex_);
  return held_.size();
}

}  // namespace kv
