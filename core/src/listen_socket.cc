// File: core/src/listen_socket.cc
#include "listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstring>

#include "connsched/server.h"

namespace connsched {

// The address decides the family; a name is refused rather than resolved, so start-up
// never waits on DNS.
ListenSocket listen_tcp(const std::string& address, int port, const std::string& flag,
                        bool reuse_port) {
  sockaddr_in addr4{};
  sockaddr_in6 addr6{};
  int family = AF_INET;
  if (::inet_pton(AF_INET, address.c_str(), &addr4.sin_addr) == 1) {
    addr4.sin_family = AF_INET;
    addr4.sin_port = htons(static_cast<std::uint16_t>(port));
  } else if (::inet_pton(AF_INET6, address.c_str(), &addr6.sin6_addr) == 1) {
    family = AF_INET6;
    addr6.sin6_family = AF_INET6;
    addr6.sin6_port = htons(static_cast<std::uint16_t>(port));
  } else {
    throw StartupError(fmt::format("{}: '{}' is not an IPv4 or IPv6 address", flag, address));
  }
  ListenSocket out;
  out.fd.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!out.fd) throw StartupError(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  ::setsockopt(out.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && ::setsockopt(out.fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw StartupError(fmt::format("--reuse-port: SO_REUSEPORT: {}", std::strerror(errno)));
  }
  int rc = family == AF_INET
               ? ::bind(out.fd.get(), reinterpret_cast<sockaddr*>(&addr4), sizeof addr4)
               : ::bind(out.fd.get(), reinterpret_cast<sockaddr*>(&addr6), sizeof addr6);
  if (rc != 0) {
    throw StartupError(
        fmt::format("cannot bind {}: {}", host_port(address, port), std::strerror(errno)));
  }
  if (::listen(out.fd.get(), SOMAXCONN) != 0) {
    throw StartupError(fmt::format("listen: {}", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(out.fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  out.port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                     : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  return out;
}

// RFC 3986's bracketed IPv6 literal: without brackets "::1:6380" would be ambiguous.
std::string host_port(const std::string& address, int port) {
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

}  // namespace connsched
