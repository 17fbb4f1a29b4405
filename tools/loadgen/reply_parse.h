// File: tools/loadgen/reply_parse.h
//
// What parsing one reply off the front of a receive buffer yields, for every protocol
// the load generator speaks. The parsers are pure functions of the bytes received so
// far: they never consume a partial reply, so a caller retries once more bytes arrive.
#ifndef CONNSCHED_LOADGEN_REPLY_PARSE_H_
#define CONNSCHED_LOADGEN_REPLY_PARSE_H_

#include <cstddef>
#include <string_view>

namespace loadgen {

enum class ParseStatus {
  kIncomplete,  ///< a prefix of a valid reply: wait for more bytes
  kComplete,    ///< one whole reply, `consumed` bytes long
  kInvalid,     ///< not a reply of this protocol: the connection is unusable
};

struct ReplyParse {
  ParseStatus status = ParseStatus::kIncomplete;
  std::size_t consumed = 0;
  /// The reply reports a failure (RESP error, HTTP status >= 400, "ERROR ..." line).
  bool is_error = false;
  /// The server is closing the connection after this reply (HTTP "Connection: close").
  bool closes = false;
  /// The HTTP status code (0 for other protocols).
  int http_status = 0;
  /// The reply's first line without CR LF, for reporting errors.
  std::string_view first_line;
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_REPLY_PARSE_H_
