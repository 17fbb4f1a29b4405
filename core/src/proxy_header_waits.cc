// File: core/src/proxy_header_waits.cc
#include "proxy_header_waits.h"

#include <errno.h>
#include <sys/epoll.h>

#include <system_error>

#include "connsched/clock.h"

namespace connsched {

// One peek buffer for all: the largest header fits it, so one peek always decides.
ProxyHeaderWaits::ProxyHeaderWaits(std::chrono::milliseconds timeout, std::size_t max_waiting,
                                   OnHeader on_header, OnFailure on_failure)
    : timeout_(timeout),
      max_waiting_(max_waiting),
      on_header_(std::move(on_header)),
      on_failure_(std::move(on_failure)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      peek_(kMaxProxyHeaderSize) {
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

// Most headers are in the socket by the time accept returns (a proxy sends its header
// with the connection's first segment): those are served without an epoll round trip.
void ProxyHeaderWaits::add(UniqueFd fd, const sockaddr_storage& peer) {
  if (waiting_.size() >= max_waiting_) {
    on_failure_(peer, Failure::kTooMany, "too many connections waiting for a PROXY header");
    return;
  }
  Waiting w{std::move(fd), peer, next_serial_++};
  if (try_read(w, false)) return;
  const int raw = w.fd.get();
  // Edge-triggered: a peeked partial header stays in the socket, so level-triggered
  // epoll would report it again and again; each new segment is one new edge.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.fd = raw;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
    on_failure_(peer, Failure::kTooMany, "cannot watch the connection (epoll_ctl failed)");
    return;
  }
  w.registered = true;
  deadlines_.push_back({now_ms() + timeout_.count(), raw, w.serial});
  waiting_.emplace(raw, std::move(w));
}

// The spec's receiver (section 9): peek, parse, then read exactly the header. A close
// with the header still incomplete (epoll's RDHUP) is a truncated header, not a wait.
bool ProxyHeaderWaits::try_read(Waiting& w, bool peer_closed) {
  ssize_t n;
  do {
    n = ::recv(w.fd.get(), peek_.data(), peek_.size(), MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    if (!peer_closed) return false;
    n = 0;
  }
  if (n < 0) {
    on_failure_(w.peer, Failure::kTruncated, "connection reset before its PROXY header");
    return true;
  }
  if (n == 0) {
    on_failure_(w.peer, Failure::kTruncated, "closed before sending a PROXY header");
    return true;
  }
  ProxyHeader header =
      parse_proxy_header(std::string_view(peek_.data(), static_cast<std::size_t>(n)));
  switch (header.status) {
    case ProxyHeader::Status::kInvalid:
      on_failure_(w.peer, Failure::kMalformed, header.error);
      return true;
    case ProxyHeader::Status::kIncomplete:
      if (!peer_closed) return false;
      on_failure_(w.peer, Failure::kTruncated, "closed in the middle of its PROXY header");
      return true;
    case ProxyHeader::Status::kComplete:
      break;
  }
  // Out of epoll before the fd is handed on: the server may close it, and its number be
  // reused, while this entry is being erased.
  if (w.registered) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.fd.get(), nullptr);
  w.registered = false;
  // Only the header's bytes leave the socket: the peek showed they are all there.
  ssize_t consumed;
  do {
    consumed = ::recv(w.fd.get(), peek_.data(), header.length, 0);
  } while (consumed < 0 && errno == EINTR);
  if (consumed != static_cast<ssize_t>(header.length)) {
    on_failure_(w.peer, Failure::kTruncated, "the PROXY header could not be consumed");
    return true;
  }
  on_header_(std::move(w.fd), w.peer, header);
  return true;
}

// The oldest waiting connection expires first (one timeout for all); capped so a clock
// oddity cannot put the acceptor to sleep for long.
int ProxyHeaderWaits::timeout_ms() const {
  if (deadlines_.empty()) return -1;
  const std::int64_t left = deadlines_.front().at_ms - now_ms();
  return left <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left, 60000));
}

// Called on every wake of the acceptor: what epoll reported, then what expired.
void ProxyHeaderWaits::run() {
  epoll_event events[64];
  int ready = ::epoll_wait(epoll_.get(), events, 64, 0);
  for (int i = 0; i < ready; ++i) {
    auto it = waiting_.find(events[i].data.fd);
    if (it == waiting_.end()) continue;
    const bool closed = events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    if (try_read(it->second, closed)) waiting_.erase(it);  // closing the fd leaves epoll
  }
  const std::int64_t now = now_ms();
  while (!deadlines_.empty() && deadlines_.front().at_ms <= now) {
    const Deadline d = deadlines_.front();
    deadlines_.pop_front();
    auto it = waiting_.find(d.fd);
    if (it == waiting_.end() || it->second.serial != d.serial) continue;
    on_failure_(it->second.peer, Failure::kTimedOut,
                "no complete PROXY header within --connect-timeout");
    waiting_.erase(it);
  }
}

// At shutdown nobody will read these headers: closing (the entries' fds) is all there is.
void ProxyHeaderWaits::close_all() {
  waiting_.clear();
  deadlines_.clear();
}

}  // namespace connsched
