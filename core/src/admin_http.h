// File: core/src/admin_http.h
//
// The little HTTP/1.1 the admin port speaks: one request per connection, read up to
// its blank line (bounded), answered, closed. Parsed by hand so core needs no HTTP
// library; pure functions so tests (and a fuzzer) can drive them without sockets.
#ifndef CONNSCHED_CORE_ADMIN_HTTP_H_
#define CONNSCHED_CORE_ADMIN_HTTP_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace connsched {

/// Largest admin request head (request line and headers) we read.
inline constexpr std::size_t kAdminMaxRequestBytes = 8 * 1024;

struct AdminRequest {
  std::string method;                                      ///< "GET", "POST", ...
  std::string path;                                        ///< decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  ///< decoded, in order
  std::string authorization;  ///< the Authorization header's value, trimmed; empty if absent
};

struct AdminParse {
  enum class Status { kIncomplete, kComplete, kBad } status = Status::kIncomplete;
  AdminRequest request;  ///< when kComplete
  std::string error;     ///< when kBad: why, for the 400 reply
};

/// Parses the head of a request at the front of `bytes`.
AdminParse parse_admin_request(std::string_view bytes);

/// %XX and '+' decoding; nullopt for a bad escape.
std::optional<std::string> percent_decode(std::string_view text);

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;             ///< the Allow header, for 405
  std::string www_authenticate;  ///< the WWW-Authenticate header, for 401
};

/// The response as bytes on the wire (HTTP/1.1, Content-Length, Connection: close).
std::string format_admin_response(const AdminResponse& response);

}  // namespace connsched

#endif  // CONNSCHED_CORE_ADMIN_HTTP_H_
