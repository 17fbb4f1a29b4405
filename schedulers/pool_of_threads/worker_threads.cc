// File: schedulers/pool_of_threads/worker_threads.cc
#include "worker_threads.h"

#include <utility>

namespace connsched::pool_of_threads {

WorkerThreads::~WorkerThreads() {
  join_all();
}

// Started under the lock, so the thread cannot reach retire() (and move its own
// handle) before the handle is stored.
void WorkerThreads::spawn(std::function<void()> body) {
  std::lock_guard lock(mutex_);
  live_.emplace_back();
  Handle self = std::prev(live_.end());
  try {
    *self = std::jthread([this, self, body = std::move(body)] {
      body();
      retire(self);
    });
  } catch (...) {
    live_.erase(self);
    throw;
  }
}

void WorkerThreads::retire(Handle self) {
  std::lock_guard lock(mutex_);
  finished_.push_back(std::move(*self));
  live_.erase(self);
  if (live_.empty()) all_exited_.notify_all();
}

// Joined outside the lock: an exiting thread may still need it for retire().
void WorkerThreads::reap() {
  std::vector<std::jthread> done;
  {
    std::lock_guard lock(mutex_);
    done.swap(finished_);
  }
}

void WorkerThreads::join_all() {
  std::vector<std::jthread> done;
  {
    std::unique_lock lock(mutex_);
    all_exited_.wait(lock, [&] { return live_.empty(); });
    done.swap(finished_);
  }
}

}  // namespace connsched::pool_of_threads
