// File: schedulers/pool_of_threads/thread_group.cc
#include "thread_group.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace connsched::pool_of_threads {

namespace {
// Level-triggered and one-shot: a connection reports once, then stays silent until its
// request is served and it is re-armed; input left in the socket (do_command reads a
// bounded amount) makes it report again at once, so nothing is ever lost.
constexpr std::uint32_t kArmedEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
// A reply waiting for the socket: writable, or hung up (EPOLLHUP and EPOLLERR come
// unasked, so a kill, which shuts the socket down, wakes it too). Not EPOLLRDHUP: a
// client that half-closed and still reads would report at once, again and again.
constexpr std::uint32_t kArmedForOutput = EPOLLOUT | EPOLLONESHOT;
}  // namespace

ThreadGroup::ThreadGroup(std::size_t group_index)
    : index(group_index),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (epoll_fd_.get() < 0 || wake_fd_.get() < 0) {
    throw std::system_error(errno, std::generic_category(), "thread group: epoll/eventfd");
  }
  // The wake-up fd stays level-triggered: once written it keeps every epoll_wait
  // returning until the listener clears it.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeEventId;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "thread group: epoll_ctl");
  }
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
  epoll_event ev{};
  ev.events = for_output ? kArmedForOutput : kArmedEvents;
  ev.data.u64 = c.id;
  // The first arm in this group adds the fd; later ones re-enable the one-shot entry.
  c.state = ConnState::kIdle;
  if (::epoll_ctl(epoll_fd_.get(), c.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd, &ev) != 0) {
    return false;
  }
  c.in_epoll = true;
  return true;
}

void ThreadGroup::unregister(PoolConnection& c) {
  if (!c.in_epoll) return;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c.fd, nullptr);
  c.in_epoll = false;
}

void ThreadGroup::disarm(PoolConnection& c) {
  if (!c.in_epoll) return;
  epoll_event ev{};
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c.fd, &ev);
}

int ThreadGroup::poll(epoll_event* events, int max_events, int timeout_ms) const {
  return ::epoll_wait(epoll_fd_.get(), events, max_events, timeout_ms);
}

void ThreadGroup::wake_listener() const {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void ThreadGroup::clear_wake() const {
  std::uint64_t value = 0;
  [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &value, sizeof value);
}

}  // namespace connsched::pool_of_threads
