// File: examples/http/http_request.h
//
// One HTTP/1.x request at the front of a byte string, parsed with http-parser (the
// library Node.js used for years), as a pure function: unit tests and a fuzzer drive it
// without sockets. Exactly one request per call (the parser pauses at the end of a
// message), so pipelined requests are taken one at a time by core's loop.
#ifndef CONNSCHED_EXAMPLES_HTTP_HTTP_REQUEST_H_
#define CONNSCHED_EXAMPLES_HTTP_HTTP_REQUEST_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace http {

struct HttpLimits {
  std::size_t max_head_bytes = 8 * 1024;   ///< request line + headers; more: 431
  std::size_t max_body_bytes = 64 * 1024;  ///< body; more: 413
};

struct HttpRequest {
  enum class Status {
    kIncomplete,  ///< read more
    kComplete,    ///< a whole request; `consumed` bytes
    kError,       ///< reply `error_status` with Connection: close, then close
  };
  Status status = Status::kIncomplete;
  std::size_t consumed = 0;
  /// 400 malformed (http_head_checks.h), 413 body too large, 417 expectation not met,
  /// 431 head too large, 505 an HTTP version other than 1.0 and 1.1
  int error_status = 0;
  std::string error;  ///< why, for the error body

  std::string method;  ///< "GET", ...
  std::string path;    ///< the target up to '?'
  std::string query;   ///< after '?', undecoded
  unsigned http_major = 1, http_minor = 1;
  bool keep_alive = true;  ///< HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive
  std::string body;
  /// kIncomplete with the head complete: it said "Expect: 100-continue" (HTTP/1.1) and
  /// its body has not all arrived, so the client waits for "100 Continue" to send it.
  bool expect_continue = false;
};

/// The interim response to "Expect: 100-continue" (RFC 9110 section 15.2.1).
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

HttpRequest parse_http_request(std::string_view input, const HttpLimits& limits);

/// The value of `name` in an undecoded query string ("a=1&us=50"), or nullopt-like
/// empty view with `found` false.
std::string_view query_param(std::string_view query, std::string_view name, bool& found);

}  // namespace http

#endif  // CONNSCHED_EXAMPLES_HTTP_HTTP_REQUEST_H_
