// File: schedulers/one_thread_per_connection/thread_cache.h
//
// MySQL's thread cache, reworked so that a thread that finishes its work parks on its OWN condition
// variable in a LIFO stack, and new work goes to the most recently parked thread (its stack and
// caches are warm; older ones drift to their idle timeout and exit). At most `cache_size` threads
// park; the rest exit at once. A parked thread exits after `idle_timeout` without work.
#ifndef CONNSCHED_SCHEDULERS_THREAD_CACHE_H_
#define CONNSCHED_SCHEDULERS_THREAD_CACHE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace connsched {

class ThreadCache {
 public:
  using Serve = std::function<void(void* work)>;

  struct Stats {
    std::uint64_t created = 0;  ///< threads ever started
    std::uint64_t hits = 0;     ///< work handed to a parked thread
    std::uint64_t misses = 0;   ///< work that needed a new thread
    std::uint64_t expired = 0;  ///< parked threads that reached the idle timeout
    std::size_t parked = 0;     ///< threads waiting in the cache now
    std::size_t live = 0;       ///< threads alive now (serving or parked)
    std::size_t cache_size = 0;
  };

  ThreadCache(Serve serve, std::size_t cache_size, std::chrono::milliseconds idle_timeout);
  /// Waits for every thread to finish its work, then joins them all.
  ~ThreadCache();
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;

  /// Runs `serve(work)` on a parked thread, or on a new one. Throws std::system_error
  /// when no thread can be created.
  void dispatch(void* work);
  /// Changes the cache size; parked threads beyond it exit (0 empties the cache).
  void set_cache_size(std::size_t size);
  void set_idle_timeout(std::chrono::milliseconds timeout);
  Stats stats() const;

 private:
  struct Worker {
    std::condition_variable wake;
    void* work = nullptr;
    bool has_work = false;  // work may legitimately be nullptr
    bool exit = false;
    std::jthread thread;
    std::list<Worker>::iterator self;
  };

  void run(Worker& worker, void* work);
  void retire_parked_beyond(std::size_t size);

  Serve serve_;
  mutable std::mutex mutex_;
  std::condition_variable all_exited_;
  std::list<Worker> workers_;           // every live thread
  std::vector<Worker*> parked_;         // LIFO: back() parked last
  std::vector<std::jthread> finished_;  // exited threads, joined by the next caller
  std::size_t cache_size_;
  std::chrono::milliseconds idle_timeout_;
  bool stopping_ = false;
  std::uint64_t created_ = 0, hits_ = 0, misses_ = 0, expired_ = 0;
};

}  // namespace connsched

#endif  // CONNSCHED_SCHEDULERS_THREAD_CACHE_H_
