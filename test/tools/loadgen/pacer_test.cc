// File: test/tools/loadgen/pacer_test.cc
//
// The load generator's pacer on a simulated clock, and a paced run against a real
// server that keeps to its rate.
#include <doctest/doctest.h>
#include <signal.h>

#include "load_generator.h"
#include "pacer.h"
#include "running_server.h"
#include "server_process.h"

using namespace loadgen;
using namespace std::chrono_literals;

TEST_CASE("a pacer hands out its rate per second, polled often") {
  const auto t0 = Pacer::Clock::now();
  Pacer pacer(200, default_burst(200), t0);
  int taken = 0;
  for (int ms = 0; ms < 1000; ++ms) {
    for (int tries = 0; tries < 10; ++tries)
      taken += pacer.try_take(t0 + std::chrono::milliseconds(ms));
  }
  CHECK(taken >= 199);
  CHECK(taken <= 201);
}

TEST_CASE("a pacer saves up no more than its burst") {
  const auto t0 = Pacer::Clock::now();
  Pacer pacer(1000, 20, t0);
  int taken = 0;
  while (pacer.try_take(t0 + 10s)) ++taken;  // ten idle seconds
  CHECK(taken == 20);
  CHECK_FALSE(pacer.try_take(t0 + 10s));
  CHECK(pacer.try_take(t0 + 10s + 1ms));
}

TEST_CASE("an unpaced pacer always says yes") {
  Pacer pacer(0, 0, Pacer::Clock::now());
  CHECK_FALSE(pacer.paced());
  for (int i = 0; i < 1000; ++i) CHECK(pacer.try_take(Pacer::Clock::now()));
}

TEST_CASE("a paced load keeps to its rate against a real server, churn too") {
  using connsched::testing::ServerProcess;
  ServerProcess server(connsched::testing::bin_dir() + "/echo_server",
                       {"--port=0", "--thread-handling=one-thread-per-connection"});
  const auto port = server.wait_listening();
  REQUIRE(port.has_value());
  for (const bool churn : {false, true}) {
    CAPTURE(churn);
    LoadSpec spec;
    spec.port = *port;
    spec.protocol = WireProtocol::kLine;
    spec.connections = 8;
    spec.churn = churn;
    spec.rate = 100;
    spec.warmup = 0ms;
    spec.duration = 2000ms;
    spec.classes = {{.name = "hello", .request = "hello", .connections = 0}};
    LoadProgress progress;
    spec.progress = &progress;
    const auto result = run_load(spec);
    CAPTURE(result.first_error);
    CHECK(result.errors() == 0);
    // 100 a second; a closed loop on 8 connections would do thousands. Pacing never
    // goes over (bar the first tokens); a busy machine (sanitizers, parallel tests)
    // may fall short, and a pacer does not catch up beyond its burst.
    const double expected = 100 * result.seconds;
    CAPTURE(result.requests);
    CAPTURE(result.seconds);
    CHECK(static_cast<double>(result.requests) <= expected * 1.1 + 12);
    CHECK(static_cast<double>(result.requests) >= expected * 0.5);
    CHECK(progress.requests.load() == result.requests);
    CHECK(progress.errors.load() == 0);
  }
  server.signal(SIGTERM);
  CHECK(server.wait_exit(20s) == 0);
}
