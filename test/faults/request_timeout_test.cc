// File: test/faults/request_timeout_test.cc
//
// Slowloris (issue #19, item 2): a request that trickles in one byte at a time used to
// push wait_timeout (8 h) back with every byte, so 1,000 such connections held the
// whole connection limit. Now a request must be complete within --request-timeout of
// its first byte: then it gets the protocol's error and its connection is closed, and
// counted, while an idle connection (no request begun) still waits for wait_timeout.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <thread>

#include "backends.h"
#include "example_server.h"
#include "fault_support.h"
#include "running_server.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE(
    "slowloris: 200 connections trickling a request are answered the protocol's error and closed "
    "at --request-timeout; an idle one stays") {
  constexpr int kSlow = 200;
  for (const std::string backend : {"pool-of-threads", "one-thread-per-connection"}) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend, {"--request-timeout=2", "--max-connections=300"});
    HealthyClient healthy(server.port(), Dialect::kKv);
    TestClient idle(server.port());  // connected, sends nothing: wait_timeout's, not ours
    std::vector<TestClient> slow;
    for (int i = 0; i < kSlow; ++i) slow.emplace_back(server.port(), scaled(10s));
    // An ECHO of 1,000 bytes, one byte per client every 200 ms: it would take minutes.
    const std::string request =
        fmt::format("*2\r\n$4\r\nECHO\r\n$1000\r\n{}\r\n", std::string(1000, 'e'));
    const auto start = std::chrono::steady_clock::now();
    std::vector<bool> open(kSlow, true);
    for (std::size_t byte = 0; byte < request.size(); ++byte) {
      bool any = false;
      for (int i = 0; i < kSlow; ++i) {
        if (open[i] && !slow[i].send(std::string_view(&request[byte], 1))) open[i] = false;
        any = any || open[i];
      }
      if (!any || std::chrono::steady_clock::now() - start > scaled(8s)) break;
      std::this_thread::sleep_for(200ms);
    }
    // Every one was told why, then closed, within the deadline plus the timer's tick.
    int told = 0;
    for (auto& client : slow) {
      std::string rest = client.read_all(scaled(5s));
      if (rest.find("-ERR request not complete within 2 s (request_timeout)") == std::string::npos)
        break;  // (one is enough to fail: the rest would wait their 5 s each)
      ++told;
    }
    CHECK(told == kSlow);
    CHECK(std::chrono::steady_clock::now() - start < scaled(15s));
    CHECK(stats_counter(server.admin_port(), "requests_timed_out") == kSlow);
    CHECK(stats_counter(server.admin_port(), "connections_timed_out") == 0);
    // The idle connection and the healthy one are all that is left.
    CHECK(RunningServer::eventually(
        [&] { return stats_counter(server.admin_port(), "connections_current") == 2; },
        scaled(5s)));
    auto ping = kv_command(idle, "PING");
    REQUIRE(ping);
    CHECK(ping->text == "PONG");
    const std::string& log = server.process().output();
    CHECK(log.find("request not complete within 2 s (request_timeout); closing") !=
          std::string::npos);
    CHECK(log.find("(127.0.0.1:") != std::string::npos);
    CHECK(occurrences(log, "(request_timeout); closing") <= 4);  // one line per 5 s
    check_healthy(healthy, server.port());
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("slowloris over HTTP: a header that trickles in gets 408 Request Timeout") {
  ExampleServer server("http_server", "pool-of-threads", {"--request-timeout=1"});
  TestClient slow(server.port(), scaled(10s));
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  const auto start = std::chrono::steady_clock::now();
  std::string reply;
  for (std::size_t i = 0; i < 100 && std::chrono::steady_clock::now() - start < scaled(5s); ++i) {
    if (!slow.send(std::string_view(&head[i % head.size()], 1))) break;
    std::this_thread::sleep_for(100ms);
  }
  reply = slow.read_all(scaled(5s));
  CHECK(reply.rfind("HTTP/1.1 408 Request Timeout\r\n", 0) == 0);
  CHECK(reply.find("Connection: close\r\n") != std::string::npos);
  CHECK(stats_counter(server.admin_port(), "requests_timed_out") == 1);
  CHECK(server.stop() == 0);
}

TEST_CASE("a complete request that runs longer than --request-timeout is not cut short") {
  ExampleServer server("kv_server", "pool-of-threads", {"--request-timeout=1"});
  TestClient client(server.port(), scaled(20s));
  auto reply = kv_command(client, "SLEEP 2500", scaled(20s));  // arrives at once, runs 2.5 s
  REQUIRE(reply);
  CHECK(reply->text == "OK");
  CHECK(stats_counter(server.admin_port(), "requests_timed_out") == 0);
  CHECK(server.stop() == 0);
}
