// File: examples/kv_proxy/upstream_connection.cc
#include "upstream_connection.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

#include "tools/loadgen/resp_reply.h"  // loadgen::parse_resp_reply: the proxy reads replies as the load generator does

namespace kv_proxy {

namespace {
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits for `events` until `deadline`; false on timeout.
bool wait_fd(int fd, short events, std::int64_t deadline) {
  while (true) {
    std::int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left, INT_MAX)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}
}  // namespace

UpstreamAddress UpstreamAddress::parse(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    throw std::invalid_argument(fmt::format("'{}' is not host:port", text));
  }
  unsigned port = 0;
  auto digits = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
    throw std::invalid_argument(fmt::format("'{}' is not a port number", digits));
  }
  return UpstreamAddress{std::string(text.substr(0, colon)), static_cast<std::uint16_t>(port)};
}

std::string UpstreamAddress::to_string() const {
  return fmt::format("{}:{}", host, port);
}

UpstreamConnection::UpstreamConnection(const UpstreamAddress& address,
                                       std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw UpstreamError(fmt::format("{}: {}", address.to_string(), ::gai_strerror(rc)));
  }
  std::string failure = "no address";
  const std::int64_t deadline = now_ms() + timeout.count();
  for (addrinfo* ai = found; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      failure = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (wait_fd(fd, POLLOUT, deadline)) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
        rc = error == 0 ? 0 : -1;
        errno = error;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
    } else {
      failure = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  if (fd_ < 0)
    throw UpstreamError(fmt::format("cannot connect to {}: {}", address.to_string(), failure));
}

UpstreamConnection::~UpstreamConnection() {
  if (fd_ >= 0) ::close(fd_);
}

std::string UpstreamConnection::round_trip(std::string_view request,
                                           std::chrono::milliseconds timeout) {
  const std::int64_t deadline = now_ms() + timeout.count();
  while (!request.empty()) {
    ssize_t n = ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
    if (n > 0) {
      request.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_fd(fd_, POLLOUT, deadline))
        throw UpstreamError("upstream did not take the request in time");
      continue;
    }
    throw UpstreamError(
        fmt::format("upstream connection lost while sending: {}", std::strerror(errno)));
  }
  while (true) {
    auto parsed = loadgen::parse_resp_reply(pending_);
    if (parsed.status == loadgen::ParseStatus::kComplete) {
      std::string reply = pending_.substr(0, parsed.consumed);
      pending_.erase(0, parsed.consumed);
      return reply;
    }
    if (parsed.status == loadgen::ParseStatus::kInvalid)
      throw UpstreamError("upstream sent an invalid reply");
    char buffer[16 * 1024];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      pending_.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) throw UpstreamError("upstream closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(fd_, POLLIN, deadline)) throw UpstreamError("upstream did not reply in time");
      continue;
    }
    throw UpstreamError(fmt::format("upstream connection lost: {}", std::strerror(errno)));
  }
}

bool UpstreamConnection::alive() const {
  if (!pending_.empty()) return false;
  char byte;
  ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;                                          // closed by the upstream
  if (n > 0) return false;                                           // unasked data: out of step
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;  // quiet: fine
}

}  // namespace kv_proxy
