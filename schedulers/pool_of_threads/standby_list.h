// File: schedulers/pool_of_threads/standby_list.h
//
// A thread group's standby threads (MariaDB's `waiting_threads`): the thread that went
// to sleep last is woken first. Its stack and caches are still warm, and under a
// falling load the threads at the far end stay asleep long enough to reach
// thread_pool_idle_timeout and exit, so the group shrinks by itself.
//
// Not synchronised: the group's mutex guards it. A thread that times out removes
// itself from wherever it is (rare, so linear).
#ifndef CONNSCHED_POOL_OF_THREADS_STANDBY_LIST_H_
#define CONNSCHED_POOL_OF_THREADS_STANDBY_LIST_H_

#include <algorithm>
#include <cstddef>
#include <vector>

namespace connsched::pool_of_threads {

template <typename Thread>
class StandbyList {
 public:
  /// `thread` goes to sleep: it becomes the first to be woken.
  void push(Thread* thread) { threads_.push_back(thread); }

  /// The thread that went to sleep last, removed from the list; nullptr when empty.
  Thread* pop_newest() {
    if (threads_.empty()) return nullptr;
    Thread* newest = threads_.back();
    threads_.pop_back();
    return newest;
  }

  /// Removes `thread` (it timed out or was told to exit); false if it was not there.
  bool remove(Thread* thread) {
    auto it = std::find(threads_.begin(), threads_.end(), thread);
    if (it == threads_.end()) return false;
    threads_.erase(it);
    return true;
  }

  std::size_t size() const { return threads_.size(); }
  bool empty() const { return threads_.empty(); }

  /// Calls `fn(thread)` for every sleeping thread, newest first.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (auto it = threads_.rbegin(); it != threads_.rend(); ++it) fn(*it);
  }

 private:
  std::vector<Thread*> threads_;  // back() went to sleep last
};

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_STANDBY_LIST_H_
