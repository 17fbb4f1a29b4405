// File: core/src/listen_socket.cc
#include "listen_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

// A socket another process opened is checked before it is served on: systemd passes
// whatever the unit says (a datagram or AF_UNIX socket by mistake), and a handover peer
// could pass anything. Each refusal names what the fd is, so the line says the fix.
ListenerAddress listening_tcp_address(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw StartupError(fmt::format("{}: fd {} is not open ({})", what, fd, std::strerror(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) throw StartupError(fmt::format("{}: not a socket", what));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw StartupError(fmt::format("{}: getsockname: {}", what, std::strerror(errno)));
  }
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) {
    throw StartupError(fmt::format("{}: not a TCP socket (address family {}{})", what,
                                   addr.ss_family, addr.ss_family == AF_UNIX ? ", AF_UNIX" : ""));
  }
  int type = 0;
  len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
    throw StartupError(fmt::format("{}: not a TCP stream socket ({})", what,
                                   type == SOCK_DGRAM ? "a datagram socket" : "another type"));
  }
  int listening = 0;
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    throw StartupError(fmt::format("{}: a TCP socket that is not listening", what));
  }
  ListenerAddress out;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    out.port = ntohs(in->sin_port);
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    out.port = ntohs(in6->sin6_port);
  }
  out.host = text;
  return out;
}

// Compared as bytes after parsing, so the operator's spelling of an address does not
// matter, only the address.
bool same_address(const std::string& a, const std::string& b) {
  in6_addr a6{}, b6{};
  in_addr a4{}, b4{};
  if (::inet_pton(AF_INET, a.c_str(), &a4) == 1) {
    return ::inet_pton(AF_INET, b.c_str(), &b4) == 1 && a4.s_addr == b4.s_addr;
  }
  if (::inet_pton(AF_INET6, a.c_str(), &a6) == 1) {
    return ::inet_pton(AF_INET6, b.c_str(), &b6) == 1 && std::memcmp(&a6, &b6, sizeof a6) == 0;
  }
  return false;
}

}  // namespace connsched
