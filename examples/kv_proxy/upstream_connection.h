// File: examples/kv_proxy/upstream_connection.h
//
// One connection from the proxy to its upstream RESP server: blocking I/O with
// deadlines (the caller reports the round trip as a NET wait, so a pool can run other
// connections meanwhile), one request and its one reply at a time.
#ifndef CONNSCHED_EXAMPLES_KV_PROXY_UPSTREAM_CONNECTION_H_
#define CONNSCHED_EXAMPLES_KV_PROXY_UPSTREAM_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kv_proxy {

/// The upstream could not be reached, or broke mid-request.
class UpstreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct UpstreamAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6380;
  /// "host:port"; throws std::invalid_argument with the reason.
  static UpstreamAddress parse(std::string_view text);
  std::string to_string() const;
};

class UpstreamConnection {
 public:
  /// Connects within `timeout`; throws UpstreamError.
  UpstreamConnection(const UpstreamAddress& address, std::chrono::milliseconds timeout);
  ~UpstreamConnection();
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  /// Sends one request (raw RESP bytes) and returns its one reply (raw RESP bytes).
  /// Throws UpstreamError when the upstream is gone, answers garbage or is too slow;
  /// the connection is then unusable.
  std::string round_trip(std::string_view request, std::chrono::milliseconds timeout);

  /// False when the upstream closed the connection or sent something unasked: cheap
  /// (one non-blocking peek), for validation on borrow.
  bool alive() const;

 private:
  int fd_ = -1;
  std::string pending_;  // reply bytes read ahead (never expected, kept for safety)
};

}  // namespace kv_proxy

#endif  // CONNSCHED_EXAMPLES_KV_PROXY_UPSTREAM_CONNECTION_H_
