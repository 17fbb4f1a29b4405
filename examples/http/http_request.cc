// File: examples/http/http_request.cc
#include "http_request.h"

#include <http_parser.h>

#include <algorithm>
#include <climits>

#include "http_head_checks.h"

namespace http {

namespace {

// What the callbacks collect while one request is parsed.
struct ParseState {
  const HttpLimits* limits = nullptr;
  std::string url;
  std::string body;
  bool url_too_long = false;
  bool body_too_large = false;
  bool headers_done = false;
  bool complete = false;
};

ParseState& state_of(http_parser* p) {
  return *static_cast<ParseState*>(p->data);
}

// The URL may come in pieces; it is bounded by the head limit like the rest of the head.
int on_url(http_parser* p, const char* at, std::size_t length) {
  ParseState& s = state_of(p);
  if (s.url.size() + length > s.limits->max_head_bytes) {
    s.url_too_long = true;
    http_parser_pause(p, 1);
    return 0;
  }
  s.url.append(at, length);
  return 0;
}

// Pausing at the end of the head makes http_parser_execute return there, so the head's
// length is the parser's own (whatever line endings the client used), and a declared
// Content-Length over the limit is refused before any of the body arrives.
int on_headers_complete(http_parser* p) {
  ParseState& s = state_of(p);
  s.headers_done = true;
  s.body_too_large =
      p->content_length != ULLONG_MAX && p->content_length > s.limits->max_body_bytes;
  http_parser_pause(p, 1);
  return 0;
}

int on_body(http_parser* p, const char* at, std::size_t length) {
  ParseState& s = state_of(p);
  if (s.body.size() + length > s.limits->max_body_bytes) {  // chunked bodies end here
    s.body_too_large = true;
    http_parser_pause(p, 1);
    return 0;
  }
  s.body.append(at, length);
  return 0;
}

// Pausing here makes http_parser_execute return right after this message, so the
// bytes of a pipelined next request stay for the next call.
int on_message_complete(http_parser* p) {
  state_of(p).complete = true;
  http_parser_pause(p, 1);
  return 0;
}

HttpRequest error(int status, std::string why) {
  HttpRequest r;
  r.status = HttpRequest::Status::kError;
  r.error_status = status;
  r.error = std::move(why);
  r.keep_alive = false;
  return r;
}

}  // namespace

// A fresh parser per call over everything pending: pure, and cheap because the input
// is bounded by the head and body limits (and core's max_request_size).
HttpRequest parse_http_request(std::string_view input, const HttpLimits& limits) {
  ParseState state;
  state.limits = &limits;
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &state;
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_url = on_url;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
  std::size_t parsed = http_parser_execute(&parser, &settings, input.data(), input.size());
  bool expect_continue = false;
  if (state.headers_done) {
    // Paused on the head's final LF, which the parser reads again when resumed.
    if (parsed + 1 > limits.max_head_bytes) {
      return error(431, "request line and headers are too large");
    }
    if (!(parser.http_major == 1 && (parser.http_minor == 0 || parser.http_minor == 1))) {
      return error(505, "only HTTP/1.0 and HTTP/1.1 are served");
    }
    HeadCheck head = check_request_head(input.substr(0, parsed + 1));
    if (head.status != 0) return error(head.status, head.error);
    if (state.body_too_large) return error(413, "request body is too large");
    // RFC 9110 section 10.1.1: a 1.0 client cannot be waiting for 100 Continue.
    expect_continue = head.expect_continue && parser.http_minor == 1;
    http_parser_pause(&parser, 0);
    parsed += http_parser_execute(&parser, &settings, input.data() + parsed, input.size() - parsed);
  }
  auto err = HTTP_PARSER_ERRNO(&parser);
  bool head_too_large =
      !state.headers_done && err == HPE_OK && input.size() > limits.max_head_bytes;
  if (state.url_too_long || err == HPE_HEADER_OVERFLOW || head_too_large) {
    return error(431, "request line and headers are too large");
  }
  if (state.body_too_large) return error(413, "request body is too large");
  if (err != HPE_OK && err != HPE_PAUSED) {
    return error(400, http_errno_description(err));
  }
  if (!state.complete) {
    HttpRequest waiting;
    waiting.expect_continue = expect_continue;
    return waiting;
  }
  HttpRequest r;
  r.status = HttpRequest::Status::kComplete;
  r.consumed = parsed;
  r.method = http_method_str(static_cast<http_method>(parser.method));
  r.http_major = parser.http_major;
  r.http_minor = parser.http_minor;
  r.keep_alive = http_should_keep_alive(&parser) != 0;
  std::string_view url = state.url;
  std::size_t q = url.find('?');
  r.path = std::string(url.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(url.substr(q + 1));
  r.body = std::move(state.body);
  return r;
}

std::string_view query_param(std::string_view query, std::string_view name, bool& found) {
  found = false;
  while (!query.empty()) {
    std::string_view pair = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    found = true;
    return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return {};
}

}  // namespace http
