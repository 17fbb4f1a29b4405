// File: examples/http/http_response.cc
#include "http_response.h"

#include <fmt/format.h>

#include "connsched/http_status.h"

namespace http {

// Always an explicit Content-Length: the connection is reused only if the client can
// tell where this response ends.
std::string format_response(const HttpResponse& response, bool keep_alive, unsigned http_minor,
                            bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nServer: connsched-http\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
      response.status, connsched::http_reason_phrase(response.status), response.content_type,
      response.body.size());
  if (!response.allow.empty()) out += fmt::format("Allow: {}\r\n", response.allow);
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head_only) out += response.body;
  return out;
}

}  // namespace http
