// File: examples/soak/admin_stats.cc
#include "admin_stats.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdlib>

#include "unique_fd.h"

namespace soak {

std::optional<std::uint16_t> parse_admin_port(const std::string& log_text) {
  // The line's end (space or newline) proves it was written whole.
  static const std::string kMarker = "admin port listening on ";
  const auto at = log_text.find(kMarker);
  if (at == std::string::npos) return std::nullopt;
  const auto end = log_text.find_first_of(" \n", at + kMarker.size());
  if (end == std::string::npos) return std::nullopt;
  const auto colon = log_text.rfind(':', end);
  if (colon == std::string::npos || colon < at) return std::nullopt;
  const std::string digits = log_text.substr(colon + 1, end - colon - 1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return static_cast<std::uint16_t>(std::stoul(digits));
}

std::optional<std::int64_t> json_integer(const std::string& json, const std::string& name) {
  // Enough JSON for flat counters: the key, a colon, spaces, digits.
  const std::string key = fmt::format("\"{}\"", name);
  auto at = json.find(key);
  if (at == std::string::npos) return std::nullopt;
  at = json.find_first_not_of(" \t\n", at + key.size());
  if (at == std::string::npos || json[at] != ':') return std::nullopt;
  at = json.find_first_not_of(" \t\n", at + 1);
  if (at == std::string::npos) return std::nullopt;
  char* end = nullptr;
  const long long value = std::strtoll(json.c_str() + at, &end, 10);
  if (end == json.c_str() + at) return std::nullopt;
  return value;
}

std::optional<std::string> http_get(std::uint16_t port, const std::string& path,
                                    std::chrono::milliseconds timeout) {
  // HTTP/1.0-style: one request, the server closes, the body is what follows the header.
  loadgen::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return std::nullopt;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return std::nullopt;
  const std::string request =
      fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return std::nullopt;
  std::string response;
  char buf[8192];
  while (true) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  const auto body = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.1 200") || body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

}  // namespace soak
