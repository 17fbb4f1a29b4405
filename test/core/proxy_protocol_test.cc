// File: test/core/proxy_protocol_test.cc
//
// The PROXY protocol on the main listener (--proxy-protocol-networks), in process over
// loopback with real sockets, under every backend: the header's address becomes the
// connection's client address (the TestProtocol's `addr` answers
// RequestContext::client_address), the bytes after the header reach the protocol intact,
// and a malformed, refused or late header closes its connection, counted, while other
// clients keep being served.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string>
#include <thread>

#include "backends.h"
#include "running_server.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

ServerOptions proxied(const std::string& backend, const std::string& networks = "localhost") {
  ServerOptions options = test_options(backend);
  options.proxy_protocol_networks = networks;
  options.log_level = "error";
  return options;
}

std::string be16(unsigned v) {
  return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// A v2 PROXY header over TCP6 from [2001:db8::7]:40000, with one TLV (skipped).
std::string v2_tcp6() {
  in6_addr src{}, dst{};
  ::inet_pton(AF_INET6, "2001:db8::7", &src);
  ::inet_pton(AF_INET6, "2001:db8::1", &dst);
  std::string block = std::string(reinterpret_cast<char*>(&src), 16) +
                      std::string(reinterpret_cast<char*>(&dst), 16) + be16(40000) + be16(443) +
                      std::string("\x05", 1) + be16(3) + "xyz";
  return std::string("\r\n\r\n\0\r\nQUIT\n\x21\x21", 14) + be16(block.size()) + block;
}

std::string v2_local() {
  return std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
}

}  // namespace

TEST_CASE("a v1 and a v2 header from an allowed network set the client address, every backend") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(proxied(backend));
    {
      TestClient v1(server.port());
      // The header and the first request in one write: the request must survive intact.
      REQUIRE(v1.send("PROXY TCP4 203.0.113.7 10.0.0.1 5555 6380\r\naddr\n"));
      CHECK(v1.read_line() == "203.0.113.7:5555");
      CHECK(v1.request("echo after the header") == "after the header");
    }
    {
      TestClient v2(server.port());
      REQUIRE(v2.send(v2_tcp6()));
      std::this_thread::sleep_for(50ms);  // the request in its own segment this time
      CHECK(v2.request("addr") == "[2001:db8::7]:40000");
    }
    CHECK(
        RunningServer::eventually([&] { return server.server().core_stats().proxy_headers == 2; }));
    CHECK(server.server().core_stats().proxy_header_errors == 0);
  }
}

TEST_CASE("a header split over several segments is waited for without holding a thread") {
  // one-thread-per-connection with no cache: the header wait must not use the backend.
  ServerOptions options = proxied("pool-of-threads");
  options.admin_port = 0;
  RunningServer server(options);
  TestClient slow(server.port());
  const std::string header = "PROXY TCP6 2001:db8::5 2001:db8::1 1234 80\r\n";
  for (char c : header.substr(0, 20)) {
    REQUIRE(slow.send(std::string(1, c)));
    std::this_thread::sleep_for(5ms);
  }
  // Meanwhile another proxied client is served at once.
  TestClient other(server.port());
  REQUIRE(other.send("PROXY TCP4 198.51.100.2 10.0.0.1 4000 80\r\n"));
  CHECK(other.request("addr") == "198.51.100.2:4000");
  REQUIRE(slow.send(header.substr(20) + "addr\n"));
  CHECK(slow.read_line() == "[2001:db8::5]:1234");
  // The admin port lists both under the clients their headers named.
  TestClient admin(server.server().admin_port());
  REQUIRE(admin.send("GET /connections HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const std::string listing = admin.read_all(5s);
  CAPTURE(listing);
  CHECK(listing.find("\"client\": \"198.51.100.2:4000\"") != std::string::npos);
  CHECK(listing.find("\"client\": \"[2001:db8::5]:1234\"") != std::string::npos);
}

TEST_CASE("a LOCAL command (a health check) is accepted and keeps the socket's address") {
  RunningServer server(proxied("one-thread-per-connection"));
  TestClient check(server.port());
  REQUIRE(check.send(v2_local() + "addr\n"));
  auto address = check.read_line();
  REQUIRE(address);
  CHECK(address->rfind("127.0.0.1:", 0) == 0);
  TestClient unknown(server.port());
  REQUIRE(unknown.send("PROXY UNKNOWN\r\naddr\n"));
  auto unknown_address = unknown.read_line();
  REQUIRE(unknown_address);
  CHECK(unknown_address->rfind("127.0.0.1:", 0) == 0);
  CHECK(server.server().core_stats().proxy_headers == 2);
}

TEST_CASE("a malformed or truncated header is closed and counted; other clients are served") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(proxied(backend));
    TestClient good(server.port());
    REQUIRE(good.send("PROXY TCP4 192.0.2.1 10.0.0.1 1000 80\r\n"));
    CHECK(good.request("addr") == "192.0.2.1:1000");
    if (serves_one_at_a_time(backend)) good.shutdown_write();
    const char* malformed[] = {
        "PROXY TCP4 192.0.2.01 10.0.0.1 1000 80\r\necho leaked\n",  // a leading zero
        "echo no header at all\n",                                  // no signature
        "PROXY TCP4 192.0.2.1 10.0.0.1 1000 80\necho leaked\n",     // LF without CR
    };
    std::uint64_t expected = 0;
    for (const char* bytes : malformed) {
      CAPTURE(bytes);
      TestClient bad(server.port());
      REQUIRE(bad.send(bytes));
      CHECK(bad.read_all(5s).empty());  // closed, and nothing reached the protocol
      ++expected;
    }
    {
      TestClient truncated(server.port());
      REQUIRE(truncated.send("PROXY TCP4 192.0.2.1 10.0"));
      truncated.shutdown_write();
      CHECK(truncated.read_all(5s).empty());
      ++expected;
    }
    CHECK(RunningServer::eventually(
        [&] { return server.server().core_stats().proxy_header_errors == expected; }));
    if (!serves_one_at_a_time(backend)) CHECK(good.request("echo still here") == "still here");
    TestClient after(server.port());
    REQUIRE(after.send("PROXY TCP4 192.0.2.9 10.0.0.1 1009 80\r\n"));
    if (serves_one_at_a_time(backend)) {
      good.reset();
    }
    CHECK(after.request("addr", 20s) == "192.0.2.9:1009");
    CHECK(server.server().core_stats().requests_too_large == 0);
  }
}

TEST_CASE("a PROXY header from a network not allowed is refused; plain clients are served") {
  RunningServer server(proxied("pool-of-threads", "10.0.0.0/8,2001:db8::/32"));
  TestClient spoofer(server.port());
  REQUIRE(spoofer.send("PROXY TCP4 203.0.113.7 10.0.0.1 5555 6380\r\naddr\n"));
  CHECK(spoofer.read_all(5s).empty());
  TestClient spoofer_v2(server.port());
  REQUIRE(spoofer_v2.send(v2_tcp6() + "addr\n"));
  CHECK(spoofer_v2.read_all(5s).empty());
  // A signature's first bytes alone are held, then refused once the rest arrives.
  TestClient piecewise(server.port());
  REQUIRE(piecewise.send("PRO"));
  std::this_thread::sleep_for(50ms);
  REQUIRE(piecewise.send("XY TCP4 203.0.113.7 10.0.0.1 5555 6380\r\naddr\n"));
  CHECK(piecewise.read_all(5s).empty());
  CHECK(RunningServer::eventually(
      [&] { return server.server().core_stats().proxy_headers_refused == 3; }));
  TestClient plain(server.port());
  auto address = plain.request("addr");
  REQUIRE(address);
  CHECK(address->rfind("127.0.0.1:", 0) == 0);
  CHECK(plain.request("echo PROX") == "PROX");  // not a signature once the line ends
  CHECK(server.server().core_stats().proxy_headers == 0);
}

TEST_CASE("a client that sends no header within --connect-timeout is closed and counted") {
  ServerOptions options = proxied("one-thread-per-connection");
  options.connect_timeout = 1;
  RunningServer server(options);
  TestClient silent(server.port());
  TestClient partial(server.port());
  REQUIRE(partial.send("\r\n\r\n\0\r\nQUIT"));
  const auto start = std::chrono::steady_clock::now();
  CHECK(silent.wait_closed(10s));
  CHECK(partial.wait_closed(10s));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 900ms);
  CHECK(took < 8s);
  CHECK(RunningServer::eventually(
      [&] { return server.server().core_stats().proxy_header_errors == 2; }));
  // The server carries on.
  TestClient late(server.port());
  REQUIRE(late.send("PROXY TCP4 192.0.2.3 10.0.0.1 3 80\r\n"));
  CHECK(late.request("addr") == "192.0.2.3:3");
}

TEST_CASE("without --proxy-protocol-networks a PROXY line is just protocol bytes") {
  RunningServer server(test_options("one-thread-per-connection"));
  TestClient client(server.port());
  CHECK(client.request("PROXY TCP4 203.0.113.7 10.0.0.1 5555 6380\r") ==
        "PROXY TCP4 203.0.113.7 10.0.0.1 5555 6380");
  auto address = client.request("addr");
  REQUIRE(address);
  CHECK(address->rfind("127.0.0.1:", 0) == 0);
}
