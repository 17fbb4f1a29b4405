// File: schedulers/pool_of_threads/thread_group.cc
#include "thread_group.h"

#include <algorithm>

namespace connsched::pool_of_threads {

ThreadGroup::ThreadGroup(std::size_t group_index, PollerKind kind)
    : index(group_index),
      poller_(kind == PollerKind::kIoUring ? make_uring_poller()
                                           : make_epoll_poller(kind == PollerKind::kEpollOneShot)) {
}

// New and killed connections' priorities are decided by the caller; the queue only
// keeps the order and the time, which kick-up and THREAD_POOL_QUEUES need.
void ThreadGroup::enqueue(PoolConnection& c, int priority, std::int64_t now_us) {
  c.state = ConnState::kQueued;
  c.queue = priority;
  c.enqueue_us = now_us;
  queues[priority].push_back(&c);
}

// Lock holders first (their request may release what other threads wait for), then
// high priority, always; every successful dequeue is progress the stall detector must
// see, and is counted once in its queue's wait histogram.
PoolConnection* ThreadGroup::dequeue(std::int64_t now_us) {
  for (int priority : {kLockHolderPriority, kHighPriority, kNormalPriority}) {
    if (PoolConnection* c = queues[priority].pop_front()) {
      latency.queue_wait[priority].record(
          static_cast<std::uint64_t>(std::max<std::int64_t>(now_us - c->enqueue_us, 0)));
      c->queue = -1;
      c->state = ConnState::kRunning;
      // What the poller reported until now is input this run will read (see refire).
      c->refire = false;
      ++queue_event_count;
      return c;
    }
  }
  return nullptr;
}

PoolConnection* ThreadGroup::dequeue_lock_holder(std::int64_t now_us) {
  if (queues[kLockHolderPriority].empty()) return nullptr;
  return dequeue(now_us);
}

std::int64_t ThreadGroup::oldest_enqueue_us() const {
  std::int64_t oldest = 0;
  for (const auto& q : queues) {
    if (const PoolConnection* c = q.front()) {
      if (oldest == 0 || c->enqueue_us < oldest) oldest = c->enqueue_us;
    }
  }
  return oldest;
}

void ThreadGroup::promote(PoolConnection& c) {
  if (c.state != ConnState::kQueued || c.queue != kNormalPriority) return;
  queues[kNormalPriority].erase(&c);
  c.queue = kHighPriority;
  queues[kHighPriority].push_back(&c);
}

bool ThreadGroup::arm(PoolConnection& c, bool for_output) {
  c.state = ConnState::kIdle;
  c.awaiting_output = for_output;
  if (!poller_->arm(c.fd, c.id, c.registered, for_output)) return false;
  c.registered = true;
  return true;
}

void ThreadGroup::unregister(PoolConnection& c) {
  if (!c.registered) return;
  poller_->unregister(c.fd, c.id);
  c.registered = false;
}

}  // namespace connsched::pool_of_threads
