// File: test/examples/unit/resp_parser_test.cc
//
// The RESP2 request parser as a pure function: what it accepts, where a request ends,
// what it waits for, and how it refuses.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "resp_parser.h"

using kv::parse_resp_request;
using kv::RespLimits;
using kv::RespRequest;
using Status = RespRequest::Status;
using Args = std::vector<std::string>;

TEST_CASE("a multi-bulk request is parsed into its arguments, binary-safe") {
  std::string value("a\r\nb\0c", 6);
  std::string wire = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\n" + value + "\r\n";
  RespRequest r = parse_resp_request(wire, {});
  REQUIRE(r.status == Status::kComplete);
  CHECK(r.consumed == wire.size());
  CHECK(r.args == Args{"SET", "k", value});
}

TEST_CASE("an inline request is split on spaces with Redis's quoting rules") {
  RespRequest r = parse_resp_request("SET \"a b\\n\\x41\" 'it\\'s'  c\r\n", {});
  REQUIRE(r.status == Status::kComplete);
  CHECK(r.args == Args{"SET", "a b\nA", "it's", "c"});
  RespRequest lf_only = parse_resp_request("PING\n", {});
  CHECK(lf_only.status == Status::kComplete);
  CHECK(lf_only.consumed == 5);
  CHECK(lf_only.args == Args{"PING"});
}

TEST_CASE("only the first of pipelined requests is taken, and exactly its bytes") {
  std::string first = "*1\r\n$4\r\nPING\r\n";
  RespRequest r = parse_resp_request(first + "GET k\r\n*1\r\n$4\r\nPI", {});
  REQUIRE(r.status == Status::kComplete);
  CHECK(r.consumed == first.size());
  CHECK(r.args == Args{"PING"});
}

TEST_CASE("every proper prefix of a request is incomplete, never an error") {
  for (std::string wire : {std::string("*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n"),
                           std::string("ECHO \"quoted value\"\r\n")}) {
    for (std::size_t n = 0; n < wire.size(); ++n) {
      CAPTURE(n);
      CHECK(parse_resp_request(wire.substr(0, n), {}).status == Status::kIncomplete);
    }
    CHECK(parse_resp_request(wire, {}).status == Status::kComplete);
  }
}

TEST_CASE("blank lines and empty arrays are complete requests with no arguments") {
  for (std::string wire : {"\r\n", "*0\r\n", "*-1\r\n", "   \r\n"}) {
    CAPTURE(wire);
    RespRequest r = parse_resp_request(wire, {});
    CHECK(r.status == Status::kComplete);
    CHECK(r.consumed == wire.size());
    CHECK(r.args.empty());
  }
}

TEST_CASE("malformed frames are refused with Redis's protocol errors") {
  struct Case {
    std::string wire, error;
  };
  const Case cases[] = {
      {"*x\r\n", "Protocol error: invalid multibulk length"},
      {"*2000000\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$1x\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$2\r\nabcd\r\n", "Protocol error: expected CRLF after a bulk string"},
      {"*" + std::string(40, '1'), "Protocol error: too big mbulk count string"},
      {"*1\r\n$" + std::string(40, '1'), "Protocol error: too big bulk count string"},
      {"GET \"abc\r\n", "Protocol error: unbalanced quotes in request"},
      {"GET \"abc\"d\r\n", "Protocol error: unbalanced quotes in request"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.wire);
    RespRequest r = parse_resp_request(c.wire, {});
    CHECK(r.status == Status::kError);
    CHECK(r.error == c.error);
  }
}

TEST_CASE("declared lengths over the limits are refused before their bytes arrive") {
  RespLimits limits;
  limits.max_bulk_length = 100;
  limits.max_arguments = 3;
  limits.max_inline_length = 50;
  CHECK(parse_resp_request("*1\r\n$101\r\n", limits).error ==
        "Protocol error: invalid bulk length");
  CHECK(parse_resp_request("*1\r\n$100\r\n", limits).status == Status::kIncomplete);
  CHECK(parse_resp_request("*1\r\n$9223372036854775807\r\n", limits).status == Status::kError);
  CHECK(parse_resp_request("*4\r\n", limits).error == "Protocol error: invalid multibulk length");
  CHECK(parse_resp_request(std::string(51, 'a'), limits).error ==
        "Protocol error: too big inline request");
  CHECK(parse_resp_request(std::string(50, 'a'), limits).status == Status::kIncomplete);
  CHECK(parse_resp_request("a b c d\r\n", limits).error ==
        "Protocol error: invalid multibulk length");
}

TEST_CASE("an incomplete bulk says how many bytes the request needs before it can go on") {
  const std::string head = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\n";
  RespRequest r = parse_resp_request(head + std::string(1000, 'x'), RespLimits{});
  CHECK(r.status == Status::kIncomplete);
  CHECK(r.needed == head.size() + 1048576 + 2);
  // A short bulk counts too: "$3\r\nSE" needs 1 more byte and its CRLF.
  CHECK(parse_resp_request("*3\r\n$3\r\nSE", RespLimits{}).needed == 13);
  // Before a bulk's length is read, nothing is known.
  CHECK(parse_resp_request("*3\r\n$3", RespLimits{}).needed == 0);
}
