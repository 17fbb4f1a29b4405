// File: core/src/admin_auth.cc
#include "admin_auth.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "admin_json.h"
#include "connsched/server.h"

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

// A token file others can read is no secret: refused, as ssh refuses such a key.
std::string read_admin_token_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw StartupError(fmt::format("--admin-token-file: {}: {}", path, std::strerror(errno)));
  }
  if (st.st_mode & S_IROTH) {
    throw StartupError(fmt::format(
        "--admin-token-file: {}: refusing a token file any user may read (mode {:o}); chmod o-r",
        path, st.st_mode & 07777));
  }
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) {
    throw StartupError(fmt::format("--admin-token-file: {}: cannot read a token", path));
  }
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) throw StartupError(fmt::format("--admin-token-file: {}: empty token", path));
  return token;
}

}  // namespace connsched
