// File: test/faults/connection_faults_test.cc
//
// Faults one connection inflicts on a server process, under every built-in backend:
// resets (SO_LINGER 0) in the middle of a request and of a reply, half-closed sockets,
// a handler that throws, and a flood of connections beyond --max-connections. A
// healthy client probes throughout (no-threads: after each fault connection, since it
// serves one connection at a time), and every write it saw acknowledged is read back.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <thread>

#include "backends.h"
#include "example_server.h"
#include "fault_support.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE(
    "resets mid-request and mid-reply, and half-closed sockets, cost only their own connection") {
  const std::string value(256 * 1024, 'r');
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    const bool one_at_a_time = serves_one_at_a_time(backend);
    ExampleServer server("kv_server", backend);
    {
      TestClient writer(server.port());
      REQUIRE(writer.send(
          fmt::format("*3\r\n$3\r\nSET\r\n$5\r\nlarge\r\n${}\r\n{}\r\n", value.size(), value)));
      REQUIRE(read_resp(writer));
    }
    std::optional<HealthyClient> healthy;
    if (!one_at_a_time) healthy.emplace(server.port(), Dialect::kKv);
    for (int round = 0; round < 20; ++round) {
      CAPTURE(round);
      {  // Reset in the middle of a request: half a SET, then RST.
        TestClient c(server.port());
        REQUIRE(c.send("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc"));
        c.reset();
      }
      {  // Reset while the server writes 4 MiB of replies.
        TestClient c(server.port());
        std::string gets;
        for (int i = 0; i < 16; ++i) gets += "GET large\r\n";
        REQUIRE(c.send(gets));
        c.read_line(5ms);  // let the reply start
        c.reset();
      }
      {  // Half-closed: what was sent is answered in full, then the server closes too.
        TestClient c(server.port());
        REQUIRE(c.send(fmt::format("SET hc:{} x\r\nGET hc:{}\r\n", round, round)));
        c.shutdown_write();
        auto set = read_resp(c, scaled(10s));
        auto get = read_resp(c, scaled(10s));
        REQUIRE(set);
        CHECK(set->text == "OK");
        REQUIRE(get);
        CHECK(get->text == "x");
        CHECK(c.wait_closed(scaled(10s)));
      }
      if (one_at_a_time) CHECK(served(server.port(), Dialect::kKv, scaled(10s)));
    }
    // The half-sent SET never happened.
    TestClient check(server.port());
    auto half = kv_command(check, "EXISTS half");
    REQUIRE(half);
    CHECK(half->text == "0");
    if (healthy) check_healthy(*healthy, server.port());
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("a handler that throws: its connection gets an error and closes, the worker survives") {
  constexpr int kThrows = 20;
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    const bool one_at_a_time = serves_one_at_a_time(backend);
    // cs_test_server's TestProtocol throws std::runtime_error on "throw".
    ExampleServer server("cs_test_server", backend);
    std::optional<HealthyClient> healthy;
    if (!one_at_a_time) healthy.emplace(server.port(), Dialect::kLine);
    for (int i = 0; i < kThrows; ++i) {
      TestClient c(server.port());
      CHECK(c.request("echo before") == "before");
      CHECK(c.request("throw") == "ERROR the handler threw on purpose");
      CHECK(c.wait_closed(scaled(10s)));
      if (one_at_a_time) CHECK(served(server.port(), Dialect::kLine, scaled(10s)));
    }
    CHECK(stats_counter(server.admin_port(), "handler_errors") == kThrows);
    // The workers that ran the throwing handlers serve new connections.
    for (int i = 0; i < 8; ++i) CHECK(served(server.port(), Dialect::kLine, scaled(10s)));
    if (healthy) {
      healthy->stop();
      CHECK(healthy->failures().empty());
      CHECK(healthy->answered() > 0);
    }
    CHECK(server.stop() == 0);
  }
}

TEST_CASE(
    "a flood beyond --max-connections is refused with Redis's message and counted; the admin port "
    "and the healthy client keep answering") {
  constexpr int kLimit = 20;
  constexpr int kFlood = 300;
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    if (serves_one_at_a_time(backend)) {
      // no-threads accepts only once the connection it serves ends, so a flood waits in
      // the backlog and is never over the limit: nothing is refused, by design.
      MESSAGE("no-threads: skipped (it never holds more than one connection)");
      continue;
    }
    ExampleServer server("kv_server", backend, {fmt::format("--max-connections={}", kLimit)});
    HealthyClient healthy(server.port(), Dialect::kKv);  // holds one of the kLimit slots
    REQUIRE(RunningServer::eventually([&] { return healthy.answered() >= 1; }, scaled(10s)));
    std::vector<TestClient> flood;
    for (int i = 0; i < kFlood; ++i) flood.emplace_back(server.port());
    // The admin port answers during the flood, and has counted every refusal.
    auto stats = admin_request(server.admin_port(), "GET", "/stats");
    CHECK(stats.status == 200);
    const long long expected = kFlood - (kLimit - 1);
    CHECK(RunningServer::eventually(
        [&] { return stats_counter(server.admin_port(), "connections_refused") >= expected; },
        scaled(10s)));
    CHECK(stats_counter(server.admin_port(), "connections_refused") == expected);
    int refused = 0;
    std::vector<TestClient*> admitted;
    // A refusal is counted just before its message is sent: give the last sends their time
    // once, then read each connection briefly (admitted ones stay silent).
    std::this_thread::sleep_for(scaled(200ms));
    for (auto& c : flood) {
      auto line = c.read_line(50ms);
      if (line == "-ERR max number of clients reached\r") {
        ++refused;
        CHECK(c.wait_closed(scaled(10s)));
      } else {
        CHECK(!line);  // admitted connections say nothing until asked
        admitted.push_back(&c);
      }
    }
    CHECK(refused == expected);
    REQUIRE(admitted.size() == kLimit - 1);
    for (TestClient* c : admitted) {  // and are served normally
      auto pong = kv_command(*c, "PING", scaled(10s));
      REQUIRE(pong);
      CHECK(pong->text == "PONG");
    }
    flood.clear();
    CHECK(RunningServer::eventually([&] { return served(server.port(), Dialect::kKv, 2s); },
                                    scaled(10s)));
    check_healthy(healthy, server.port());
    CHECK(server.stop() == 0);
  }
}
