// File: schedulers/pool_of_threads/worker_threads.h
//
// Owns the pool's threads as std::jthread. A pool thread decides on its own when to
// exit (idle timeout, shutdown), so it cannot join itself: it hands its handle to a
// "finished" list on the way out, and the timer (reap) or the pool's end (join_all)
// joins it. Nothing is ever detached.
#ifndef CONNSCHED_POOL_OF_THREADS_WORKER_THREADS_H_
#define CONNSCHED_POOL_OF_THREADS_WORKER_THREADS_H_

#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace connsched::pool_of_threads {

class WorkerThreads {
 public:
  WorkerThreads() = default;
  /// Joins whatever is left (join_all should have run).
  ~WorkerThreads();
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  /// Runs `body` on a new thread. Throws std::system_error when the OS refuses.
  void spawn(std::function<void()> body);
  /// Joins the threads that have exited since the last call.
  void reap();
  /// Waits until every thread has exited, then joins them all.
  void join_all();

 private:
  using Handle = std::list<std::jthread>::iterator;
  void retire(Handle self);

  std::mutex mutex_;
  std::condition_variable all_exited_;
  std::list<std::jthread> live_;
  std::vector<std::jthread> finished_;
};

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_WORKER_THREADS_H_
