// File: test/examples/integration/restart_test.cc
//
// A restart that refuses no connection (--handover-socket on the running kv_server,
// --inherit-from on the new one), as an operator runs it: real processes, real sockets,
// a client loop running through the restart. And what a wrong --inherit-from gets: one
// line and exit 2, while the running server keeps serving.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin_client.h"
#include "backends.h"
#include "client_loops.h"
#include "example_server.h"
#include "running_server.h"
#include "temp_dir.h"
#include "test_client.h"
#include "text_search.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// Waits until the server's log says `what` (the handover socket is in place once it does).
bool wait_for_line(ServerProcess& process, const std::string& what,
                   std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (contains(process.output(), what)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// A kv_server run to completion: its exit status and output.
std::pair<int, std::string> run_kv(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--plugin-dir=" + plugin_dir(),
                                   "--thread-handling=one-thread-per-connection"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::run(bin_dir() + "/kv_server", args, 60s);
}

// The error lines of a failed start: exactly one.
int error_lines(const std::string& output) {
  int n = 0;
  for (std::size_t at = 0; (at = output.find("[error]", at)) != std::string::npos; ++at) ++n;
  return n;
}

// An AF_UNIX stream listener at `path` owned by the test: `answer` runs on each accepted
// connection (on the test's thread), as a peer that is not a connsched server would.
class FakePeer {
 public:
  FakePeer(const std::string& path, std::function<void(int)> answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      answer_(client);
      ::close(client);
    });
  }
  ~FakePeer() {
    ::shutdown(fd_, SHUT_RDWR);  // ends an accept still waiting
    thread_.join();
    ::close(fd_);
  }

 private:
  int fd_ = -1;
  std::function<void(int)> answer_;
  std::thread thread_;
};

// Reads the new process's request line, so the answer comes after it.
void read_request(int fd) {
  char buffer[256];
  [[maybe_unused]] ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
}

// The INCR replies of every client, from two servers each counting from 1 (the old one
// and the new one): each value appears once per server that got that far, so the count
// of a value never rises with the value, and is 1 or 2. A lost INCR (run, reply never
// seen) leaves a value missing on its server: a count that rises again after it.
void check_two_counters(std::vector<long long> all) {
  REQUIRE(!all.empty());
  std::map<long long, int> count;
  for (long long v : all) ++count[v];
  CHECK(count.begin()->first == 1);
  CHECK(count[1] == 2);  // both servers answered
  int previous = 2;
  long long expected = 1;
  long long first_bad = 0;  // the first value skipped, or whose count rose
  for (auto [value, n] : count) {
    if (first_bad == 0 && (value != expected || n > previous)) first_bad = value;
    ++expected;
    previous = n;
  }
  CHECK(first_bad == 0);
  CHECK(previous >= 1);
}

}  // namespace

TEST_CASE(
    "a restart with --inherit-from under a kv client loop refuses no connection and loses "
    "no request; the old server drains and exits 0, the new one serves the same main and "
    "admin ports, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    TempDir dir;
    const std::string socket = (dir.path / "kv.handover").string();
    ExampleServer old_server("kv_server", backend,
                             {"--handover-socket=" + socket, "--shutdown-timeout=30"});
    REQUIRE(wait_for_line(old_server.process(), "handover socket at"));
    std::atomic<bool> stop{false};
    std::vector<LoopResult> results(4);
    std::vector<std::thread> clients;
    for (auto& r : results) {
      clients.emplace_back([&] { r = kv_loop(old_server.port(), stop); });
    }
    std::this_thread::sleep_for(500ms);
    ExampleServer new_server("kv_server", backend,
                             {"--handover-socket=" + socket, "--inherit-from=" + socket});
    CHECK(new_server.port() == old_server.port());
    CHECK(new_server.admin_port() == old_server.admin_port());
    auto status = old_server.process().wait_exit(60s);
    std::this_thread::sleep_for(500ms);  // the loops run on the new server alone
    stop.store(true);
    for (auto& t : clients) t.join();
    INFO("old: ", old_server.process().output());
    INFO("new: ", new_server.process().output());
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    CHECK(contains(old_server.process().output(), "handed the listeners over to pid " +
                                                      std::to_string(new_server.process().pid())));
    CHECK(contains(new_server.process().output(), "took over the listeners from pid " +
                                                      std::to_string(old_server.process().pid())));
    std::vector<long long> all;
    for (const auto& r : results) {
      CHECK(r.refused == 0);
      CHECK(r.torn_replies == 0);
      all.insert(all.end(), r.values.begin(), r.values.end());
    }
    check_two_counters(all);
    // The new server answers on both ports once the old one is gone.
    TestClient client(new_server.port());
    CHECK(client.request("PING") == "+PONG\r");
    HttpReply health = admin(new_server, "GET", "/health");
    CHECK(health.status == 200);
    CHECK(new_server.stop() == 0);
  }
}

TEST_CASE(
    "the replacement can itself be replaced: the handover socket's path moves to each new "
    "server, and the last one removes it when it exits") {
  TempDir dir;
  const std::string socket = (dir.path / "kv.handover").string();
  const std::vector<std::string> args = {"--handover-socket=" + socket, "--inherit-from=" + socket};
  auto first = std::make_unique<ExampleServer>(
      "kv_server", "pool-of-threads", std::vector<std::string>{"--handover-socket=" + socket});
  REQUIRE(wait_for_line(first->process(), "handover socket at"));
  const std::uint16_t port = first->port();
  TestClient on_first(port);
  CHECK(on_first.request("SET k 1") == "+OK\r");
  auto second = std::make_unique<ExampleServer>("kv_server", "pool-of-threads", args);
  CHECK(first->process().wait_exit(30s) == 0);
  REQUIRE(wait_for_line(second->process(), "handover socket at"));
  auto third = std::make_unique<ExampleServer>("kv_server", "pool-of-threads", args);
  CHECK(second->process().wait_exit(30s) == 0);
  CHECK(third->port() == port);
  TestClient on_third(port);
  CHECK(on_third.request("PING") == "+PONG\r");
  REQUIRE(wait_for_line(third->process(), "handover socket at"));
  CHECK(std::filesystem::exists(socket));
  CHECK(third->stop() == 0);
  third.reset();
  CHECK(!std::filesystem::exists(socket));
}

TEST_CASE("--inherit-from with nobody listening is one line and exit 2") {
  TempDir dir;
  SUBCASE("no such socket") {
    const auto run = run_kv({"--inherit-from=" + (dir.path / "none").string()});
    const int status = run.first;
    const std::string& output = run.second;
    INFO(output);
    CHECK(status == 2);
    CHECK(error_lines(output) == 1);
    CHECK(contains(output, "no such socket"));
  }
  SUBCASE("a socket file whose server is gone") {
    const std::string path = (dir.path / "stale").string();
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    ::close(fd);  // bound, never listened: what a crashed server leaves
    const auto run = run_kv({"--inherit-from=" + path});
    const int status = run.first;
    const std::string& output = run.second;
    INFO(output);
    CHECK(status == 2);
    CHECK(error_lines(output) == 1);
    CHECK(contains(output, "nobody listens on it"));
  }
}

TEST_CASE("--inherit-from a peer that is not a connsched server is one line and exit 2") {
  TempDir dir;
  const std::string path = (dir.path / "peer").string();
  SUBCASE("it answers something else") {
    FakePeer peer(path, [](int fd) {
      read_request(fd);
      send_all(fd, "-ERR unknown command\r\n");
    });
    const auto run = run_kv({"--inherit-from=" + path});
    const int status = run.first;
    const std::string& output = run.second;
    INFO(output);
    CHECK(status == 2);
    CHECK(error_lines(output) == 1);
    CHECK(contains(output, "is not a connsched server (it answered '-ERR unknown command"));
  }
  SUBCASE("it closes without a word") {
    FakePeer peer(path, [](int fd) { read_request(fd); });
    const auto run = run_kv({"--inherit-from=" + path});
    const int status = run.first;
    const std::string& output = run.second;
    INFO(output);
    CHECK(status == 2);
    CHECK(contains(output, "closed the connection without answering"));
  }
  SUBCASE("it passes a socket that is not a listening TCP socket") {
    FakePeer peer(path, [](int fd) {
      read_request(fd);
      int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
      std::string header = "CONNSCHED-LISTENERS 1 main=127.0.0.1:1\n";
      iovec iov{header.data(), header.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &udp, sizeof udp);
      ::sendmsg(fd, &msg, MSG_NOSIGNAL);
      ::close(udp);
      read_request(fd);  // until the new process gives up
    });
    const auto run = run_kv({"--inherit-from=" + path});
    const int status = run.first;
    const std::string& output = run.second;
    INFO(output);
    CHECK(status == 2);
    CHECK(error_lines(output) == 1);
    CHECK(contains(output, "the main socket passed: not a TCP stream socket (a datagram socket)"));
  }
}

TEST_CASE(
    "a new process whose --port contradicts the inherited listener exits 2 before it "
    "acknowledges, and the old server keeps serving") {
  TempDir dir;
  const std::string socket = (dir.path / "kv.handover").string();
  ExampleServer old_server("kv_server", "pool-of-threads", {"--handover-socket=" + socket});
  REQUIRE(wait_for_line(old_server.process(), "handover socket at"));
  TestClient client(old_server.port());
  CHECK(client.request("PING") == "+PONG\r");
  const int other = old_server.port() == 1 ? 2 : 1;
  const auto run = run_kv({"--inherit-from=" + socket, "--port=" + std::to_string(other)});
  const int status = run.first;
  const std::string& output = run.second;
  INFO(output);
  CHECK(status == 2);
  CHECK(error_lines(output) == 1);
  CHECK(contains(output, "--port=" + std::to_string(other) + ", but the main listener inherited"));
  REQUIRE(wait_for_line(old_server.process(),
                        "abandoned (it exited or closed the socket); still serving"));
  CHECK(client.request("PING") == "+PONG\r");
  TestClient fresh(old_server.port());  // still accepting
  CHECK(fresh.request("PING") == "+PONG\r");
  CHECK(admin(old_server, "GET", "/health").status == 200);
  CHECK(old_server.stop() == 0);
}

TEST_CASE("a handover request while the server drains is refused with the reason") {
  TempDir dir;
  const std::string socket = (dir.path / "kv.handover").string();
  ExampleServer old_server("kv_server", "one-thread-per-connection",
                           {"--handover-socket=" + socket, "--shutdown-timeout=30"});
  REQUIRE(wait_for_line(old_server.process(), "handover socket at"));
  TestClient idle(old_server.port());  // holds the drain open
  CHECK(idle.request("PING") == "+PONG\r");
  REQUIRE(admin(old_server, "POST", "/drain").status == 202);
  const auto run = run_kv({"--inherit-from=" + socket});
  const int status = run.first;
  const std::string& output = run.second;
  INFO(output);
  CHECK(status == 2);
  CHECK(error_lines(output) == 1);
  CHECK(contains(output, "refused: draining (POST /drain)"));
  CHECK(contains(old_server.process().output(), "refused: draining (POST /drain)"));
  CHECK(idle.request("PING") == "+PONG\r");  // its last request, then the drain closes it
  CHECK(old_server.process().wait_exit(30s) == 0);
}

TEST_CASE("a second server on a taken --handover-socket path is refused, not given the path") {
  TempDir dir;
  const std::string socket = (dir.path / "kv.handover").string();
  ExampleServer running("kv_server", "pool-of-threads", {"--handover-socket=" + socket});
  REQUIRE(wait_for_line(running.process(), "handover socket at"));
  const auto run = run_kv({"--port=0", "--handover-socket=" + socket});
  const int status = run.first;
  const std::string& output = run.second;
  INFO(output);
  CHECK(status == 2);
  CHECK(contains(output, "a server already listens there"));
  CHECK(running.stop() == 0);
}
