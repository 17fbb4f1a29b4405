// File: test/examples/integration/systemd_test.cc
//
// kv_server under systemd's socket activation and Type=notify protocol, with the real
// /usr/bin/systemd-socket-activate (package systemd) opening the sockets and a
// test-owned AF_UNIX datagram socket as NOTIFY_SOCKET, the way systemd's own is.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "admin_client.h"
#include "client_loops.h"
#include "running_server.h"
#include "server_process.h"
#include "temp_dir.h"
#include "test_client.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

const std::string kActivate = "/usr/bin/systemd-socket-activate";

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// A port free a moment ago (systemd-socket-activate takes no port 0).
std::uint16_t free_port(int type = SOCK_STREAM) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// systemd's end of sd_notify: a datagram socket; what arrives, concatenated.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& path() const { return path_; }
  /// Waits until the messages so far contain `what`; true if they do.
  bool wait_for(const std::string& what, std::chrono::milliseconds timeout = 30s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!contains(received_, what)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) received_.append(buffer, static_cast<std::size_t>(n)).append("\n");
    }
    return true;
  }
  const std::string& received() const { return received_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string received_;
};

std::vector<std::string> kv_command() {
  return {bin_dir() + "/kv_server", "--plugin-dir=" + plugin_dir(),
          "--thread-handling=pool-of-threads"};
}

// systemd-socket-activate execs the server on the first connection: waits for its
// sockets ("Listening on ADDR as FD."), then connects.
void wait_activator(ServerProcess& activator, int sockets) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = activator.output();
    if (contains(out, "as " + std::to_string(2 + sockets) + ".")) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("systemd-socket-activate did not listen: ", activator.output());
}

}  // namespace

TEST_CASE(
    "under systemd-socket-activate kv_server serves on the passed main and admin sockets "
    "(the connection that woke it included), and says READY=1, then STOPPING=1, on "
    "NOTIFY_SOCKET") {
  TempDir dir;
  NotifySocket notify((dir.path / "notify").string());
  const std::uint16_t port = free_port();
  const std::uint16_t admin_port = free_port();
  std::vector<std::string> args = {"-l",
                                   "127.0.0.1:" + std::to_string(port),
                                   "-l",
                                   "127.0.0.1:" + std::to_string(admin_port),
                                   "--fdname=main:admin",
                                   "-E",
                                   "NOTIFY_SOCKET=" + notify.path()};
  for (const auto& a : kv_command()) args.push_back(a);
  ServerProcess server(kActivate, args);
  wait_activator(server, 2);
  TestClient first(port);  // queued in the backlog until kv_server runs: not refused
  CHECK(first.request("PING", 30s) == "+PONG\r");
  REQUIRE(notify.wait_for("READY=1"));
  INFO(server.output());
  INFO(notify.received());
  CHECK(contains(notify.received(), "MAINPID=" + std::to_string(server.pid())));
  CHECK(contains(notify.received(), "STATUS=serving on 127.0.0.1:" + std::to_string(port)));
  CHECK(contains(server.output(), "took the listener 127.0.0.1:" + std::to_string(port) +
                                      " and the admin listener 127.0.0.1:" +
                                      std::to_string(admin_port) + " from systemd (LISTEN_FDS)"));
  CHECK(admin(admin_port, "GET", "/health").status == 200);
  server.signal(SIGTERM);
  CHECK(notify.wait_for("STOPPING=1"));
  CHECK(server.wait_exit(30s) == 0);
}

TEST_CASE("without names, the first passed socket is the main listener and the second the admin") {
  const std::uint16_t port = free_port();
  const std::uint16_t admin_port = free_port();
  std::vector<std::string> args = {"-l", "127.0.0.1:" + std::to_string(port), "-l",
                                   "127.0.0.1:" + std::to_string(admin_port)};
  for (const auto& a : kv_command()) args.push_back(a);
  ServerProcess server(kActivate, args);
  wait_activator(server, 2);
  TestClient first(port);
  CHECK(first.request("PING", 30s) == "+PONG\r");
  CHECK(admin(admin_port, "GET", "/health").status == 200);
  server.signal(SIGTERM);
  CHECK(server.wait_exit(30s) == 0);
}

TEST_CASE("LISTEN_FDS that does not match is one line and exit 2") {
  std::string expected;
  std::vector<std::string> args;
  bool datagram = false;
  const std::uint16_t port = free_port();
  SUBCASE("a datagram socket") {
    args = {"--datagram", "-l", "127.0.0.1:" + std::to_string(port)};
    datagram = true;
    expected = "the main listener): not a TCP stream socket (a datagram socket)";
  }
  SUBCASE("a name that is neither main nor admin") {
    args = {"-l", "127.0.0.1:" + std::to_string(port), "-l",
            "127.0.0.1:" + std::to_string(free_port()), "--fdname=main:metrics"};
    expected = "LISTEN_FDS: fd 4 is named 'metrics'";
  }
  SUBCASE("more sockets than a server takes") {
    args = {"-l", "127.0.0.1:" + std::to_string(port),
            "-l", "127.0.0.1:" + std::to_string(free_port()),
            "-l", "127.0.0.1:" + std::to_string(free_port())};
    expected = "LISTEN_FDS: systemd passed 3 sockets; a server takes at most 2";
  }
  const int sockets = static_cast<int>(std::count(args.begin(), args.end(), "-l"));
  for (const auto& a : kv_command()) args.push_back(a);
  ServerProcess server(kActivate, args);
  wait_activator(server, sockets);
  // The first packet or connection makes it exec kv_server.
  int fd = ::socket(AF_INET, datagram ? SOCK_DGRAM : SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (datagram) {
    ::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  auto status = server.wait_exit(30s);
  ::close(fd);
  INFO(server.output());
  REQUIRE(status.has_value());
  CHECK(*status == 2);
  CHECK(contains(server.output(), expected));
  const std::string out = server.output();
  int errors = 0;
  for (std::size_t at = 0; (at = out.find("[error]", at)) != std::string::npos; ++at) ++errors;
  CHECK(errors == 1);
}
