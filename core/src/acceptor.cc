// File: core/src/acceptor.cc
#include "acceptor.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <system_error>

namespace connsched {

namespace {
// Errors that mean "out of a resource": wait for it to come back instead of spinning.
bool is_resource_error(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}
// Accepts per wake-up before polling again, so a flood cannot starve the stop signal.
constexpr int kAcceptBatch = 64;
}  // namespace

Acceptor::Acceptor(int listen_fd, OnAccept on_accept, OnError on_error,
                   std::chrono::milliseconds pause, AcceptorSideWork* side)
    : listen_fd_(listen_fd),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      on_accept_(std::move(on_accept)),
      on_error_(std::move(on_error)),
      pause_(pause),
      side_(side) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Acceptor::~Acceptor() {
  request_stop();
  join();
}

void Acceptor::start() {
  thread_ = std::jthread([this] { run(); });
}

void Acceptor::request_stop() {
  stop_.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void Acceptor::join() {
  if (thread_.joinable()) thread_.join();
}

// A pause after an accept error is a time, not one poll's timeout: the side work's own
// deadlines may wake the thread sooner without ending the pause early.
void Acceptor::run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point paused_until{};
  while (!stop_.load()) {
    const auto now = Clock::now();
    const bool paused = now < paused_until;
    pollfd fds[3] = {{paused ? -1 : listen_fd_, POLLIN, 0},
                     {wake_fd_.get(), POLLIN, 0},
                     {side_ ? side_->poll_fd() : -1, POLLIN, 0}};
    int timeout =
        paused ? static_cast<int>(
                     std::chrono::ceil<std::chrono::milliseconds>(paused_until - now).count())
               : -1;
    if (side_) {
      const int side_timeout = side_->timeout_ms();
      if (side_timeout >= 0 && (timeout < 0 || side_timeout < timeout)) timeout = side_timeout;
    }
    int ready = ::poll(fds, 3, timeout);
    if (ready < 0 && errno != EINTR) {
      on_error_(errno);
      paused_until = Clock::now() + pause_;
      continue;
    }
    if (stop_.load()) break;
    if (side_) side_->run();
    if (ready <= 0 || !(fds[0].revents & POLLIN)) continue;
    for (int i = 0; i < kAcceptBatch && !stop_.load(); ++i) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        on_accept_(UniqueFd(fd), peer);
        continue;
      }
      int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) break;
      if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
      on_error_(error);
      if (is_resource_error(error) || error != EPERM) paused_until = Clock::now() + pause_;
      break;
    }
  }
}

}  // namespace connsched
