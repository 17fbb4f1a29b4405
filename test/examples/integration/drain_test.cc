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
#include "client_loops.h"
#include "example_server.h"
#include "test_client.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// Runs `clients` loops, drains the server after some replies, and waits for the loops
// and the server: the exit status and every loop's result.
std::vector<LoopResult> drain_under_load(ExampleServer& server, bool http, int clients) {
  std::atomic<bool> stop{false};
  std::atomic<int> connected{0};
  std::vector<LoopResult> results(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      results[static_cast<std::size_t>(i)] = http ? http_loop(server.port(), stop, &connected)
                                                  : kv_loop(server.port(), stop, &connected);
    });
  }
  // Every loop has connected before the drain (a loop that had not would be refused and
  // never see a close), then some requests run.
  for (int i = 0; i < 3000 && connected.load() < clients; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(connected.load() == clients);
  std::this_thread::sleep_for(300ms);
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
