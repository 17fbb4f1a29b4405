// File: schedulers/pool_of_threads/pool_connection.h
//
// What the pool keeps per connection (MariaDB's TP_connection_generic), and the
// intrusive FIFO its queues are made of. A connection is always in exactly one state,
// changed only under its group's mutex:
//
//   kIdle      armed in the group's poller, waiting for input, or for the socket to
//              take a reply that did not fit (armed for output)
//   kQueued    in the group's high- or normal-priority queue
//   kRunning   a worker is inside do_command for it
//   kClosed    handed back to core (ended, or returned to it by a switch)
//
// Only the thread that runs a connection re-arms, moves or closes it, so a connection
// cannot vanish while it is idle or queued: that is what keeps pointers in the queues
// valid without reference counts. Core's per-connection slot owns it (set when it is
// first armed, freed by close_connection after end_connection), which is how
// post_kill_notification finds it from the killing thread.
#ifndef CONNSCHED_POOL_OF_THREADS_POOL_CONNECTION_H_
#define CONNSCHED_POOL_OF_THREADS_POOL_CONNECTION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "connsched/scheduler_abi.h"

namespace connsched::pool_of_threads {

struct Worker;

enum class ConnState { kIdle, kQueued, kRunning, kClosed };

/// Queue indexes, as THREAD_POOL_QUEUES reports PRIORITY. Dequeued lock holders first,
/// then high, then normal (the lock-holder queue is beyond MariaDB: MDEV-38219).
inline constexpr int kHighPriority = 0;
inline constexpr int kNormalPriority = 1;
inline constexpr int kLockHolderPriority = 2;
inline constexpr int kQueueCount = 3;

struct PoolConnection {
  PoolConnection(connsched_conn* c, std::uint64_t conn_id, int socket_fd,
                 std::uint64_t initial_tickets)
      : conn(c), id(conn_id), fd(socket_fd), tickets(initial_tickets) {}

  connsched_conn* const conn;
  const std::uint64_t id;
  const int fd;  // owned by core, open until end_connection
  // The group it belongs to. Changes only while the connection runs, under the old
  // group's mutex; atomic because post_kill_notification reads it to find that mutex.
  std::atomic<std::size_t> group{0};

  // --- guarded by the group's mutex ---
  ConnState state = ConnState::kRunning;
  bool registered = false;  // registered with the group's poller (ADD done)
  // A multishot poller's event (edge-triggered epoll, io_uring) came while the connection ran:
  // input (or room for a reply) arrived after its do_command may have looked, and no second event
  // will come for it, so it is queued again as soon as it is re-armed. Cleared when it is dequeued:
  // what was reported before its run began, the run reads.
  bool refire = false;
  // A multishot poll reported the peer's FIN (or a hang-up, an error). It is reported
  // once, and do_command stops at a short read, so a FIN that came with a request's
  // last bytes is not seen by the run that reads them: the connection runs again at
  // each re-arm for input until core reads the end and closes it.
  bool peer_closed = false;
  bool awaiting_output = false;    // armed for output: a reply waits for the socket
  bool raise_priority = false;     // killed: served before everything else
  bool holds_locks = false;        // counted in the group's holder_count (as of its last re-arm)
  bool blocks_unreported = false;  // its last request blocked without wait_begin
  bool release_pending = false;    // core asked for it back (a switch): queued, never re-armed
  std::uint64_t tickets;           // Percona's high-priority tickets left
  int queue = -1;                  // its queue's index while queued
  std::int64_t enqueue_us = 0;     // when it entered its queue
  PoolConnection* prev = nullptr;
  PoolConnection* next = nullptr;
  Worker* worker = nullptr;  // the thread running it (kRunning)
};

/// An intrusive FIFO of connections (no allocation per request); the group's mutex
/// guards it.
class ConnectionQueue {
 public:
  void push_back(PoolConnection* c) {
    c->prev = tail_;
    c->next = nullptr;
    (tail_ ? tail_->next : head_) = c;
    tail_ = c;
    ++size_;
  }
  PoolConnection* front() const { return head_; }
  PoolConnection* pop_front() {
    PoolConnection* c = head_;
    if (c != nullptr) erase(c);
    return c;
  }
  void erase(PoolConnection* c) {
    (c->prev ? c->prev->next : head_) = c->next;
    (c->next ? c->next->prev : tail_) = c->prev;
    c->prev = c->next = nullptr;
    --size_;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (PoolConnection* c = head_; c != nullptr; c = c->next) fn(*c);
  }

 private:
  PoolConnection* head_ = nullptr;
  PoolConnection* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_POOL_CONNECTION_H_
