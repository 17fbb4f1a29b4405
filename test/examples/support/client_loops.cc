// File: test/examples/support/client_loops.cc
#include "client_loops.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <utility>

namespace connsched::testing {

using namespace std::chrono_literals;

// A plain blocking socket to the main port, or -1 when the connection is refused.
int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// kv client loop: INCR on one counter, reconnecting after a clean close, until a
// connection is refused (the drain stopped accepting: counted) or `stop`.
LoopResult kv_loop(std::uint16_t port, const std::atomic<bool>& stop, std::atomic<int>* connected) {
  LoopResult result;
  bool first = true;
  while (!stop.load()) {
    int fd = connect_to(port);
    if (fd < 0) {
      ++result.refused;
      break;
    }
    if (std::exchange(first, false) && connected) ++*connected;
    while (!stop.load()) {
      if (!send_all(fd, "INCR drained\r\n")) {
        ++result.clean_closes;
        break;
      }
      std::string reply;
      bool closed = false;
      while (reply.find("\r\n") == std::string::npos) {
        char buffer[256];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
          closed = true;
          break;
        }
        reply.append(buffer, static_cast<std::size_t>(n));
      }
      if (closed) {
        (reply.empty() ? result.clean_closes : result.torn_replies)++;
        break;
      }
      REQUIRE(reply.front() == ':');
      result.values.push_back(std::stoll(reply.substr(1)));
      ++result.replies;
    }
    ::close(fd);
  }
  return result;
}

// http client loop: keep-alive GETs; a reply with "Connection: close" ends the
// connection (the client reconnects, as a browser or a balancer does).
LoopResult http_loop(std::uint16_t port, const std::atomic<bool>& stop,
                     std::atomic<int>* connected) {
  LoopResult result;
  bool first = true;
  while (!stop.load()) {
    int fd = connect_to(port);
    if (fd < 0) {
      ++result.refused;
      break;
    }
    if (std::exchange(first, false) && connected) ++*connected;
    bool got_keep_alive = false;
    while (!stop.load()) {
      if (!send_all(fd, "GET / HTTP/1.1\r\nHost: drain\r\n\r\n")) {
        (got_keep_alive ? result.keep_alive_lost : result.clean_closes)++;
        break;
      }
      std::string reply;
      std::size_t head_end = std::string::npos;
      std::size_t need = 0;
      bool closed = false;
      while (head_end == std::string::npos || reply.size() < need) {
        char buffer[4096];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
          closed = true;
          break;
        }
        reply.append(buffer, static_cast<std::size_t>(n));
        if (head_end == std::string::npos &&
            (head_end = reply.find("\r\n\r\n")) != std::string::npos) {
          auto at = reply.find("Content-Length: ");
          REQUIRE(at != std::string::npos);
          need = head_end + 4 + std::stoul(reply.substr(at + 16));
        }
      }
      if (closed) {
        if (!reply.empty()) {
          ++result.torn_replies;
        } else {
          (got_keep_alive ? result.keep_alive_lost : result.clean_closes)++;
        }
        break;
      }
      ++result.replies;
      if (reply.substr(0, head_end).find("Connection: close") != std::string::npos) {
        ++result.close_announced;
        break;
      }
      got_keep_alive = true;
    }
    ::close(fd);
  }
  return result;
}

}  // namespace connsched::testing
