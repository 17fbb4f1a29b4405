// File: connsched/http_status.h
//
// The reason phrase of each HTTP status code the tree answers with (RFC 9110 §15), in
// one table for core's admin port and the example HTTP server. Header-only.
#ifndef CONNSCHED_HTTP_STATUS_H_
#define CONNSCHED_HTTP_STATUS_H_

#include <string_view>

namespace connsched {

/// "Not Found" for 404; "Unknown" for a code not in the table.
constexpr std::string_view http_reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace connsched

#endif  // CONNSCHED_HTTP_STATUS_H_
