// File: plugins/shared_queue/work_queue.h
//
// The one queue every worker of the shared-queue pool sleeps on: FIFO, unbounded
// (connections, not requests, are its elements, so max_connections bounds it), and
// counted, so the stats can say how long it is and how often workers took from it.
#ifndef CONNSCHED_PLUGINS_SHARED_QUEUE_WORK_QUEUE_H_
#define CONNSCHED_PLUGINS_SHARED_QUEUE_WORK_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <stop_token>

namespace connsched::shared_queue {

template <typename T>
class WorkQueue {
 public:
  // Wakes exactly one sleeping worker: the others keep sleeping (no thundering herd).
  void push(T item) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }

  // Blocks until there is an item or `stop` is requested (then nullopt).
  std::optional<T> pop(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait(lock, stop, [&] { return !items_.empty(); })) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    ++dequeues_;
    return item;
  }

  // For the stats: how many connections wait for a worker now.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

  // For the stats: how many times a worker took a connection.
  std::uint64_t dequeues() const {
    std::lock_guard lock(mutex_);
    return dequeues_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable_any ready_;
  std::deque<T> items_;
  std::uint64_t dequeues_ = 0;
};

}  // namespace connsched::shared_queue

#endif  // CONNSCHED_PLUGINS_SHARED_QUEUE_WORK_QUEUE_H_
