// File: schedulers/pool_of_threads/epoll_poller.cc
//
// The epoll poller: one epoll set per group and an eventfd that wakes the listener.
// Registrations are edge-triggered and made once (thread_pool_poller=epoll), or one-shot
// and re-armed with epoll_ctl after every request (epoll_oneshot).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <system_error>

#include "connsched/unique_fd.h"
#include "poller.h"

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
// Edge-triggered, registered once for input and output alike, as the io_uring poller's
// multishot poll: it reports each wake-up of the socket (bytes or a FIN arriving, room
// freed after a write found it full), including those that come while the connection
// runs, which the pool keeps (PoolConnection::refire). What was there before a report
// is the pool's to read: input left past do_command's bound (conn_read_capped) and a
// FIN behind the bytes read (PoolConnection::peer_closed) are run again at the re-arm.
constexpr std::uint32_t kEdgeEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

class EpollPoller final : public Poller {
 public:
  // The wake-up fd stays level-triggered: once written it keeps every epoll_wait
  // returning until the listener clears it.
  explicit EpollPoller(bool one_shot)
      : one_shot_(one_shot),
        epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (epoll_fd_.get() < 0 || wake_fd_.get() < 0) {
      throw std::system_error(errno, std::generic_category(), "thread group: epoll/eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeEventId;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0) {
      throw std::system_error(errno, std::generic_category(), "thread group: epoll_ctl");
    }
  }

  const char* name() const override { return one_shot_ ? "epoll_oneshot" : "epoll"; }
  bool multishot() const override { return !one_shot_; }

  // The first arm in this group adds the fd; later ones re-enable the one-shot entry,
  // or (edge-triggered) have nothing to do.
  bool arm(int fd, std::uint64_t id, bool registered, bool for_output) override {
    if (!one_shot_ && registered) return true;
    epoll_event ev{};
    ev.events = !one_shot_ ? kEdgeEvents : for_output ? kArmedForOutput : kArmedEvents;
    ev.data.u64 = id;
    count();
    return ::epoll_ctl(epoll_fd_.get(), registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  void unregister(int fd, std::uint64_t) override {
    count();
    ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }

  int poll(PollEvent* events, int max_events, int timeout_ms) override {
    constexpr int kBatch = 1024;
    epoll_event raw[kBatch];
    count();
    int n = ::epoll_wait(epoll_fd_.get(), raw, std::min(max_events, kBatch), timeout_ms);
    for (int i = 0; i < n; ++i) events[i] = PollEvent{raw[i].data.u64, raw[i].events};
    return n;
  }

  void wake() override {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  }

  void clear_wake() override {
    std::uint64_t value = 0;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &value, sizeof value);
  }

  std::uint64_t syscalls() const override { return syscalls_.load(std::memory_order_relaxed); }

 private:
  void count() { syscalls_.fetch_add(1, std::memory_order_relaxed); }

  const bool one_shot_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  std::atomic<std::uint64_t> syscalls_{0};
};
}  // namespace

std::unique_ptr<Poller> make_epoll_poller(bool one_shot) {
  return std::make_unique<EpollPoller>(one_shot);
}

}  // namespace connsched::pool_of_threads
