// File: test/examples/integration/malformed_corpus_test.cc
//
// Malformed frames from test/examples/corpus/, sent raw over a socket under every
// built-in backend: each gets the protocol's own error and a close, and the server
// goes on serving a healthy client (even no-threads, which serves one at a time).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "backends.h"
#include "example_server.h"
#include "test_client.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

struct Sample {
  std::string name;
  std::string bytes;
};

// Every file of corpus/<folder>, in name order.
std::vector<Sample> corpus(const std::string& folder) {
  std::vector<Sample> out;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(CONNSCHED_TEST_CORPUS_DIR) + "/" + folder)) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.push_back(
        {entry.path().filename().string(),
         std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())});
  }
  std::sort(out.begin(), out.end(),
            [](const Sample& a, const Sample& b) { return a.name < b.name; });
  REQUIRE(out.size() >= 5);
  return out;
}

// Sends `bytes`, returns everything the server said before it closed the connection.
std::string send_and_collect(std::uint16_t port, const std::string& bytes) {
  TestClient client(port);
  REQUIRE(client.send(bytes));
  std::string reply = client.read_all(15s);
  CHECK(client.wait_closed(1s));
  return reply;
}

void check_kv_healthy(std::uint16_t port) {
  TestClient healthy(port);
  REQUIRE(healthy.send("PING\r\n"));
  CHECK(healthy.read_line(15s) == "+PONG\r");
}

void check_http_healthy(std::uint16_t port) {
  TestClient healthy(port);
  REQUIRE(healthy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(healthy.read_line(15s) == "HTTP/1.1 200 OK\r");
}

}  // namespace

TEST_CASE("kv_server answers every malformed RESP frame with a protocol error and a close") {
  auto samples = corpus("resp");
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    for (const auto& sample : samples) {
      CAPTURE(sample.name);
      std::string reply = send_and_collect(server.port(), sample.bytes);
      CHECK(reply.rfind("-ERR Protocol error: ", 0) == 0);
      CHECK(std::count(reply.begin(), reply.end(), '\n') == 1);
      check_kv_healthy(server.port());
    }
    // An inline line longer than 64 KiB, and a request over --max-request-size.
    CHECK(send_and_collect(server.port(), std::string(70 * 1024, 'x')) ==
          "-ERR Protocol error: too big inline request\r\n");
    // Every bulk is within --max-bulk-size (1 MiB); together they exceed --max-request-size,
    // so core refuses the request before it is complete.
    std::string bulk(600000, 'y');
    std::string oversized =
        "*3\r\n$3\r\nSET\r\n$600000\r\n" + bulk + "\r\n$600000\r\n" + bulk.substr(0, 500000);
    CHECK(send_and_collect(server.port(), oversized)
              .rfind("-ERR Protocol error: request larger than", 0) == 0);
    check_kv_healthy(server.port());
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("http_server answers every malformed request with 4xx and a close") {
  auto samples = corpus("http");
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("http_server", backend);
    for (const auto& sample : samples) {
      CAPTURE(sample.name);
      std::string expected = "HTTP/1.1 " + sample.name.substr(0, 3) + " ";
      std::string reply = send_and_collect(server.port(), sample.bytes);
      CHECK(reply.rfind(expected, 0) == 0);
      CHECK(reply.find("\r\nConnection: close\r\n") != std::string::npos);
      check_http_healthy(server.port());
    }
    std::string long_head = "GET / HTTP/1.1\r\nX-Filler: " + std::string(20000, 'h') + "\r\n\r\n";
    CHECK(send_and_collect(server.port(), long_head).rfind("HTTP/1.1 431 ", 0) == 0);
    check_http_healthy(server.port());
    CHECK(server.stop() == 0);
  }
}
