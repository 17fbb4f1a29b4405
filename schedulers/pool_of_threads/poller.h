// File: schedulers/pool_of_threads/poller.h
//
// How a thread group waits for its connections (MariaDB's pool has one such
// abstraction per OS: epoll, kqueue, event ports, IOCP). Three here:
//   epoll          one edge-triggered registration per connection (EPOLLET), made
//                  when it joins the group and kept across requests: no re-arm
//                  system call after a request; the default;
//   epoll_oneshot  one-shot registrations (EPOLLONESHOT), re-armed with epoll_ctl
//                  after every request (MariaDB's way);
//   io_uring       multishot POLL_ADD (liburing): a registration stays armed across
//                  requests, and one io_uring_enter reaps the events of many
//                  connections.
// epoll and io_uring are multishot(): they report wake-ups, not states.
// The one-thread-per-connection guarantee stays the pool's (queue_events serves only
// idle connections). What differs, and what the pool must know (multishot()): a
// multishot registration reports input that arrives while its connection runs; that
// event must not be dropped, because no second one will come for the same bytes.
//
// Every member but poll() is called with the group's mutex held; poll() with or
// without it (the listener blocks in it unlocked), so each implementation guards its
// own kernel queues.
#ifndef CONNSCHED_POOL_OF_THREADS_POLLER_H_
#define CONNSCHED_POOL_OF_THREADS_POLLER_H_

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace connsched::pool_of_threads {

/// The event data of the group's wake-up (connection ids start at 1).
inline constexpr std::uint64_t kWakeEventId = UINT64_MAX;

/// thread_pool_poller's choices, in its declaration's order.
enum class PollerKind : std::int64_t { kEpoll = 0, kIoUring = 1, kAuto = 2, kEpollOneShot = 3 };

struct PollEvent {
  std::uint64_t id = 0;    // a connection id, or kWakeEventId
  std::uint32_t mask = 0;  // what is ready (POLLIN, POLLOUT, POLLRDHUP, ...)
};

/// Thrown when a poller cannot be set up; what() is one line naming the cause.
class PollerUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Poller {
 public:
  virtual ~Poller() = default;
  /// "epoll" or "io_uring", as thread_pool_poller names it.
  virtual const char* name() const = 0;
  /// True when a registration stays armed while its connection runs (see above).
  virtual bool multishot() const = 0;
  /// Arms `fd` for one readable event (or, `for_output`, one writable event);
  /// `registered`: an earlier arm of this group succeeded and no unregister followed.
  /// Returns false with errno set.
  virtual bool arm(int fd, std::uint64_t id, bool registered, bool for_output) = 0;
  /// Takes `fd` out (before core closes it); no event for `id` is reported after.
  virtual void unregister(int fd, std::uint64_t id) = 0;
  /// Fills `events`, without blocking (timeout_ms 0) or blocking (-1); returns the
  /// count, or -1 with errno set.
  virtual int poll(PollEvent* events, int max_events, int timeout_ms) = 0;
  /// Makes a blocked poll() return with kWakeEventId; it keeps being reported until
  /// clear_wake().
  virtual void wake() = 0;
  virtual void clear_wake() = 0;
  /// System calls this poller has made (epoll_ctl, epoll_wait, io_uring_enter...): the
  /// poller's share of a request's system calls, for THREAD_POOL_GROUPS and
  /// docs/benchmarks.md.
  virtual std::uint64_t syscalls() const = 0;
};

/// Throws std::system_error when the epoll set or eventfd cannot be made. `one_shot`:
/// EPOLLONESHOT re-armed per request (epoll_oneshot), else edge-triggered (epoll).
std::unique_ptr<Poller> make_epoll_poller(bool one_shot);
/// Throws PollerUnavailable naming the cause (io_uring_disabled, seccomp, old kernel,
/// built without liburing). The test-only environment variable
/// CONNSCHED_TEST_IO_URING_SETUP_ERROR=<errno name or number> makes the set-up fail
/// as the kernel would with that error (this machine allows io_uring).
std::unique_ptr<Poller> make_uring_poller();
/// One line saying why io_uring_setup failed with `error`, for an operator.
std::string io_uring_failure_cause(int error);

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_POLLER_H_
