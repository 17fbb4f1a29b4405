// File: fuzz/fuzz_http_request.cc
//
// libFuzzer target: http_server's request handling — parse_http_request (http-parser
// under our limits and callbacks), routing, and the session loop that takes pipelined
// requests one at a time. Checks that a complete request consumed at least one byte and
// no more than it was given and parses the same from its own bytes; that every response
// is one well-formed HTTP/1.1 message whose Content-Length matches its body; and that
// the connection closes exactly when the request asked for it or was refused; and that
// "100 Continue" goes out exactly when a head that passed every check asked for it.
//
// /burn spins for real, so a /burn request is skipped rather than run; /sleep returns
// at once because the context reports the connection as killed.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "fuzz_context.h"
#include "http_request.h"
#include "http_session.h"

namespace {

using http::HttpRequest;
using Status = HttpRequest::Status;

// One response: a status line, headers with a Content-Length, and that many body bytes
// (none for HEAD, which still declares the length).
void check_response(std::string_view response, bool head_only) {
  FUZZ_CHECK(response.starts_with("HTTP/1.1 "));
  std::size_t head_end = response.find("\r\n\r\n");
  FUZZ_CHECK(head_end != std::string_view::npos);
  std::string_view head = response.substr(0, head_end + 2);
  std::string_view body = response.substr(head_end + 4);
  constexpr std::string_view kLength = "\r\nContent-Length: ";
  std::size_t at = head.find(kLength);
  FUZZ_CHECK(at != std::string_view::npos);
  std::string_view digits = head.substr(at + kLength.size());
  std::size_t declared = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), declared);
  FUZZ_CHECK(ec == std::errc() && std::string_view(end, 2) == "\r\n");
  FUZZ_CHECK(body.size() == (head_only ? 0 : declared));
}

// A complete request is a fact about its own bytes, not about what follows them.
void check_complete(std::string_view input, const HttpRequest& r, const http::HttpLimits& limits) {
  FUZZ_CHECK(r.consumed > 0 && r.consumed <= input.size());
  HttpRequest again = http::parse_http_request(input.substr(0, r.consumed), limits);
  FUZZ_CHECK(again.status == Status::kComplete);
  FUZZ_CHECK(again.consumed == r.consumed);
  FUZZ_CHECK(again.method == r.method && again.path == r.path && again.query == r.query);
  FUZZ_CHECK(again.body == r.body && again.keep_alive == r.keep_alive);
  FUZZ_CHECK(r.body.size() <= limits.max_body_bytes);
  // Nor about how much follows: a pipelined tail of any size leaves it as it was.
  std::string followed(input.substr(0, r.consumed));
  followed.append(limits.max_head_bytes + limits.max_body_bytes, 'A');
  HttpRequest with_tail = http::parse_http_request(followed, limits);
  FUZZ_CHECK(with_tail.status == Status::kComplete);
  FUZZ_CHECK(with_tail.consumed == r.consumed);
  FUZZ_CHECK(r.path.find('?') == std::string::npos);
  bool found = false;
  std::string_view value = http::query_param(r.query, "us", found);
  FUZZ_CHECK(found || value.empty());
  if (!value.empty()) {
    FUZZ_CHECK(value.data() >= r.query.data() &&
               value.data() + value.size() <= r.query.data() + r.query.size());
  }
}

}  // namespace

// The input is a connection's byte stream under small limits (so 413 and 431 are
// reachable); every request in it is handled in turn until the session closes.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const http::HttpLimits limits{.max_head_bytes = 512, .max_body_bytes = 256};
  http::HttpSession session(limits);
  fuzz::FuzzContext ctx;
  std::string out;
  connsched::Reply reply(out);
  std::string_view pending(reinterpret_cast<const char*>(data), size);
  while (!pending.empty() && !ctx.close_requested) {
    HttpRequest expected = http::parse_http_request(pending, limits);
    if (expected.status == Status::kComplete) {
      check_complete(pending, expected, limits);
      if (expected.path == "/burn") {
        pending.remove_prefix(expected.consumed);
        continue;
      }
    }
    std::size_t used = session.handle(pending, reply, ctx);
    switch (expected.status) {
      case Status::kIncomplete:
        // Nothing, or the interim "100 Continue" the head asked for (once: the loop ends).
        FUZZ_CHECK(used == 0 && !ctx.close_requested);
        FUZZ_CHECK(out == (expected.expect_continue ? http::kContinue : std::string_view{}));
        break;
      case Status::kError:
        FUZZ_CHECK(expected.error_status == 400 || expected.error_status == 413 ||
                   expected.error_status == 417 || expected.error_status == 431 ||
                   expected.error_status == 505);
        FUZZ_CHECK(used == pending.size() && ctx.close_requested);
        check_response(out, false);
        break;
      case Status::kComplete:
        FUZZ_CHECK(used == expected.consumed);
        FUZZ_CHECK(ctx.close_requested == !expected.keep_alive);
        check_response(out, expected.method == "HEAD");
        break;
    }
    if (used == 0) break;
    pending.remove_prefix(used);
    out.clear();
  }
  return 0;
}
