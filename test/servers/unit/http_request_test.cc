// File: test/servers/unit/http_request_test.cc
//
// The HTTP request parser and routes as pure functions: one request per call, where it
// ends, keep-alive rules, the limits, and the statuses of the routes.
#include <doctest/doctest.h>

#include <string>

#include "http_request.h"
#include "http_response.h"
#include "http_routes.h"

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
