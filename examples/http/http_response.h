// File: examples/http/http_response.h
//
// HTTP/1.1 responses as bytes: status line, the headers this server sends, body.
#ifndef CONNSCHED_EXAMPLES_HTTP_HTTP_RESPONSE_H_
#define CONNSCHED_EXAMPLES_HTTP_HTTP_RESPONSE_H_

#include <string>
#include <string_view>

namespace http {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string allow;  ///< the Allow header, for 405
};

// Reason phrases: connsched::http_reason_phrase (connsched/http_status.h).

/// The response on the wire. `keep_alive` picks the Connection header (HTTP/1.0
/// clients get "keep-alive" spelled out); `head_only` leaves out the body but keeps
/// its Content-Length, as HEAD requires.
std::string format_response(const HttpResponse& response, bool keep_alive, unsigned http_minor,
                            bool head_only = false);

}  // namespace http

#endif  // CONNSCHED_EXAMPLES_HTTP_HTTP_RESPONSE_H_
