// File: test/examples/integration/drain_test.cc
//
// GET /health and POST /drain on the admin port, as a load balancer and an operator use
// them (curl), against the real kv_server and http_server under every built-in backend:
// a drain stops accepting, closes each connection only between requests (HTTP's last
// reply says "Connection: close"), loses no request of a client loop, and the server
// exits 0 when its last connection ends or at --shutdown-timeout.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "admin_client.h"
#include "backends.h"
#include "example_server.h"
#include "test_client.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// A plain blocking socket to the main port, or -1 when the connection is refused.
int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// What one client loop saw. A "clean close" is EOF or a reset before any byte of the
// reply to a request just sent: the server closed between requests.
struct LoopResult {
  std::vector<long long> values;  // kv: the INCR replies
  int replies = 0;
  int clean_closes = 0;
  int torn_replies = 0;     // a close in the middle of a reply: a lost request
  int keep_alive_lost = 0;  // http: a request after a keep-alive reply got no reply
  int close_announced = 0;  // http: replies with "Connection: close"
};

// kv client loop: INCR on one counter, reconnecting after a clean close, until a
// connection is refused (the drain stopped accepting) or `stop`.
LoopResult kv_loop(std::uint16_t port, const std::atomic<bool>& stop) {
  LoopResult result;
  while (!stop.load()) {
    int fd = connect_to(port);
    if (fd < 0) break;
    while (!stop.load()) {
      if (!send_all(fd, "INCR drained\r\n")) {
        ++result.clean_closes;
        break;
      }
      std::string reply;
      bool closed = false;
      while (reply.find("\r\n") == std::string::npos) {
        char buffer[256];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
          closed = true;
          break;
        }
        reply.append(buffer, static_cast<std::size_t>(n));
      }
      if (closed) {
        (reply.empty() ? result.clean_closes : result.torn_replies)++;
        break;
      }
      REQUIRE(reply.front() == ':');
      result.values.push_back(std::stoll(reply.substr(1)));
      ++result.replies;
    }
    ::close(fd);
  }
  return result;
}

// http client loop: keep-alive GETs; a reply with "Connection: close" ends the
// connection (the client reconnects, as a browser or a balancer does).
LoopResult http_loop(std::uint16_t port, const std::atomic<bool>& stop) {
  LoopResult result;
  while (!stop.load()) {
    int fd = connect_to(port);
    if (fd < 0) break;
    bool got_keep_alive = false;
    while (!stop.load()) {
      if (!send_all(fd, "GET / HTTP/1.1\r\nHost: drain\r\n\r\n")) {
        (got_keep_alive ? result.keep_alive_lost : result.clean_closes)++;
        break;
      }
      std::string reply;
      std::size_t head_end = std::string::npos;
      std::size_t need = 0;
      bool closed = false;
      while (head_end == std::string::npos || reply.size() < need) {
        char buffer[4096];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
          closed = true;
          break;
        }
        reply.append(buffer, static_cast<std::size_t>(n));
        if (head_end == std::string::npos &&
            (head_end = reply.find("\r\n\r\n")) != std::string::npos) {
          auto at = reply.find("Content-Length: ");
          REQUIRE(at != std::string::npos);
          need = head_end + 4 + std::stoul(reply.substr(at + 16));
        }
      }
      if (closed) {
        if (!reply.empty()) {
          ++result.torn_replies;
        } else {
          (got_keep_alive ? result.keep_alive_lost : result.clean_closes)++;
        }
        break;
      }
      ++result.replies;
      if (reply.substr(0, head_end).find("Connection: close") != std::string::npos) {
        ++result.close_announced;
        break;
      }
      got_keep_alive = true;
    }
    ::close(fd);
  }
  return result;
}

// Runs `clients` loops, drains the server after some replies, and waits for the loops
// and the server: the exit status and every loop's result.
std::vector<LoopResult> drain_under_load(ExampleServer& server, bool http, int clients) {
  std::atomic<bool> stop{false};
  std::vector<LoopResult> results(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] =
          http ? http_loop(server.port(), stop) : kv_loop(server.port(), stop);
    });
  }
  std::this_thread::sleep_for(500ms);
  HttpReply drain = admin(server, "POST", "/drain");
  CHECK(drain.status == 202);
  auto status = server.process().wait_exit(60s);
  stop.store(true);
  for (auto& t : threads) t.join();
  INFO(server.process().output());
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  return results;
}

}  // namespace

TEST_CASE(
    "GET /health is 200 while serving, 503 with the reason after POST /drain, and the "
    "server exits 0 once its last connection ends, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    HttpReply health = admin(server, "GET", "/health");
    CHECK(health.status == 200);
    CHECK(health.body.find("\"status\": \"serving\"") != std::string::npos);
    TestClient idle(server.port());
    CHECK(idle.request("PING") == "+PONG\r");
    HttpReply drain = admin(server, "POST", "/drain");
    CHECK(drain.status == 202);
    health = admin(server, "GET", "/health");
    CHECK(health.status == 503);
    CHECK(health.body.find("\"status\": \"draining\"") != std::string::npos);
    CHECK(health.body.find("\"reason\": \"draining (POST /drain)\"") != std::string::npos);
    CHECK(admin(server, "POST", "/drain").status == 202);  // a second drain is no error
    // Not accepting: a new connection is refused.
    int fd = connect_to(server.port());
    CHECK(fd < 0);
    if (fd >= 0) ::close(fd);
    // The open connection is served once more, then closed after that reply.
    CHECK(idle.request("PING") == "+PONG\r");
    CHECK(idle.wait_closed(10s));
    auto status = server.process().wait_exit(30s);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    CHECK(server.process().output().find("drained: the last connection ended") !=
          std::string::npos);
  }
}

TEST_CASE("GET /health says 503 'shutting down' during a SIGTERM shutdown") {
  ExampleServer server("kv_server", "one-thread-per-connection", {"--shutdown-timeout=60"});
  // A request in progress keeps the shutdown (and the admin port) alive for a while.
  TestClient sleeper(server.port());
  REQUIRE(sleeper.request("PING") == "+PONG\r");  // served (its thread runs) before the BURN
  REQUIRE(sleeper.send("BURN 2000000\r\n"));      // 2 s of CPU: a shutdown lets it finish
  std::this_thread::sleep_for(300ms);
  server.process().signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  HttpReply health = admin(server, "GET", "/health");
  CHECK(health.status == 503);
  CHECK(health.body.find("\"status\": \"shutting down\"") != std::string::npos);
  CHECK(health.body.find("SIGTERM") != std::string::npos);
  CHECK(admin(server, "POST", "/drain").status == 409);
  auto burnt = sleeper.read_line(30s);
  REQUIRE(burnt.has_value());
  CHECK(burnt->front() == ':');
  auto status = server.process().wait_exit(30s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
}

TEST_CASE(
    "POST /drain under a kv client loop loses no request: every INCR that ran was "
    "answered, connections close only between requests, exit 0, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend, {"--shutdown-timeout=20"});
    auto results = drain_under_load(server, /*http=*/false, 4);
    std::vector<long long> all;
    int torn = 0;
    for (const auto& r : results) {
      all.insert(all.end(), r.values.begin(), r.values.end());
      torn += r.torn_replies;
    }
    CHECK(torn == 0);
    // Every client's connection was closed by the drain, between requests.
    for (const auto& r : results) CHECK(r.clean_closes >= 1);
    REQUIRE(!all.empty());
    // The counter's values are 1..N with none missing: no INCR ran without its reply
    // reaching the client, and none was answered twice.
    std::sort(all.begin(), all.end());
    CHECK(all.front() == 1);
    CHECK(all.back() == static_cast<long long>(all.size()));
    CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  }
}

TEST_CASE(
    "POST /drain under an http client loop: every request gets its reply, the last one "
    "on each connection says Connection: close, exit 0, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("http_server", backend, {"--shutdown-timeout=20"});
    auto results = drain_under_load(server, /*http=*/true, 4);
    int replies = 0, announced = 0, lost = 0, torn = 0;
    for (const auto& r : results) {
      replies += r.replies;
      announced += r.close_announced;
      lost += r.keep_alive_lost;
      torn += r.torn_replies;
    }
    // Every client was told (or, under no-threads, still queued unserved and closed
    // before its first reply).
    for (const auto& r : results) CHECK(r.close_announced + r.clean_closes >= 1);
    CHECK(replies > 0);
    CHECK(announced >= 1);
    CHECK(lost == 0);
    CHECK(torn == 0);
  }
}

TEST_CASE(
    "a connection that never sends holds a drain until --shutdown-timeout; then the "
    "server exits 0, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend, {"--shutdown-timeout=2"});
    TestClient silent(server.port());
    std::this_thread::sleep_for(200ms);  // accepted (no-threads: being served)
    auto started = std::chrono::steady_clock::now();
    REQUIRE(admin(server, "POST", "/drain").status == 202);
    auto status = server.process().wait_exit(30s);
    auto took = std::chrono::steady_clock::now() - started;
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    CHECK(took >= 1500ms);
    CHECK(silent.wait_closed(5s));
    CHECK(server.process().output().find("still open after 2 s") != std::string::npos);
  }
}

TEST_CASE("POST /drain without the admin token is refused when a token is configured") {
  ExampleServer server("kv_server", "pool-of-threads", {"--admin-token=drain-secret"});
  HttpReply refused = admin(server, "POST", "/drain");
  CHECK(refused.status == 401);
  CHECK(admin(server, "POST", "/drain", {"-H", "Authorization: Bearer wrong"}).status == 401);
  // Nothing changed: still serving, still accepting.
  CHECK(admin(server, "GET", "/health", {"-H", "Authorization: Bearer drain-secret"}).status ==
        200);
  TestClient client(server.port());
  CHECK(client.request("PING") == "+PONG\r");
  HttpReply drain = admin(server, "POST", "/drain", {"-H", "Authorization: Bearer drain-secret"});
  CHECK(drain.status == 202);
  CHECK(client.request("PING") == "+PONG\r");
  CHECK(client.wait_closed(10s));
  auto status = server.process().wait_exit(30s);
  REQUIRE(status.has_value());
  CHECK(*status == 0);
}

TEST_CASE(
    "during a drain http_server answers the next request on a keep-alive connection with "
    "Connection: close, then closes it, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("http_server", backend);
    TestClient client(server.port());
    const std::string request = "GET / HTTP/1.1\r\nHost: drain\r\n\r\n";
    REQUIRE(client.send(request));
    std::string first;
    while (first.find("\r\n\r\n") == std::string::npos) {
      auto line = client.read_line(10s);
      REQUIRE(line.has_value());
      first += *line + "\n";
    }
    CHECK(first.find("Connection: close") == std::string::npos);
    REQUIRE(admin(server, "POST", "/drain").status == 202);
    client.read_all(200ms);  // the first reply's body
    REQUIRE(client.send(request));
    const std::string last = client.read_all(10s);  // to EOF: the server closes
    CHECK(last.find("HTTP/1.1 200") == 0);
    CHECK(last.find("Connection: close") != std::string::npos);
    auto status = server.process().wait_exit(30s);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
  }
}

TEST_CASE(
    "POST /drain is refused under process-pool, whose workers hold the connections; "
    "the server keeps serving and SIGTERM still stops it") {
  ExampleServer server("http_server",
                       std::string(CONNSCHED_TEST_CUSTOM_PLUGIN_DIR) + "/process-pool.so",
                       {"--process-pool-workers=2"});
  HttpReply drain = admin(server, "POST", "/drain");
  CHECK(drain.status == 409);
  CHECK(drain.body.find("serves connections in other processes") != std::string::npos);
  CHECK(admin(server, "GET", "/health").status == 200);
  ToolResult page = run_tool("curl", {"-sS", "--max-time", "30", local_url(server.port(), "/")});
  CHECK(page.status == 0);
  CHECK(server.stop() == 0);
}
