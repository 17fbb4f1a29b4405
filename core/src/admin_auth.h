// File: core/src/admin_auth.h
//
// The admin port's optional bearer token (--admin-token, --admin-token-file): when
// one is set, a request without "Authorization: Bearer <token>" gets 401 and nothing
// else, whatever its path. The comparison takes the same time wherever the first
// differing byte is, so the token cannot be guessed byte by byte from reply times.
#ifndef CONNSCHED_CORE_ADMIN_AUTH_H_
#define CONNSCHED_CORE_ADMIN_AUTH_H_

#include <string>
#include <string_view>

#include "admin_http.h"

namespace connsched {

/// True when `authorization` (the header's value) is "Bearer <token>". `token` must
/// not be empty.
bool admin_token_matches(std::string_view authorization, std::string_view token);

/// 401 with a JSON error and "WWW-Authenticate: Bearer" (RFC 6750).
AdminResponse admin_unauthorized(bool token_given);

/// Reads a token file: its first line, without the line end. Throws StartupError when
/// the file is not a regular file, cannot be read, or any permission is given to its
/// group or others (mode & 077, as ssh asks of a private key).
std::string read_admin_token_file(const std::string& path);

/// Why `token` cannot be an admin token ("" when it can): empty, or holding a blank or
/// a control byte (a Bearer header's value is trimmed, so such a token could never
/// match and every request would get 401).
std::string admin_token_problem(std::string_view token);

}  // namespace connsched

#endif  // CONNSCHED_CORE_ADMIN_AUTH_H_
