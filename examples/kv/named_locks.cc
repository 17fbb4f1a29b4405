// File: examples/kv/named_locks.cc
#include "named_locks.h"

namespace kv {

// One condition variable for every name: LOCK is a workload command, rarely contended
// on many names at once, and a spurious wake-up only costs a re-check.
NamedLocks::Guard::Guard(NamedLocks& locks, std::string name)
    : locks_(locks), name_(std::move(name)) {
  std::unique_lock lock(locks_.mutex_);
  locks_.released_.wait(lock, [&] { return !locks_.held_.contains(name_); });
  locks_.held_.insert(name_);
}

NamedLocks::Guard::~Guard() {
  {
    std::lock_guard lock(locks_.mutex_);
    locks_.held_.erase(name_);
  }
  locks_.released_.notify_all();
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
