// File: examples/kv/resp_parser.h
//
// RESP2 requests as Redis reads them: multi-bulk arrays ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
// and inline commands ("GET k\r\n", with Redis's quoting rules). A pure function over a
// byte string, so unit tests and a fuzzer can drive it without a server.
//
// Nothing is allocated from a declared length: a bulk is copied only once all of its
// bytes are in the input, and declared lengths and counts are checked against limits
// first, so a hostile "$999999999999" costs nothing.
#ifndef CONNSCHED_EXAMPLES_KV_RESP_PARSER_H_
#define CONNSCHED_EXAMPLES_KV_RESP_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

struct RespLimits {
  std::size_t max_bulk_length = 1 << 20;    ///< longest single argument (Redis: proto-max-bulk-len)
  std::size_t max_arguments = 1024 * 1024;  ///< most arguments in one request (Redis's own bound)
  std::size_t max_inline_length = 64 * 1024;  ///< longest inline command line
};

struct RespRequest {
  enum class Status {
    kIncomplete,  ///< not all of the request is there yet: read more
    kComplete,    ///< `args` holds the request (empty: a blank line, to be ignored)
    kError,       ///< malformed: reply "-ERR <error>" and close
  };
  Status status = Status::kIncomplete;
  std::size_t consumed = 0;  ///< kComplete: bytes of this request
  /// kIncomplete: bytes the request needs at least before parsing it again can get
  /// further (the end of a bulk whose length is known); 0 when not known.
  std::size_t needed = 0;
  std::vector<std::string> args;
  std::string error;  ///< kError: "Protocol error: ..." as Redis words it
};

/// Parses the one request at the front of `input`.
RespRequest parse_resp_request(std::string_view input, const RespLimits& limits);

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_RESP_PARSER_H_
