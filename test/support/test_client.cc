// File: test/support/test_client.cc
#include "test_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace connsched::testing {

namespace {
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

TestClient::TestClient(std::uint16_t port, std::chrono::milliseconds timeout) {
  connect_to(port, nullptr, timeout);
}

TestClient::TestClient(std::uint16_t port, const std::string& source,
                       std::chrono::milliseconds timeout) {
  connect_to(port, &source, timeout);
}

// Both constructors: a blocking connect to 127.0.0.1, from `source` when given.
void TestClient::connect_to(std::uint16_t port, const std::string* source,
                            std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  auto fail = [&](const char* what) {
    int error = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(std::string(what) + ": " + std::strerror(error));
  };
  if (source) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source->c_str(), &from.sin_addr) != 1) {
      errno = EINVAL;
      fail("source address");
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) fail("bind");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    // Interrupted (EINTR: seen once under tsan with the io_uring poller, no signal of
    // ours in the process), a connect goes on in the background (connect(2)): wait for
    // it to end, as a client library does, then take its result.
    if (errno != EINTR) fail("connect");
    pollfd p{fd_, POLLOUT, 0};
    int ready = 0;
    do {
      ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    int error = 0;
    socklen_t len = sizeof error;
    if (ready == 0) error = ETIMEDOUT;
    if (ready > 0 && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (ready < 0) error = errno;
    if (error != 0) {
      errno = error;
      fail("connect");
    }
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::uint16_t TestClient::local_port() const {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

TestClient::~TestClient() {
  if (fd_ >= 0) ::close(fd_);
}

TestClient::TestClient(TestClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffered_(std::move(other.buffered_)) {}

bool TestClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<std::string> TestClient::read_line(std::chrono::milliseconds timeout) {
  const std::int64_t deadline = now_ms() + timeout.count();
  while (true) {
    auto newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> TestClient::read_bytes(std::size_t count,
                                                  std::chrono::milliseconds timeout) {
  const std::int64_t deadline = now_ms() + timeout.count();
  while (buffered_.size() < count) {
    if (!fill(deadline)) return std::nullopt;
  }
  std::string bytes = buffered_.substr(0, count);
  buffered_.erase(0, count);
  return bytes;
}

// One recv into the buffer, waiting until `deadline`; false on timeout, EOF or error.
bool TestClient::fill(std::int64_t deadline) {
  while (true) {
    std::int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffered_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

std::optional<std::string> TestClient::request(std::string_view line,
                                               std::chrono::milliseconds timeout) {
  std::string message(line);
  message += '\n';
  if (!send(message)) return std::nullopt;
  return read_line(timeout);
}

bool TestClient::wait_closed(std::chrono::milliseconds timeout) {
  const std::int64_t deadline = now_ms() + timeout.count();
  while (true) {
    std::int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    buffered_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string TestClient::read_all(std::chrono::milliseconds timeout) {
  wait_closed(timeout);
  return std::exchange(buffered_, std::string());
}

void TestClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void TestClient::reset() {
  linger hard{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd_);
  fd_ = -1;
}

// Bound to port 0 and closed again: the kernel does not hand the same ephemeral port
// out again at once, so the caller has time to bind it.
std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(error));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace connsched::testing
