// File: core/src/proxy_header_waits.h
//
// Connections from --proxy-protocol-networks waiting for their PROXY header, read on the
// acceptor thread before any protocol or backend sees the connection. Nothing here
// blocks: each socket is peeked (MSG_PEEK) when epoll says bytes arrived, the header is
// parsed from what is there, and only the header's own bytes are consumed, so what the
// client sent after it stays in the socket for the protocol, intact, and wakes the
// backend as any first request does. A header that is malformed, truncated (the peer
// closed) or not complete within --connect-timeout closes the connection.
#ifndef CONNSCHED_CORE_PROXY_HEADER_WAITS_H_
#define CONNSCHED_CORE_PROXY_HEADER_WAITS_H_

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "acceptor.h"
#include "connsched/unique_fd.h"
#include "proxy_header.h"

namespace connsched {

class ProxyHeaderWaits final : public AcceptorSideWork {
 public:
  enum class Failure { kMalformed, kTruncated, kTimedOut, kTooMany };
  /// A complete header: the socket with the header consumed, its peer, the header.
  using OnHeader = std::function<void(UniqueFd, const sockaddr_storage&, const ProxyHeader&)>;
  /// A connection closed without a header; `why` is static text or the parser's error.
  using OnFailure = std::function<void(const sockaddr_storage&, Failure, std::string_view why)>;

  ProxyHeaderWaits(std::chrono::milliseconds timeout, std::size_t max_waiting, OnHeader on_header,
                   OnFailure on_failure);

  /// A connection from an allowed network: served now when its header is already there.
  void add(UniqueFd fd, const sockaddr_storage& peer);
  /// Closes every connection still waiting (the acceptor is stopping).
  void close_all();

  int poll_fd() const override { return epoll_.get(); }
  int timeout_ms() const override;
  void run() override;

 private:
  struct Waiting {
    UniqueFd fd;
    sockaddr_storage peer{};
    std::uint64_t serial = 0;
    bool registered = false;  // in epoll_
  };
  struct Deadline {
    std::int64_t at_ms;
    int fd;
    std::uint64_t serial;
  };
  /// Peeks and parses; true when the connection is done with (handed over or closed).
  bool try_read(Waiting& w, bool peer_closed);

  std::chrono::milliseconds timeout_;
  std::size_t max_waiting_;
  OnHeader on_header_;
  OnFailure on_failure_;
  UniqueFd epoll_;
  std::unordered_map<int, Waiting> waiting_;  // by fd
  std::deque<Deadline> deadlines_;            // in arrival order, so in deadline order too
  std::uint64_t next_serial_ = 1;
  std::vector<char> peek_;  // kMaxProxyHeaderSize: the largest header fits one peek
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_PROXY_HEADER_WAITS_H_
