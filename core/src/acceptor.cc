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
                   std::chrono::milliseconds pause)
    : listen_fd_(listen_fd),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      on_accept_(std::move(on_accept)),
      on_error_(std::move(on_error)),
      pause_(pause) {
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

void Acceptor::run() {
  bool paused = false;
  while (!stop_.load()) {
    pollfd fds[2] = {{paused ? -1 : listen_fd_, POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    int timeout = paused ? static_cast<int>(pause_.count()) : -1;
    int ready = ::poll(fds, 2, timeout);
    if (ready < 0 && errno != EINTR) {
      on_error_(errno);
      paused = true;
      continue;
    }
    paused = false;
    if (stop_.load()) break;
    if (ready <= 0 || !(fds[0].revents & POLLIN)) continue;
    for (int i = 0; i < kAcceptBatch && !stop_.load(); ++i) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        on_accept_(UniqueFd(fd));
        continue;
      }
      int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) break;
      if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
      on_error_(error);
      if (is_resource_error(error) || error != EPERM) paused = true;
      break;
    }
  }
}

}  // namespace connsched
