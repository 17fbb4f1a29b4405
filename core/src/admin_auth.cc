// File: core/src/admin_auth.cc
#include "admin_auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "admin_json.h"
#include "connsched/server.h"
#include "connsched/unique_fd.h"

namespace connsched {

// Every byte of the longer of the two is visited and differences are OR-ed, so the
// time depends only on the lengths, never on where the first mismatch is.
bool admin_token_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() < kScheme.size()) return false;
  bool scheme_ok = true;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    char want = kScheme[i] >= 'A' && kScheme[i] <= 'Z' ? static_cast<char>(kScheme[i] - 'A' + 'a')
                                                       : kScheme[i];
    scheme_ok &= lower == want;  // the scheme name is case-insensitive (RFC 9110)
  }
  std::string_view given = authorization.substr(kScheme.size());
  std::size_t n = std::max(given.size(), token.size());
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    unsigned char b = i < token.size() ? static_cast<unsigned char>(token[i]) : 0;
    diff |= static_cast<unsigned char>(a ^ b);
  }
  return scheme_ok && diff == 0;
}

// Says whether a token was missing or wrong, never what it should have been.
AdminResponse admin_unauthorized(bool token_given) {
  AdminResponse response{
      401,
      "application/json",
      json_error(token_given ? "invalid admin token"
                             : "this admin port needs a token: Authorization: Bearer <token>"),
      {},
      {}};
  response.www_authenticate = token_given ? R"(Bearer error="invalid_token")" : "Bearer";
  return response;
}

// Opened once and checked through the descriptor (no window between the check and the
// read); non-blocking, so a FIFO named by mistake is refused instead of hanging the start.
// Any permission for the group or others is refused, as ssh refuses a private key.
std::string read_admin_token_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) {
    throw StartupError(fmt::format("--admin-token-file: {}: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw StartupError(fmt::format("--admin-token-file: {}: not a regular file", path));
  }
  if (st.st_mode & 077) {
    throw StartupError(fmt::format(
        "--admin-token-file: {}: refusing a token file its group or any user may read or write "
        "(mode {:o}); chmod 600",
        path, st.st_mode & 07777));
  }
  std::string text;
  char buffer[4096];
  while (text.size() < 64 * 1024) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw StartupError(fmt::format("--admin-token-file: {}: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  std::string token = text.substr(0, text.find('\n'));
  if (!token.empty() && token.back() == '\r') token.pop_back();
  return token;
}

std::string admin_token_problem(std::string_view token) {
  if (token.empty()) return "empty: an empty token would leave the admin port open";
  for (unsigned char c : token) {
    if (c <= ' ' || c == 0x7f) return "holds a blank or a control byte, which no header can carry";
  }
  return {};
}

}  // namespace connsched
