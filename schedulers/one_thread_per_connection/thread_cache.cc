// File: schedulers/one_thread_per_connection/thread_cache.cc
#include "thread_cache.h"

#include <algorithm>
#include <utility>

namespace connsched {

ThreadCache::ThreadCache(Serve serve, std::size_t cache_size,
                         std::chrono::milliseconds idle_timeout)
    : serve_(std::move(serve)), cache_size_(cache_size), idle_timeout_(idle_timeout) {}

ThreadCache::~ThreadCache() {
  std::vector<std::jthread> reaped;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    retire_parked_beyond(0);
    all_exited_.wait(lock, [&] { return workers_.empty(); });
    reaped = std::move(finished_);
  }
  // jthread destructors join: every thread has left run() by now or is about to.
}

// Prefer the thread that parked last: its stack is warm, and it lets the others
// reach their idle timeout when load drops.
void ThreadCache::dispatch(void* work) {
  std::vector<std::jthread> reaped;
  std::unique_lock lock(mutex_);
  reaped = std::move(finished_);
  finished_.clear();
  if (!parked_.empty()) {
    Worker* worker = parked_.back();
    parked_.pop_back();
    worker->work = work;
    worker->has_work = true;
    ++hits_;
    worker->wake.notify_one();
    return;
  }
  ++misses_;
  workers_.emplace_back();
  Worker& worker = workers_.back();
  worker.self = std::prev(workers_.end());
  try {
    // Started under the lock, so the thread cannot exit (and move its own jthread)
    // before the handle is stored.
    worker.thread = std::jthread([this, &worker, work] { run(worker, work); });
  } catch (...) {
    workers_.pop_back();
    throw;
  }
  ++created_;
}

void ThreadCache::run(Worker& worker, void* work) {
  while (true) {
    serve_(work);
    std::unique_lock lock(mutex_);
    if (!stopping_ && parked_.size() < cache_size_) {
      parked_.push_back(&worker);
      bool woken =
          worker.wake.wait_for(lock, idle_timeout_, [&] { return worker.has_work || worker.exit; });
      if (worker.has_work) {
        worker.has_work = false;
        work = std::exchange(worker.work, nullptr);
        continue;
      }
      // Timed out or told to exit: leave the stack if still on it.
      auto it = std::find(parked_.begin(), parked_.end(), &worker);
      if (it != parked_.end()) parked_.erase(it);
      if (!woken) ++expired_;
    }
    finished_.push_back(std::move(worker.thread));
    workers_.erase(worker.self);  // `worker` is gone from here on
    if (workers_.empty()) all_exited_.notify_all();
    return;
  }
}

// Oldest parked threads go first: the newest are the ones worth keeping warm.
void ThreadCache::retire_parked_beyond(std::size_t size) {
  while (parked_.size() > size) {
    Worker* worker = parked_.front();
    parked_.erase(parked_.begin());
    worker->exit = true;
    worker->wake.notify_one();
  }
}

void ThreadCache::set_cache_size(std::size_t size) {
  std::lock_guard lock(mutex_);
  cache_size_ = size;
  retire_parked_beyond(size);
}

void ThreadCache::set_idle_timeout(std::chrono::milliseconds timeout) {
  std::lock_guard lock(mutex_);
  idle_timeout_ = timeout;
}

ThreadCache::Stats ThreadCache::stats() const {
  std::lock_guard lock(mutex_);
  Stats s;
  s.created = created_;
  s.hits = hits_;
  s.misses = misses_;
  s.expired = expired_;
  s.parked = parked_.size();
  s.live = workers_.size();
  s.cache_size = cache_size_;
  return s;
}

}  // namespace connsched
