// File: tools/compare/admin_probe.cc
#include "admin_probe.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>

#include "connsched/unique_fd.h"

namespace compare_tool {

namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left before `deadline`, at least 0: poll's timeout.
int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

std::optional<std::uint64_t> json_counter(std::string_view json, std::string_view name) {
  // The key in quotes, so "connections_peak" never matches a longer name that starts
  // with it; then the colon and optional blanks before the digits.
  const std::string key = fmt::format("\"{}\"", name);
  auto at = json.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  at += key.size();
  while (at < json.size() && std::isspace(static_cast<unsigned char>(json[at]))) ++at;
  if (at >= json.size() || json[at] != ':') return std::nullopt;
  ++at;
  while (at < json.size() && std::isspace(static_cast<unsigned char>(json[at]))) ++at;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(json.data() + at, json.data() + json.size(), value);
  if (ec != std::errc() || end == json.data() + at) return std::nullopt;
  return value;
}

std::optional<AdminReply> admin_request(std::uint16_t admin_port, std::string_view method,
                                        std::string_view target, std::chrono::milliseconds timeout,
                                        std::string& error) {
  // The admin port answers with "Connection: close": read until EOF, bounded by poll.
  const auto deadline = Clock::now() + timeout;
  connsched::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(admin_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error = fmt::format("cannot connect to the admin port {}", admin_port);
    return std::nullopt;
  }
  const std::string request = fmt::format(
      "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method,
      target);
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    error = fmt::format("cannot send {} {}", method, target);
    return std::nullopt;
  }
  std::string reply;
  char buffer[4096];
  while (true) {
    pollfd p{.fd = fd.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      error = fmt::format("the admin port did not answer {} {} in time", method, target);
      return std::nullopt;
    }
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = fmt::format("reading the answer to {} {} failed", method, target);
      return std::nullopt;
    }
    if (n == 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  AdminReply out;
  if (reply.starts_with("HTTP/1.") && reply.size() >= 12) {
    std::from_chars(reply.data() + 9, reply.data() + 12, out.status);
  }
  if (out.status == 0) {
    error = fmt::format("{} {} answered: {}", method, target, reply.substr(0, reply.find('\r')));
    return std::nullopt;
  }
  const auto body = reply.find("\r\n\r\n");
  if (body != std::string::npos) out.body = reply.substr(body + 4);
  return out;
}

std::optional<std::uint64_t> read_admin_counter(std::uint16_t admin_port, std::string_view name,
                                                std::chrono::milliseconds timeout,
                                                std::string& error) {
  // The whole /stats answer, then the one counter in it.
  auto reply = admin_request(admin_port, "GET", "/stats", timeout, error);
  if (!reply) return std::nullopt;
  if (reply->status != 200) {
    error = fmt::format("/stats answered {}: {}", reply->status, reply->body.substr(0, 200));
    return std::nullopt;
  }
  if (auto value = json_counter(reply->body, name)) return value;
  error = fmt::format("/stats has no counter {}", name);
  return std::nullopt;
}

}  // namespace compare_tool
