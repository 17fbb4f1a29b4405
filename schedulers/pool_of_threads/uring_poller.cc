// File: schedulers/pool_of_threads/uring_poller.cc
//
// The io_uring poller (liburing): one ring per group, one multishot POLL_ADD per
// connection (IORING_POLL_ADD_MULTI, Linux 5.13), registered when the connection
// joins the group and removed when it leaves. A multishot poll stays armed, so there
// is no re-arm system call after a request (epoll's EPOLL_CTL_MOD), and the listener's
// one io_uring_enter reaps the events of every connection that became ready.
//
// It asks for readable and writable (POLLIN | POLLOUT | POLLRDHUP) at once: the poll
// reports wake-ups, not states, and a TCP socket wakes its writers only after a write
// found it full (SOCK_NOSPACE), so an idle writable socket reports nothing, while a
// reply that waits for the socket (CONNSCHED_NEXT_WAIT_OUTPUT) gets its event with no
// second registration. Unlike a one-shot EPOLLOUT, a half-closed client with a reply
// pending reports once (its FIN), not at every re-arm.
//
// Not IORING_SETUP_SINGLE_ISSUER / DEFER_TASKRUN: the submitters are the acceptor
// (a new connection's registration), whichever pool thread moves or closes a
// connection, and whichever thread wakes the listener; the listener role itself moves
// between a group's threads (MariaDB's design), so no one thread owns the ring.
//
// Two mutexes: sq_mutex_ for the submission queue and the set of registrations,
// cq_mutex_ for the completion queue (the listener reaps unlocked from the group's
// mutex while a worker or the timer may reap under it). Order: cq_mutex_ -> sq_mutex_.
#include <liburing.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "poller.h"

namespace connsched::pool_of_threads {

namespace {
constexpr unsigned kSqEntries = 256;
// Room for a burst of events from every connection of a busy group; beyond it the
// kernel keeps the overflow (IORING_FEAT_NODROP) and ends the multishot polls it could
// not post to, which reap() registers again.
constexpr unsigned kCqEntries = 8192;
constexpr std::uint64_t kWakeData = UINT64_MAX;        // the wake-up NOP
constexpr std::uint64_t kRemoveData = UINT64_MAX - 1;  // a POLL_REMOVE's own completion
constexpr unsigned kPollMask = POLLIN | POLLOUT | POLLRDHUP;
constexpr int kReapBatch = 1024;

// CONNSCHED_TEST_IO_URING_SETUP_ERROR (tests only, see poller.h): an errno name or
// number the set-up fails with as if the kernel had returned it. 0: none.
int injected_setup_error() {
  const char* value = std::getenv("CONNSCHED_TEST_IO_URING_SETUP_ERROR");
  if (value == nullptr || *value == '\0') return 0;
  if (std::strcmp(value, "EPERM") == 0) return EPERM;
  if (std::strcmp(value, "ENOSYS") == 0) return ENOSYS;
  if (std::strcmp(value, "EINVAL") == 0) return EINVAL;
  if (std::strcmp(value, "ENOMEM") == 0) return ENOMEM;
  int n = std::atoi(value);
  return n > 0 ? n : EPERM;
}

class UringPoller final : public Poller {
 public:
  // IORING_FEAT_CQE_SKIP (Linux 5.17) stands for "new enough": multishot poll came in
  // 5.13 and cannot be probed for by itself.
  UringPoller() {
    int error = injected_setup_error();
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    params.cq_entries = kCqEntries;
    if (error == 0) {
      int rc = io_uring_queue_init_params(kSqEntries, &ring_, &params);
      if (rc < 0) error = -rc;
    }
    if (error != 0) throw PollerUnavailable(io_uring_failure_cause(error));
    if ((params.features & IORING_FEAT_CQE_SKIP) == 0 ||
        (params.features & IORING_FEAT_NODROP) == 0) {
      io_uring_queue_exit(&ring_);
      throw PollerUnavailable(io_uring_failure_cause(EINVAL));
    }
  }
  ~UringPoller() override { io_uring_queue_exit(&ring_); }
  UringPoller(const UringPoller&) = delete;
  UringPoller& operator=(const UringPoller&) = delete;

  const char* name() const override { return "io_uring"; }
  bool multishot() const override { return true; }

  // Only the first arm submits: the registration then stays armed, for input and for
  // output alike (see the file comment).
  bool arm(int fd, std::uint64_t id, bool registered, bool) override {
    if (registered) return true;
    std::lock_guard lock(sq_mutex_);
    const std::uint64_t token = next_token_ + 1;
    if (int rc = submit_poll(fd, id); rc < 0) {
      registrations_.erase(id);
      polls_.erase(token);
      errno = -rc;
      return false;
    }
    return true;
  }

  // Submitted at once: the poll holds a reference to the socket, which core closes
  // right after this (a closed fd does not end an io_uring poll, unlike epoll).
  // The poll's own entry (polls_) stays until its last completion is reaped: a
  // connection that comes back to this ring before then gets a poll of a new token, so
  // that completion, whenever it comes, is known for a stale one and dropped.
  void unregister(int, std::uint64_t id) override {
    std::lock_guard lock(sq_mutex_);
    auto it = registrations_.find(id);
    if (it == registrations_.end()) return;
    const std::uint64_t token = it->second.token;
    registrations_.erase(it);
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_remove(sqe, token);
    io_uring_sqe_set_data64(sqe, kRemoveData);
    submit();
  }

  // Reaps without blocking; blocking (the listener), waits in the kernel until the
  // ring has a completion, then reaps: another thread may have reaped it meanwhile,
  // which only means waiting again.
  int poll(PollEvent* events, int max_events, int timeout_ms) override {
    while (true) {
      int n = reap(events, max_events, timeout_ms != 0);
      if (n != 0 || timeout_ms == 0) return n;
      count();
      int rc = io_uring_enter(static_cast<unsigned>(ring_.ring_fd), 0, 1, IORING_ENTER_GETEVENTS,
                              nullptr);
      if (rc < 0) {
        errno = rc == -1 ? errno : -rc;
        if (errno != EAGAIN && errno != EBUSY) return -1;
      }
    }
  }

  // Sticky, as the epoll poller's level-triggered eventfd: every poll() reports the
  // wake-up until clear_wake(). The NOP makes a blocked io_uring_enter return.
  void wake() override {
    wake_pending_.store(true);
    std::lock_guard lock(sq_mutex_);
    post_wake();
  }
  void clear_wake() override { wake_pending_.store(false); }

  std::uint64_t syscalls() const override { return syscalls_.load(std::memory_order_relaxed); }

 private:
  void count() { syscalls_.fetch_add(1, std::memory_order_relaxed); }

  // With sq_mutex_ held. A full submission queue is submitted first.
  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
      submit();
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }
  int submit() {
    count();
    return io_uring_submit(&ring_);
  }
  // With sq_mutex_ held. Each poll gets a token of its own as its user data (never
  // the connection id, which a connection keeps when it leaves and comes back), and
  // becomes its connection's current one.
  int submit_poll(int fd, std::uint64_t id) {
    const std::uint64_t token = ++next_token_;
    polls_[token] = id;
    registrations_[id] = Registration{fd, token};
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_multishot(sqe, fd, kPollMask);
    io_uring_sqe_set_data64(sqe, token);
    return submit();
  }
  void post_wake() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, kWakeData);
    submit();
  }

  // Takes what the ring holds. A multishot poll that ended (no IORING_CQE_F_MORE) while
  // its connection is still registered is registered again; its last event still
  // counts. A non-blocking
  // reaper that took the wake-up NOP while the wake-up stands posts another, so that a
  // listener blocked in the kernel still returns.
  int reap(PollEvent* events, int max_events, bool blocking) {
    std::lock_guard lock(cq_mutex_);
    io_uring_cqe* cqes[kReapBatch];
    const unsigned room = static_cast<unsigned>(std::clamp(max_events - 1, 0, kReapBatch));
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, room);
    int out = 0;
    bool took_wake = false;
    for (unsigned i = 0; i < n; ++i) {
      const std::uint64_t data = io_uring_cqe_get_data64(cqes[i]);
      if (data == kWakeData) {
        took_wake = true;
        continue;
      }
      if (data == kRemoveData) continue;
      const int res = cqes[i]->res;
      const bool ended = (cqes[i]->flags & IORING_CQE_F_MORE) == 0;
      std::uint64_t id = 0;
      if (!current_poll(data, ended, &id)) continue;  // a removed poll's last words
      // Ended by an overflow (res is its last mask) or cancelled by the kernel (the
      // submitting thread exited, on kernels that cancel then): registered again. Any
      // other error would only repeat; it is reported, and the run that follows meets it.
      if (ended && (res >= 0 || res == -ECANCELED)) rearm_ended(id);
      if (res == -ECANCELED) continue;
      events[out++] = PollEvent{id, res < 0 ? ~0u : static_cast<std::uint32_t>(res)};
    }
    io_uring_cq_advance(&ring_, n);
    if (wake_pending_.load()) {
      events[out++] = PollEvent{kWakeEventId, POLLIN};
      if (took_wake && !blocking) {
        std::lock_guard sq(sq_mutex_);
        post_wake();
      }
    }
    return out;
  }

  // The connection a completion's token belongs to, if that poll is still the one its
  // connection is registered with (a removed one's completions, POLL_REMOVE's
  // -ECANCELED among them, can come after the connection was registered here again).
  // A poll's last completion forgets its token.
  bool current_poll(std::uint64_t token, bool ended, std::uint64_t* id) {
    std::lock_guard lock(sq_mutex_);
    auto poll = polls_.find(token);
    if (poll == polls_.end()) return false;
    *id = poll->second;
    if (ended) polls_.erase(poll);
    auto it = registrations_.find(*id);
    return it != registrations_.end() && it->second.token == token;
  }

  void rearm_ended(std::uint64_t id) {
    std::lock_guard lock(sq_mutex_);
    auto it = registrations_.find(id);
    if (it != registrations_.end()) submit_poll(it->second.fd, id);
  }

  struct Registration {
    int fd;
    std::uint64_t token;  // the current poll's user data
  };

  io_uring ring_{};
  std::mutex sq_mutex_;
  std::mutex cq_mutex_;
  std::unordered_map<std::uint64_t, Registration> registrations_;  // by id, under sq_mutex_
  std::unordered_map<std::uint64_t, std::uint64_t> polls_;         // token -> id, until it ended
  std::uint64_t next_token_ = 0;                                   // under sq_mutex_
  std::atomic<bool> wake_pending_{false};
  std::atomic<std::uint64_t> syscalls_{0};
};
}  // namespace

std::unique_ptr<Poller> make_uring_poller() {
  return std::make_unique<UringPoller>();
}

}  // namespace connsched::pool_of_threads
