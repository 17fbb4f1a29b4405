// File: test/tools/loadgen/reply_parse_test.cc
//
// The load generator's reply parsers: every RESP2 type and HTTP/1.x response shape,
// every strict prefix of a reply incomplete, pipelined replies taken one at a time,
// garbage refused; and the request encoders and command-line helpers around them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http_reply.h"
#include "request_class.h"
#include "resp_reply.h"
#include "wire_protocol.h"

using namespace loadgen;

namespace {

// Every strict prefix of `reply` is incomplete, and the whole is one complete reply.
void check_prefixes(WireProtocol protocol, const std::string& reply) {
  CAPTURE(reply);
  for (std::size_t n = 0; n < reply.size(); ++n) {
    CAPTURE(n);
    CHECK(parse_reply(protocol, std::string_view(reply).substr(0, n)).status ==
          ParseStatus::kIncomplete);
  }
  const auto whole = parse_reply(protocol, reply);
  CHECK(whole.status == ParseStatus::kComplete);
  CHECK(whole.consumed == reply.size());
}

// Takes replies off the front of `bytes` until it is empty; returns their first lines.
std::vector<std::string> split_replies(WireProtocol protocol, std::string_view bytes) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    const auto reply = parse_reply(protocol, bytes);
    REQUIRE(reply.status == ParseStatus::kComplete);
    out.emplace_back(reply.first_line);
    bytes.remove_prefix(reply.consumed);
  }
  return out;
}

}  // namespace

TEST_CASE("RESP: every reply type is recognised whole, and every prefix is incomplete") {
  for (const std::string reply :
       {"+PONG\r\n", "-ERR unknown command 'FOO'\r\n", ":1234\r\n", ":-5\r\n", "$5\r\nhello\r\n",
        "$0\r\n\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n", "*2\r\n$3\r\nfoo\r\n:7\r\n",
        "*2\r\n*2\r\n+a\r\n+b\r\n$-1\r\n", "$11\r\nwith\r\nCRLF!\r\n"}) {
    check_prefixes(WireProtocol::kResp, reply);
  }
}

TEST_CASE("RESP: an error reply is flagged as an error, the others are not") {
  CHECK(parse_resp_reply("-ERR max number of clients reached\r\n").is_error);
  CHECK(parse_resp_reply("-ERR max number of clients reached\r\n").first_line ==
        "-ERR max number of clients reached");
  CHECK_FALSE(parse_resp_reply("+OK\r\n").is_error);
  CHECK_FALSE(parse_resp_reply("$4\r\n-ERR\r\n").is_error);
}

TEST_CASE("RESP: pipelined replies are taken off one at a time, in order") {
  const std::string bytes = "+PONG\r\n$3\r\nbar\r\n*1\r\n:1\r\n-ERR no\r\n+PONG\r\n";
  CHECK(split_replies(WireProtocol::kResp, bytes) ==
        std::vector<std::string>{"+PONG", "$3", "*1", "-ERR no", "+PONG"});
  // A second reply cut short leaves the first one complete on its own.
  const auto first = parse_resp_reply("+PONG\r\n$3\r\nba");
  CHECK(first.status == ParseStatus::kComplete);
  CHECK(first.consumed == 7);
  CHECK(parse_resp_reply("$3\r\nba").status == ParseStatus::kIncomplete);
}

TEST_CASE("RESP: garbage is invalid, not waited for") {
  CHECK(parse_resp_reply("HTTP/1.1 200 OK\r\n").status == ParseStatus::kInvalid);
  CHECK(parse_resp_reply("hello").status == ParseStatus::kInvalid);
  CHECK(parse_resp_reply(":12x\r\n").status == ParseStatus::kInvalid);
  CHECK(parse_resp_reply("$3\r\nfooXY").status == ParseStatus::kInvalid);
  CHECK(parse_resp_reply("$-2\r\n").status == ParseStatus::kInvalid);
}

TEST_CASE("RESP: commands are encoded as arrays of bulk strings") {
  CHECK(encode_resp_command("PING") == "*1\r\n$4\r\nPING\r\n");
  CHECK(encode_resp_command("BURN 200000") == "*2\r\n$4\r\nBURN\r\n$6\r\n200000\r\n");
  CHECK(encode_resp_command("SET  k   v") == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
}

TEST_CASE("HTTP: a response is whole once its Content-Length body is in, every prefix incomplete") {
  check_prefixes(WireProtocol::kHttp,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n");
  check_prefixes(WireProtocol::kHttp, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  check_prefixes(WireProtocol::kHttp, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n");
}

TEST_CASE("HTTP: status, keep-alive and close are read from the status line and headers") {
  const auto ok = parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  CHECK(ok.http_status == 200);
  CHECK_FALSE(ok.is_error);
  CHECK_FALSE(ok.closes);
  CHECK(ok.first_line == "HTTP/1.1 200 OK");
  CHECK(parse_http_response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .closes);
  CHECK(parse_http_response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").closes);
  CHECK_FALSE(
      parse_http_response("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
          .closes);
  const auto busy =
      parse_http_response("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  CHECK(busy.status == ParseStatus::kComplete);
  CHECK(busy.is_error);
  CHECK(busy.http_status == 503);
  CHECK(parse_http_response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").is_error);
}

TEST_CASE("HTTP: pipelined responses are taken off one at a time, in order") {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 404 Not Found\r\nContent-Length: "
      "0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz";
  CHECK(split_replies(WireProtocol::kHttp, bytes) ==
        std::vector<std::string>{"HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"});
}

TEST_CASE("HTTP: garbage and unsupported framing are invalid") {
  CHECK(parse_http_response("+PONG\r\n").status == ParseStatus::kInvalid);
  CHECK(parse_http_response("HTTP/2 200\r\n\r\n").status == ParseStatus::kInvalid);
  CHECK(parse_http_response("HTTP/1.1 2x0 OK\r\n\r\n").status == ParseStatus::kInvalid);
  CHECK(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n").status ==
        ParseStatus::kInvalid);
  CHECK(parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").status ==
        ParseStatus::kInvalid);
  CHECK(parse_http_response("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n").status ==
        ParseStatus::kInvalid);
}

TEST_CASE("HTTP: requests are keep-alive GETs of the target") {
  const auto request = encode_http_get("/burn?us=200");
  CHECK(request.starts_with("GET /burn?us=200 HTTP/1.1\r\n"));
  CHECK(request.ends_with("\r\n\r\n"));
  CHECK(request.find("Host: ") != std::string::npos);
}

TEST_CASE("line protocol: a reply is a line, ERROR lines are errors") {
  check_prefixes(WireProtocol::kLine, "hello world\n");
  CHECK(parse_line_reply("ERROR too many connections\n").is_error);
  CHECK(parse_line_reply("hello\r\n").first_line == "hello");
  CHECK(split_replies(WireProtocol::kLine, "a\nb\nc\n") == std::vector<std::string>{"a", "b", "c"});
  CHECK(encode_request(WireProtocol::kLine, "hi") == "hi\n");
}

TEST_CASE("request classes: names and REQUEST:COUNT mixes") {
  CHECK(class_name("PING") == "ping");
  CHECK(class_name("BURN 200") == "burn");
  CHECK(class_name("/burn?us=200") == "/burn");
  const auto mix = parse_mix("BURN 200000:4");
  REQUIRE(mix.has_value());
  CHECK(mix->request == "BURN 200000");
  CHECK(mix->connections == 4);
  CHECK(mix->name == "burn");
  CHECK(parse_mix("/sleep?ms=1:2")->request == "/sleep?ms=1");
  CHECK_FALSE(parse_mix("PING").has_value());
  CHECK_FALSE(parse_mix("PING:0").has_value());
  CHECK_FALSE(parse_mix("PING:x").has_value());
  CHECK(protocol_from_name("resp") == WireProtocol::kResp);
  CHECK_FALSE(protocol_from_name("smtp").has_value());
}
