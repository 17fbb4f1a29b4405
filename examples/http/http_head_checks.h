// File: examples/http/http_head_checks.h
//
// What http_server refuses on top of http-parser. Debian builds the parser without
// HTTP_PARSER_STRICT, so it accepts, among others, a space between a header name and
// its colon ("Transfer-Encoding : chunked" is then honoured as chunked): the classic
// request-smuggling difference between a lenient proxy and a strict server. These
// checks run over the whole head once the parser has found its end, and refuse
// (RFC 9112 and RFC 9110 section numbers in the reasons):
//  - whitespace between a header name and its colon (RFC 9112 §5.1), a name that is
//    not a token (RFC 9110 §5.1), a value with control characters (RFC 9110 §5.5),
//  - obsolete line folding (RFC 9112 §5.2), a CR not followed by LF (RFC 9112 §2.2),
//  - more than one Content-Length or Transfer-Encoding, or both (RFC 9112 §6.1, §6.3),
//  - an Expect other than 100-continue: 417 (RFC 9110 §10.1.1).
#ifndef CONNSCHED_EXAMPLES_HTTP_HTTP_HEAD_CHECKS_H_
#define CONNSCHED_EXAMPLES_HTTP_HTTP_HEAD_CHECKS_H_

#include <string>
#include <string_view>

namespace http {

struct HeadCheck {
  int status = 0;                ///< 0 when the head passes; else 400 or 417
  std::string error;             ///< why, for the error body
  bool expect_continue = false;  ///< "Expect: 100-continue" was sent
};

/// `head` is the request line and the header lines, up to and including the empty line
/// that ends them, as http-parser delimited it.
HeadCheck check_request_head(std::string_view head);

}  // namespace http

#endif  // CONNSCHED_EXAMPLES_HTTP_HTTP_HEAD_CHECKS_H_
