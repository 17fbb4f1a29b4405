// File: test/examples/integration/http_server_test.cc
//
// http_server as HTTP clients meet it, under every built-in backend: curl for each
// route and each error, wrk for a short load, raw sockets for pipelining.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backends.h"
#include "example_server.h"
#include "test_client.h"
#include "text_search.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

struct CurlReply {
  int status = 0;
  std::string headers;
  std::string body;
};

// curl -i, split into status code, headers and body.
CurlReply curl(const std::vector<std::string>& extra, const std::string& url) {
  std::vector<std::string> args = {"-sS", "-i", "--max-time", "60"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(url);
  ToolResult r = run_tool("curl", args, {}, 90s);
  INFO("curl stderr: ", r.errors);
  REQUIRE(r.status == 0);
  CurlReply reply;
  auto split = r.output.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  reply.headers = r.output.substr(0, split + 2);
  reply.body = r.output.substr(split + 4);
  REQUIRE(reply.headers.rfind("HTTP/1.", 0) == 0);
  auto status = number_after(reply.headers, " ");
  REQUIRE(status);
  reply.status = static_cast<int>(*status);
  return reply;
}

bool has_header(const CurlReply& r, const std::string& line) {
  return r.headers.find(line + "\r\n") != std::string::npos;
}

}  // namespace

TEST_CASE(
    "http_server serves its routes and refuses the rest with the right status, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("http_server", backend, {"--max-body-size=1000"});
    auto url = [&](const std::string& path) { return local_url(server.port(), path); };

    CurlReply root = curl({}, url("/"));
    CHECK(root.status == 200);
    CHECK(root.body == "hello from connsched\n");
    CHECK(has_header(root, "Content-Length: 21"));

    CurlReply burn = curl({}, url("/burn?us=2000"));
    CHECK(burn.status == 200);
    CHECK(burn.body.rfind("burned 2000 us", 0) == 0);
    CurlReply slept = curl({}, url("/sleep?ms=20"));
    CHECK(slept.status == 200);
    CHECK(slept.body == "slept 20 ms\n");

    CHECK(curl({}, url("/nowhere")).status == 404);
    CHECK(curl({}, url("/sleep")).status == 400);
    CHECK(curl({}, url("/sleep?ms=soon")).status == 400);
    CHECK(curl({}, url("/burn?us=-5")).status == 400);
    CurlReply post = curl({"-X", "POST"}, url("/"));
    CHECK(post.status == 405);
    CHECK(has_header(post, "Allow: GET, HEAD"));
    CurlReply head = curl({"-I"}, url("/"));
    CHECK(head.status == 200);
    CHECK(head.body.empty());

    // Limits: headers over --max-header-size (8 KiB) are 431, bodies over
    // --max-body-size (1000 bytes here) are 413; both close the connection.
    CurlReply big_head = curl({"-H", "X-Filler: " + std::string(9000, 'a')}, url("/"));
    CHECK(big_head.status == 431);
    CHECK(has_header(big_head, "Connection: close"));
    CurlReply big_body = curl({"--data-binary", std::string(2000, 'b')}, url("/"));
    CHECK(big_body.status == 413);
    CHECK(has_header(big_body, "Connection: close"));

    CurlReply closing = curl({"-H", "Connection: close"}, url("/"));
    CHECK(closing.status == 200);
    CHECK(has_header(closing, "Connection: close"));
    CurlReply old = curl({"--http1.0"}, url("/"));
    CHECK(old.status == 200);
    CHECK(has_header(old, "Connection: close"));
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("http_server keeps connections alive and answers pipelined requests in order") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("http_server", backend);
    TestClient client(server.port());
    REQUIRE(
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /sleep?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::vector<std::string> statuses;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (statuses.size() < 3 && std::chrono::steady_clock::now() < deadline) {
      auto line = client.read_line(1s);
      if (line && line->rfind("HTTP/1.1 ", 0) == 0) statuses.push_back(line->substr(9, 3));
    }
    CHECK(statuses == std::vector<std::string>{"200", "404", "200"});
    // The same connection still serves; an HTTP/1.0 request without keep-alive closes it.
    REQUIRE(client.send("GET / HTTP/1.0\r\n\r\n"));
    std::string rest = client.read_all(10s);
    CHECK(rest.find("HTTP/1.1 200 OK") != std::string::npos);
    CHECK(rest.find("Connection: close") != std::string::npos);
    CHECK(client.wait_closed(10s));
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("wrk drives http_server on every backend without socket errors") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("http_server", backend);
    // no-threads serves one connection at a time: wrk gets one connection there.
    std::string connections = serves_one_at_a_time(backend) ? "1" : "20";
    std::string threads = serves_one_at_a_time(backend) ? "1" : "2";
    ToolResult r = run_tool("wrk",
                            {"-t" + threads, "-c" + connections, "-d2s", "--timeout", "10s",
                             local_url(server.port(), "/")},
                            {}, 120s);
    INFO("wrk output: ", r.output, r.errors);
    REQUIRE(r.status == 0);
    auto requests = number_before(r.output, " requests in ");
    REQUIRE(requests);
    CHECK(*requests > 100);
    CHECK(r.output.find("Socket errors") == std::string::npos);
    CHECK(r.output.find("Non-2xx") == std::string::npos);
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("http_server refuses a connection over max_connections with 503") {
  for (const auto& backend : builtin_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // its one connection blocks the acceptor
    CAPTURE(backend);
    ExampleServer server("http_server", backend, {"--max-connections=1"});
    TestClient first(server.port());
    REQUIRE(first.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(first.read_line() == "HTTP/1.1 200 OK\r");
    TestClient second(server.port());
    std::string refusal = second.read_all(10s);
    CHECK(refusal.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(refusal.find("Connection: close") != std::string::npos);
    CHECK(server.stop() == 0);
  }
}

TEST_CASE(
    "http_server answers a smuggling-shaped head with 400, HTTP/2.0 with 505, and a 1.1 body "
    "behind Expect: 100-continue with 100 Continue first") {
  ExampleServer server("http_server", "one-thread-per-connection");
  const auto answer = [&](const std::string& wire) {
    TestClient client(server.port());
    REQUIRE(client.send(wire));
    std::string reply = client.read_all(10s);
    CHECK(client.wait_closed(10s));  // a refused head ends its connection
    return reply;
  };
  CHECK(answer("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n")
            .rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(answer("POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello")
            .rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(answer("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n")
            .rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(answer("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na")
            .rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(answer("GET / HTTP/2.0\r\nHost: x\r\n\r\n")
            .rfind("HTTP/1.1 505 HTTP Version Not Supported\r\n", 0) == 0);
  CHECK(answer("GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n")
            .rfind("HTTP/1.1 417 Expectation Failed\r\n", 0) == 0);
  {
    // The head alone gets "100 Continue" and nothing else; then the body gets the answer.
    TestClient client(server.port());
    REQUIRE(
        client.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    "Content-Length: 3\r\n\r\n"));
    CHECK(client.read_line() == "HTTP/1.1 100 Continue\r");
    CHECK(client.read_line() == "\r");
    CHECK(client.read_all(500ms).empty());
    REQUIRE(client.send("abc"));
    CHECK(client.read_line() == "HTTP/1.1 405 Method Not Allowed\r");
  }
  // curl waits --expect100-timeout (30 s here) for it before sending the body: answered
  // well within that, so the interim response came.
  auto started = std::chrono::steady_clock::now();
  ToolResult r = run_tool(
      "curl",
      {"-sS", "-i", "--max-time", "20", "--expect100-timeout", "30", "-H", "Expect: 100-continue",
       "--data-binary", "body", "-X", "POST", local_url(server.port(), "/")},
      {}, 60s);
  INFO("curl: ", r.output, r.errors);
  CHECK(r.status == 0);
  CHECK(r.output.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 405 ", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - started < 15s);
  CHECK(server.stop() == 0);
}
