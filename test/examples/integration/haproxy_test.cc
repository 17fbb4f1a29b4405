// File: test/examples/integration/haproxy_test.cc
//
// Real HAProxy (Debian's haproxy, installed by scripts/ensure-deps.sh) in front of
// kv_server in `mode tcp` with `send-proxy-v2`: the client's address reaches the server
// through the PROXY header. The client connects from 127.0.0.2 (any 127/8 address is
// loopback) while HAProxy connects from 127.0.0.1, so the two cannot be confused.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "example_server.h"
#include "server_process.h"
#include "temp_dir.h"
#include "test_client.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// Connects from `source` to 127.0.0.1:port; -1 on failure. Our own local port goes to
// `local_port`.
int connect_from(const char* source, std::uint16_t port, std::uint16_t* local_port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof from;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&from), &len);
  *local_port = ntohs(from.sin_port);
  return fd;
}

// CLIENT INFO over an open connection: the bulk reply's text, or empty.
std::string client_info(int fd) {
  const std::string request = "*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return {};
  std::string reply;
  char buffer[512];
  while (reply.find("\r\n", reply.find("\r\n") + 2) == std::string::npos) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return {};
    reply.append(buffer, static_cast<std::size_t>(n));
    if (reply[0] != '$') return reply;
  }
  return reply;
}

}  // namespace

TEST_CASE("behind HAProxy with send-proxy-v2, kv_server sees the client's address") {
  // Debian puts it in /usr/sbin, which a user's PATH may lack.
  const std::string haproxy =
      ::access("/usr/sbin/haproxy", X_OK) == 0 ? "/usr/sbin/haproxy" : find_tool("haproxy");
  ExampleServer kv("kv_server", "pool-of-threads",
                   {"--proxy-protocol-networks=127.0.0.1/32", "--log-level=info"});
  TempDir dir("connsched_haproxy");
  REQUIRE(!dir.path.empty());
  const std::uint16_t front = free_loopback_port();
  const std::string config = (dir.path / "haproxy.cfg").string();
  {
    std::ofstream out(config);
    out << "global\n  maxconn 100\n"
        << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n"
        << "  timeout server 30s\n"
        << "frontend kv\n  bind 127.0.0.1:" << front << "\n  default_backend kvs\n"
        << "backend kvs\n  server kv1 127.0.0.1:" << kv.port() << " send-proxy-v2\n";
  }
  ServerProcess balancer(haproxy, {"-f", config, "-db"});
  std::uint16_t local_port = 0;
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    fd = connect_from("127.0.0.2", front, &local_port);
    if (fd < 0) std::this_thread::sleep_for(50ms);
  }
  REQUIRE_MESSAGE(fd >= 0, balancer.output());
  const std::string info = client_info(fd);
  CAPTURE(info);
  CAPTURE(balancer.output());
  CHECK(info.find("addr=127.0.0.2:" + std::to_string(local_port) + "\n") != std::string::npos);
  // CLIENT LIST from a second client (redis-cli, from 127.0.0.1) shows the first one,
  // still open, by the address its PROXY header carried, with the id CLIENT INFO gave.
  const std::size_t id_at = info.find("id=");
  REQUIRE(id_at != std::string::npos);
  const std::string info_line = info.substr(id_at, info.find('\n', id_at) + 1 - id_at);
  auto list = run_tool("redis-cli",
                       {"--raw", "-h", "127.0.0.1", "-p", std::to_string(front), "CLIENT", "LIST"});
  CAPTURE(list.output);
  CHECK(list.output.find(info_line) != std::string::npos);
  CHECK(list.output.find(" addr=127.0.0.1:") != std::string::npos);  // redis-cli's own
  ::close(fd);
  // redis-cli through HAProxy works as through no proxy at all.
  auto ping = run_tool("redis-cli", {"-h", "127.0.0.1", "-p", std::to_string(front), "PING"});
  CHECK(ping.output == "PONG\n");
  auto direct =
      run_tool("redis-cli", {"-h", "127.0.0.1", "-p", std::to_string(front), "CLIENT", "INFO"});
  CHECK(direct.output.find("addr=127.0.0.1:") != std::string::npos);
}
