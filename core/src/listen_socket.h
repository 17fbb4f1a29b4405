// File: core/src/listen_socket.h
//
// A non-blocking TCP listening socket on an IPv4 or IPv6 address.
#ifndef CONNSCHED_CORE_LISTEN_SOCKET_H_
#define CONNSCHED_CORE_LISTEN_SOCKET_H_

#include <cstdint>
#include <string>

#include "connsched/unique_fd.h"

namespace connsched {

struct ListenSocket {
  UniqueFd fd;
  std::uint16_t port = 0;  ///< the bound port (the ephemeral one for port 0)
};

/// Binds and listens; throws StartupError naming `flag` (e.g. "--admin-bind-address")
/// for a bad address and the address for a bind failure. `reuse_port` sets SO_REUSEPORT
/// (several processes on one port).
ListenSocket listen_tcp(const std::string& address, int port, const std::string& flag,
                        bool reuse_port = false);

/// "127.0.0.1:6380" or "[::1]:6380": an address and port as logs and URLs write them.
std::string host_port(const std::string& address, int port);

/// Where a listening socket handed to this process (--inherit-from, LISTEN_FDS) listens.
struct ListenerAddress {
  std::string host;  ///< "127.0.0.1", "::1"
  std::uint16_t port = 0;
  std::string text() const { return host_port(host, port); }
};

/// Checks that `fd` is a listening TCP socket (IPv4 or IPv6, SOCK_STREAM, SO_ACCEPTCONN)
/// and says where; throws StartupError "`what`: ..." naming what it is instead.
ListenerAddress listening_tcp_address(int fd, const std::string& what);

/// The same address, spelled the same way: "::ffff:0" and "::" are not equal, "0::1" and
/// "::1" are. False for text that is no address.
bool same_address(const std::string& a, const std::string& b);

}  // namespace connsched

#endif  // CONNSCHED_CORE_LISTEN_SOCKET_H_
