// File: test/examples/unit/http_request_test.cc
//
// The HTTP request parser and routes as pure functions: one request per call, where it
// ends, keep-alive rules, the limits, and the statuses of the routes.
#include <doctest/doctest.h>

#include <string>

#include "connsched/http_status.h"
#include "http_head_checks.h"
#include "http_request.h"
#include "http_response.h"
#include "http_routes.h"
#include "http_session.h"

using http::HttpLimits;
using http::HttpRequest;
using http::parse_http_request;
using Status = HttpRequest::Status;

namespace {
class FakeContext final : public connsched::RequestContext {
 public:
  std::uint64_t connection_id() const override { return 1; }
  void set_in_transaction(bool) override {}
  bool in_transaction() const override { return false; }
  void close_after_reply() override {}
  bool killed() const override { return false; }
};
}  // namespace

TEST_CASE("a GET request is parsed into method, path and query") {
  HttpRequest r = parse_http_request("GET /burn?us=5&x=1 HTTP/1.1\r\nHost: a\r\n\r\n", {});
  REQUIRE(r.status == Status::kComplete);
  CHECK(r.method == "GET");
  CHECK(r.path == "/burn");
  CHECK(r.query == "us=5&x=1");
  CHECK(r.keep_alive);
  bool found = false;
  CHECK(http::query_param(r.query, "us", found) == "5");
  CHECK(found);
  http::query_param(r.query, "u", found);
  CHECK_FALSE(found);
}

TEST_CASE("only the first pipelined request is taken, and exactly its bytes") {
  std::string first = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  HttpRequest r = parse_http_request(first + "GET / HTTP/1.1\r\n\r\n", {});
  REQUIRE(r.status == Status::kComplete);
  CHECK(r.consumed == first.size());
  CHECK(r.body == "abc");
}

TEST_CASE("every proper prefix of a request is incomplete") {
  std::string wire =
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  for (std::size_t n = 0; n < wire.size(); ++n) {
    CAPTURE(n);
    CHECK(parse_http_request(wire.substr(0, n), {}).status == Status::kIncomplete);
  }
  HttpRequest r = parse_http_request(wire, {});
  REQUIRE(r.status == Status::kComplete);
  CHECK(r.body == "abc");
}

// Found by fuzz_http_request (fuzz/regressions/http_request/head_lf_then_crlf_pipelined):
// the head's end was guessed by searching for CRLFCRLF or LFLF, so a head that http-parser
// accepts ending in LF CR LF was taken as still open, and a pipelined tail made it a 431.
TEST_CASE("the head ends where http-parser says, whatever follows it") {
  HttpLimits limits;
  limits.max_head_bytes = 100;
  std::string first = "GET /a HTTP/1.1\nHost: x\n\r\n";
  HttpRequest r = parse_http_request(first + std::string(300, 'A'), limits);
  REQUIRE(r.status == Status::kComplete);
  CHECK(r.consumed == first.size());
  CHECK(r.path == "/a");
  std::string head = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
  CHECK(parse_http_request(head, limits).error_status == 431);
  CHECK(parse_http_request(head.substr(0, 60), limits).status == Status::kIncomplete);
}

TEST_CASE("keep-alive follows the HTTP version and the Connection header") {
  CHECK(parse_http_request("GET / HTTP/1.1\r\n\r\n", {}).keep_alive);
  CHECK_FALSE(parse_http_request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", {}).keep_alive);
  CHECK_FALSE(parse_http_request("GET / HTTP/1.0\r\n\r\n", {}).keep_alive);
  CHECK(parse_http_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {}).keep_alive);
}

TEST_CASE("limits: 431 for a long head, 413 for a long body, 400 for garbage") {
  HttpLimits limits;
  limits.max_head_bytes = 100;
  limits.max_body_bytes = 10;
  CHECK(parse_http_request("GET / HTTP/1.1\r\nX: " + std::string(200, 'a'), limits).error_status ==
        431);
  CHECK(parse_http_request("GET /" + std::string(200, 'a'), limits).error_status == 431);
  CHECK(parse_http_request("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits).error_status ==
        413);
  CHECK(parse_http_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", limits)
            .status == Status::kIncomplete);
  CHECK(parse_http_request(
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n", limits)
            .error_status == 413);
  CHECK(parse_http_request("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits)
            .status == Status::kComplete);
  HttpRequest bad = parse_http_request("HELLO\x01 / HTTP/1.1\r\n\r\n", limits);
  CHECK(bad.status == Status::kError);
  CHECK(bad.error_status == 400);
  CHECK_FALSE(bad.error.empty());
}

TEST_CASE("routes answer with the status a client expects") {
  FakeContext ctx;
  auto status = [&](const std::string& wire) {
    HttpRequest r = parse_http_request(wire, {});
    REQUIRE(r.status == Status::kComplete);
    return http::route_request(r, ctx).status;
  };
  CHECK(status("GET / HTTP/1.1\r\n\r\n") == 200);
  CHECK(status("GET /burn?us=10 HTTP/1.1\r\n\r\n") == 200);
  CHECK(status("GET /sleep?ms=1 HTTP/1.1\r\n\r\n") == 200);
  CHECK(status("GET /sleep?ms=99999999 HTTP/1.1\r\n\r\n") == 400);
  CHECK(status("GET /burn HTTP/1.1\r\n\r\n") == 400);
  CHECK(status("DELETE / HTTP/1.1\r\n\r\n") == 405);
  CHECK(status("GET /other HTTP/1.1\r\n\r\n") == 404);
}

TEST_CASE("a response carries its length; HEAD leaves the body out; close is said") {
  http::HttpResponse r;
  r.body = "hello";
  CHECK(http::format_response(r, true, 1) ==
        "HTTP/1.1 200 OK\r\nServer: connsched-http\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Length: 5\r\n\r\nhello");
  std::string head = http::format_response(r, false, 1, true);
  CHECK(head.find("Content-Length: 5\r\nConnection: close\r\n\r\n") != std::string::npos);
  CHECK(head.find("hello") == std::string::npos);
  CHECK(http::format_response(r, true, 0).find("Connection: keep-alive\r\n") != std::string::npos);
}

// Strictness on top of Debian's lenient http-parser (http_head_checks.h, issue #19 item
// 8): each of these was acted on before, and is a request-smuggling vector behind a
// proxy that reads the head differently.
namespace {
// The status of a request's refusal, 0 when it parses.
int refused_with(const std::string& wire) {
  HttpRequest r = parse_http_request(wire, {});
  if (r.status != Status::kError) return 0;
  CHECK_FALSE(r.keep_alive);
  return r.error_status;
}
}  // namespace

TEST_CASE("whitespace between a header name and its colon is a 400 (RFC 9112 section 5.1)") {
  HttpRequest chunked = parse_http_request(
      "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", {});
  CHECK(chunked.status == Status::kError);
  CHECK(chunked.error_status == 400);
  CHECK(chunked.error.find("whitespace between a header name and its colon") != std::string::npos);
  CHECK(refused_with("POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello") == 400);
  CHECK(refused_with("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n") == 400);
  CHECK(refused_with("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello") == 0);
  CHECK(refused_with("GET / HTTP/1.1\r\nHost:a\r\nX-Y:  b \r\n\r\n") == 0);  // OWS is fine
}

TEST_CASE("a header name with a character outside tchar is a 400") {
  for (const char* name : {"X(y)", "X/y", "X@y", "X\"y", "X[y]", "X{y}", "X=y", "X,y", "X;y"}) {
    CAPTURE(name);
    CHECK(refused_with(std::string("GET / HTTP/1.1\r\n") + name + ": 1\r\n\r\n") == 400);
  }
  CHECK(refused_with("GET / HTTP/1.1\r\nX-a.b_c~!#$%&'*+^`|: 1\r\n\r\n") == 0);
}

TEST_CASE("obsolete line folding and control characters in a value are a 400") {
  HttpRequest folded =
      parse_http_request("GET / HTTP/1.1\r\nX-Long: a\r\n b\r\nHost: x\r\n\r\n", {});
  CHECK(folded.error_status == 400);
  CHECK(folded.error.find("obsolete line folding") != std::string::npos);
  CHECK(refused_with("GET / HTTP/1.1\r\nX-Long: a\r\n\tb\r\n\r\n") == 400);
  CHECK(refused_with(std::string("GET / HTTP/1.1\r\nX: a\x01", 22) + "b\r\n\r\n") == 400);
  CHECK(refused_with("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n") == 400);
  CHECK(refused_with("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n") == 0);  // obs-text passes
}

TEST_CASE("two framing headers are a 400: Content-Length twice, Transfer-Encoding twice, both") {
  HttpRequest twice = parse_http_request(
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", {});
  CHECK(twice.error_status == 400);  // http-parser's own check or ours, whichever sees it first
  CHECK(refused_with("POST / HTTP/1.1\r\ncontent-length: 3\r\nCONTENT-LENGTH: 4\r\n\r\nabcd") ==
        400);
  CHECK(refused_with("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n0\r\n\r\n") == 400);
  HttpRequest both = parse_http_request(
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {});
  CHECK(both.error_status == 400);
}

TEST_CASE("HTTP versions other than 1.0 and 1.1 get 505") {
  for (const char* version : {"HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"}) {
    CAPTURE(version);
    HttpRequest r = parse_http_request(std::string("GET / ") + version + "\r\nHost: a\r\n\r\n", {});
    CHECK(r.status == Status::kError);
    CHECK(r.error_status == 505);
  }
  CHECK(refused_with("GET / HTTP/1.0\r\n\r\n") == 0);
  CHECK(refused_with("GET / HTTP/1.1\r\n\r\n") == 0);
  CHECK(connsched::http_reason_phrase(505) == "HTTP Version Not Supported");
}

TEST_CASE(
    "Expect: 100-continue is reported while the body is missing; another expectation is a 417") {
  const std::string head = "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
  HttpRequest waiting = parse_http_request(head, {});
  CHECK(waiting.status == Status::kIncomplete);
  CHECK(waiting.expect_continue);
  CHECK_FALSE(parse_http_request(head.substr(0, head.size() - 2), {}).expect_continue);
  HttpRequest done = parse_http_request(head + "abc", {});
  REQUIRE(done.status == Status::kComplete);
  CHECK(done.body == "abc");
  // HTTP/1.0 cannot be waiting for it (RFC 9110 section 10.1.1).
  CHECK_FALSE(parse_http_request("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: "
                                 "3\r\n\r\n",
                                 {})
                  .expect_continue);
  // The final answer instead of 100 when the body would be refused anyway.
  HttpLimits small;
  small.max_body_bytes = 2;
  CHECK(parse_http_request(head, small).error_status == 413);
  HttpRequest other = parse_http_request("POST / HTTP/1.1\r\nExpect: tea\r\n\r\n", {});
  CHECK(other.error_status == 417);
  CHECK(connsched::http_reason_phrase(417) == "Expectation Failed");
}

TEST_CASE("the session sends 100 Continue once per request, before the body, then the answer") {
  http::HttpSession session(HttpLimits{});
  FakeContext ctx;
  std::string out;
  connsched::Reply reply(out);
  const std::string head = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  CHECK(session.handle(head, reply, ctx) == 0);
  CHECK(out == http::kContinue);
  CHECK(session.handle(head + "a", reply, ctx) == 0);  // not again for the same request
  CHECK(out == http::kContinue);
  out.clear();
  CHECK(session.handle(head + "abc", reply, ctx) == head.size() + 3);
  CHECK(out.rfind("HTTP/1.1 405 ", 0) == 0);
  out.clear();
  CHECK(session.handle(head, reply, ctx) == 0);  // the next request gets its own
  CHECK(out == http::kContinue);
}

TEST_CASE("the head checks on their own: framing headers counted across case, reasons named") {
  using http::check_request_head;
  CHECK(check_request_head("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n")
            .error.find("more than one Content-Length") != std::string::npos);
  CHECK(check_request_head(
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n")
            .error.find("more than one Transfer-Encoding") != std::string::npos);
  CHECK(check_request_head(
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
            .error.find("both Content-Length and Transfer-Encoding") != std::string::npos);
  CHECK(check_request_head("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n").status == 400);  // bare CR
  CHECK(check_request_head("\r\nGET / HTTP/1.1\nHost: a\n\n").status == 0);      // LF, empty first
  CHECK(check_request_head("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").expect_continue);
}
