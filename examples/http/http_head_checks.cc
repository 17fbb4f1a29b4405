// File: examples/http/http_head_checks.cc
#include "http_head_checks.h"

#include <algorithm>
#include <cctype>

namespace http {

namespace {

// tchar (RFC 9110 §5.6.2): the characters a header name may hold.
bool is_tchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// field-vchar, SP and HTAB (RFC 9110 §5.5); obs-text (0x80-0xFF) is let through as the
// RFC allows, every other control character is refused.
bool is_value_char(unsigned char c) {
  return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

HeadCheck refuse(int status, std::string why) {
  HeadCheck c;
  c.status = status;
  c.error = std::move(why);
  return c;
}

}  // namespace

// Line by line over the head (LF ends a line, an optional CR before it): the request
// line (after any empty lines, which RFC 9112 §2.2 lets a server skip) is the parser's;
// every header line after it must be `token ":" OWS value OWS`.
HeadCheck check_request_head(std::string_view head) {
  HeadCheck result;
  int content_lengths = 0, transfer_encodings = 0;
  bool request_line_seen = false;
  while (!head.empty()) {
    std::size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    head.remove_prefix(lf == std::string_view::npos ? head.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) {
      return refuse(400, "a CR not followed by LF in the head (RFC 9112 section 2.2)");
    }
    if (!request_line_seen) {
      request_line_seen = !line.empty();
      continue;
    }
    if (line.empty()) break;  // the end of the head
    if (line.front() == ' ' || line.front() == '\t') {
      return refuse(400, "obsolete line folding in a header (RFC 9112 section 5.2)");
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return refuse(400, "a header line without a colon");
    std::string_view name = line.substr(0, colon);
    if (name.empty()) return refuse(400, "an empty header name");
    if (name.back() == ' ' || name.back() == '\t') {
      return refuse(400, "whitespace between a header name and its colon (RFC 9112 section 5.1)");
    }
    if (!std::all_of(name.begin(), name.end(), [](char c) { return is_tchar(c); })) {
      return refuse(400, "an invalid character in a header name (RFC 9110 section 5.1)");
    }
    std::string_view value = trim_ows(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), [](char c) { return is_value_char(c); })) {
      return refuse(400, "a control character in a header value (RFC 9110 section 5.5)");
    }
    if (iequals(name, "Content-Length")) {
      ++content_lengths;
    } else if (iequals(name, "Transfer-Encoding")) {
      ++transfer_encodings;
    } else if (iequals(name, "Expect")) {
      if (!iequals(value, "100-continue")) {
        return refuse(417, "the only expectation understood is 100-continue");
      }
      result.expect_continue = true;
    }
  }
  if (content_lengths > 1) {
    return refuse(400, "more than one Content-Length (RFC 9112 section 6.3)");
  }
  if (transfer_encodings > 1) {
    return refuse(400, "more than one Transfer-Encoding header (RFC 9112 section 6.1)");
  }
  if (content_lengths && transfer_encodings) {
    return refuse(400, "both Content-Length and Transfer-Encoding (RFC 9112 section 6.1)");
  }
  return result;
}

}  // namespace http
