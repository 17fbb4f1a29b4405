// File: test/core/listener_test.cc
//
// The main listener as an operator configures it: --reuse-port lets two server processes
// serve one port (both receive connections), and --bind-address takes IPv6 (::1, and ::
// which also takes IPv4), with addresses logged and reported bracketed ([::1]:PORT).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>

#include "running_server.h"
#include "server_process.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

std::string test_server() {
  return bin_dir() + "/cs_test_server";
}

// The admin port from "admin port listening on 127.0.0.1:PORT".
std::optional<std::uint16_t> admin_port_of(ServerProcess& server) {
  for (int i = 0; i < 200; ++i) {
    const std::string& out = server.output();
    auto at = out.find("admin port listening on ");
    if (at != std::string::npos) {
      auto end = out.find('\n', at);
      auto colon = out.rfind(':', end);
      if (end != std::string::npos && colon != std::string::npos && colon > at)
        return static_cast<std::uint16_t>(std::stoi(out.substr(colon + 1, end - colon - 1)));
    }
    server.wait_exit(25ms);
  }
  return std::nullopt;
}

// A core counter from GET /stats.
long stats_counter(std::uint16_t admin_port, const std::string& name) {
  TestClient http(admin_port);
  http.send("GET /stats HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  const std::string body = http.read_all(5s);
  const auto at = body.find("\"" + name + "\": ");
  if (at == std::string::npos) return -1;
  return std::stol(body.substr(at + name.size() + 4));
}

// One request over IPv6 to [address]:port; the reply line, or empty.
std::string request6(const char* address, std::uint16_t port, const std::string& line) {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_port = htons(port);
  ::inet_pton(AF_INET6, address, &to.sin6_addr);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    const std::string bytes = line + "\n";
    if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(bytes.size())) {
      char c;
      while (::recv(fd, &c, 1, 0) == 1 && c != '\n') reply.push_back(c);
    }
  }
  ::close(fd);
  return reply;
}

}  // namespace

TEST_CASE("--reuse-port: two server processes on one port both receive connections") {
  ServerProcess first(test_server(),
                      {"--port=0", "--reuse-port", "--admin-port=0", "--log-level=info"});
  auto port = first.wait_listening();
  REQUIRE(port);
  CHECK(first.output().find("(SO_REUSEPORT)") != std::string::npos);
  // Without the flag the port is taken.
  auto [status, output] = ServerProcess::run(test_server(), {"--port=" + std::to_string(*port)});
  CHECK(status == 2);
  CHECK(output.find("cannot bind 127.0.0.1:" + std::to_string(*port)) != std::string::npos);

  ServerProcess second(test_server(), {"--port=" + std::to_string(*port), "--reuse-port",
                                       "--admin-port=0", "--log-level=info"});
  REQUIRE(second.wait_listening() == port);
  auto admin1 = admin_port_of(first);
  auto admin2 = admin_port_of(second);
  REQUIRE(admin1);
  REQUIRE(admin2);
  constexpr int kConnections = 64;  // the kernel hashes each one: all on one side ~ 2^-63
  int answered = 0;
  for (int i = 0; i < kConnections; ++i) {
    TestClient client(*port);
    if (client.request("echo " + std::to_string(i)) == std::to_string(i)) ++answered;
  }
  CHECK(answered == kConnections);
  const long a = stats_counter(*admin1, "connections_accepted");
  const long b = stats_counter(*admin2, "connections_accepted");
  CAPTURE(a);
  CAPTURE(b);
  CHECK(a > 0);
  CHECK(b > 0);
  CHECK(a + b == kConnections);
}

TEST_CASE("--bind-address=::1 listens on IPv6 and reports bracketed addresses") {
  ServerOptions options = test_options("one-thread-per-connection");
  options.bind_address = "::1";
  RunningServer server(options);
  const std::string address = request6("::1", server.port(), "addr");
  CHECK(address.rfind("[::1]:", 0) == 0);
  CHECK(request6("::1", server.port(), "echo six") == "six");

  ServerProcess logged(test_server(), {"--bind-address=::1", "--port=0", "--admin-port=0",
                                       "--admin-bind-address=::1", "--log-level=info"});
  auto port = logged.wait_listening();
  REQUIRE(port);
  CHECK(logged.output().find("listening on [::1]:" + std::to_string(*port) + " ") !=
        std::string::npos);
  CHECK(admin_port_of(logged));
  CHECK(logged.output().find("admin port listening on [::1]:") != std::string::npos);
}

TEST_CASE("--bind-address=:: takes IPv6 and IPv4 clients; an IPv4 one reads as IPv4") {
  ServerOptions options = test_options("pool-of-threads");
  options.bind_address = "::";
  RunningServer server(options);
  CHECK(request6("::1", server.port(), "addr").rfind("[::1]:", 0) == 0);
  TestClient v4(server.port());
  auto address = v4.request("addr");
  REQUIRE(address);
  CHECK(address->rfind("127.0.0.1:", 0) == 0);
}

TEST_CASE("the PROXY protocol works over IPv6: an IPv6 proxy, an IPv4 client in its header") {
  ServerOptions options = test_options("one-thread-per-connection");
  options.bind_address = "::1";
  options.proxy_protocol_networks = "::1/128";
  options.log_level = "error";
  RunningServer server(options);
  CHECK(request6("::1", server.port(), "PROXY TCP4 198.51.100.20 10.0.0.1 7000 6380\r\naddr") ==
        "198.51.100.20:7000");
  CHECK(RunningServer::eventually([&] { return server.server().core_stats().proxy_headers == 1; }));
}

TEST_CASE("bad --proxy-protocol-networks and --connect-timeout values stop the start") {
  auto refused = [](const std::string& flag, const std::string& expected) {
    CAPTURE(flag);
    auto [status, output] = ServerProcess::run(test_server(), {flag});
    CHECK(status == 2);
    CHECK(output.find(expected) != std::string::npos);
    CHECK(std::count(output.begin(), output.end(), '\n') == 1);
  };
  refused("--proxy-protocol-networks=10.0.0.1/8",
          "--proxy-protocol-networks: '10.0.0.1/8': host bits are set past the prefix length");
  refused("--proxy-protocol-networks=lb.example", "'lb.example': not an IPv4 or IPv6 address");
  refused("--connect-timeout=0", "--connect-timeout");
  refused("--bind-address=::2:3::4", "--bind-address: '::2:3::4' is not an IPv4 or IPv6 address");
}
