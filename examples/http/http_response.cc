// File: examples/http/http_response.cc
#include "http_response.h"

#include <fmt/format.h>

namespace http {

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// Always an explicit Content-Length: the connection is reused only if the client can
// tell where this response ends.
std::string format_response(const HttpResponse& response, bool keep_alive, unsigned http_minor,
                            bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nServer: connsched-http\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
      response.status, reason_phrase(response.status), response.content_type, response.body.size());
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
