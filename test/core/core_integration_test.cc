// File: test/core/core_integration_test.cc
//
// Core and each backend together, in process, over loopback sockets: what a client
// sees. Every test runs against every built-in backend and a C backend loaded by path.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "backends.h"
#include "running_server.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE("many concurrent clients each get their own echoes back, in order") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    constexpr int kClients = 40;
    constexpr int kRequests = 25;
    std::atomic<int> correct{0};
    {
      std::vector<std::jthread> clients;
      for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
          TestClient client(server.port(), 30s);
          for (int r = 0; r < kRequests; ++r) {
            std::string text = "client" + std::to_string(c) + "-request" + std::to_string(r);
            if (client.request("echo " + text, 30s) == text) correct.fetch_add(1);
          }
        });
      }
    }
    CHECK(correct.load() == kClients * kRequests);
    if (serves_one_at_a_time(backend)) {
      CHECK(server.probe().peak.load() == 1);  // one after another
    }
    CHECK(RunningServer::eventually(
        [&] { return server.server().core_stats().connections_current == 0; }));
    CHECK(server.server().core_stats().requests ==
          static_cast<std::uint64_t>(kClients * kRequests));
  }
}

TEST_CASE("pipelined requests in one write are all answered, in order") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient client(server.port());
    std::string batch;
    for (int i = 0; i < 500; ++i) batch += "echo " + std::to_string(i) + "\n";
    REQUIRE(client.send(batch));
    for (int i = 0; i < 500; ++i) {
      auto line = client.read_line();
      REQUIRE(line.has_value());
      CHECK(*line == std::to_string(i));
    }
  }
}

TEST_CASE("a request split across many writes is answered once, when complete") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient client(server.port());
    std::string request = "echo split-into-single-bytes\n";
    for (char c : request) {
      REQUIRE(client.send(std::string(1, c)));
      std::this_thread::sleep_for(2ms);
    }
    CHECK(client.read_line() == "split-into-single-bytes");
    CHECK_FALSE(client.read_line(100ms).has_value());  // exactly one reply
  }
}

TEST_CASE("a partial request holds no thread: others are served meanwhile") {
  for (const auto& backend : builtin_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // by design it serves one connection at a time
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    std::vector<TestClient> slow;
    for (int i = 0; i < 20; ++i) {
      slow.emplace_back(server.port());
      REQUIRE(slow.back().send("echo never-finish"));
    }
    TestClient healthy(server.port());
    CHECK(healthy.request("echo still-served", 5s) == "still-served");
  }
}

TEST_CASE("a client that vanishes mid-request costs nothing; the server keeps serving") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    for (int i = 0; i < 10; ++i) {
      TestClient gone(server.port());
      REQUIRE(gone.send("echo half a requ"));
      if (i % 2 == 0) {
        gone.reset();  // RST
      } else {
        gone.shutdown_write();  // FIN mid-request
        CHECK(gone.wait_closed(5s));
      }
    }
    TestClient healthy(server.port());
    CHECK(healthy.request("echo fine", 5s) == "fine");
    CHECK(RunningServer::eventually(
        [&] { return server.server().core_stats().connections_current == 1; }));
  }
}

TEST_CASE("a half-closed client still gets the replies to what it sent") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient client(server.port());
    REQUIRE(client.send("echo one\necho two\n"));
    client.shutdown_write();
    CHECK(client.read_all(5s) == "one\ntwo\n");
  }
}

TEST_CASE(
    "max_connections refuses the extra connection with the protocol's message; the peak counts "
    "only admitted ones") {
  for (const auto& backend : all_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // the acceptor is busy serving: it queues
    CAPTURE(backend);
    auto options = test_options(backend);
    options.max_connections = 3;
    RunningServer server(options);
    std::vector<TestClient> held;
    for (int i = 0; i < 3; ++i) {
      held.emplace_back(server.port());
      REQUIRE(held.back().request("echo hi") == "hi");
    }
    TestClient extra(server.port());
    CHECK(extra.read_line(5s) == "ERROR too many connections");
    CHECK(extra.wait_closed(5s));
    CHECK(server.server().core_stats().connections_refused == 1);
    CHECK(server.server().core_stats().connections_peak == 3);
    held.pop_back();  // one leaves: there is room again
    REQUIRE(RunningServer::eventually(
        [&] { return server.server().core_stats().connections_current == 2; }));
    TestClient again(server.port());
    CHECK(again.request("echo room") == "room");
    CHECK(server.server().core_stats().connections_peak == 3);  // a high-water mark
  }
}

TEST_CASE("an idle connection is closed after wait_timeout; a busy one is not") {
  for (const auto& backend : all_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // covered below on its own
    CAPTURE(backend);
    auto options = test_options(backend);
    options.wait_timeout = 1;
    RunningServer server(options);
    TestClient idle(server.port());
    REQUIRE(idle.request("echo x") == "x");
    TestClient busy(server.port());
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) {  // 1.8 s of activity, each gap well under the timeout
      REQUIRE(busy.request("echo y") == "y");
      std::this_thread::sleep_for(300ms);
    }
    CHECK(idle.wait_closed(5s));
    CHECK(std::chrono::steady_clock::now() - start < 8s);
    CHECK(busy.request("echo still") == "still");
    CHECK(server.server().core_stats().connections_timed_out >= 1);
  }
}

TEST_CASE("no-threads closes an idle connection after wait_timeout and serves the next") {
  auto options = test_options("no-threads");
  options.wait_timeout = 1;
  RunningServer server(options);
  TestClient idle(server.port());
  REQUIRE(idle.request("echo x") == "x");
  TestClient next(server.port());  // waits in the backlog behind `idle`
  CHECK(idle.wait_closed(5s));
  CHECK(next.request("echo next", 5s) == "next");
}

TEST_CASE("kill by id closes a connection blocked waiting for input") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient victim(server.port());
    auto id = victim.request("id");
    REQUIRE(id.has_value());
    CHECK(server.server().kill(std::stoull(*id)));
    CHECK(victim.wait_closed(5s));
    CHECK_FALSE(server.server().kill(999999));
    CHECK(server.server().core_stats().connections_killed == 1);
  }
}

TEST_CASE("a request over max_request_size gets an error and a close, not memory growth") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    auto options = test_options(backend);
    options.max_request_size = 1024;
    RunningServer server(options);
    TestClient client(server.port());
    client.send(std::string(64 * 1024, 'x'));  // no newline, ever
    CHECK(client.read_line(5s) == "ERROR request larger than 1024 bytes");
    CHECK(client.wait_closed(5s));
    CHECK(server.server().core_stats().requests_too_large == 1);
    TestClient healthy(server.port());
    CHECK(healthy.request("echo ok") == "ok");
  }
}

TEST_CASE("a handler that throws costs only its connection") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient client(server.port());
    CHECK(client.request("throw") == "ERROR the handler threw on purpose");
    CHECK(client.wait_closed(5s));
    TestClient healthy(server.port());
    CHECK(healthy.request("echo alive") == "alive");
    CHECK(server.server().core_stats().handler_errors == 1);
  }
}

TEST_CASE("quit closes after the reply") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient client(server.port());
    REQUIRE(client.send("quit\necho never\n"));
    CHECK(client.read_all(5s) == "bye\n");
  }
}

TEST_CASE("waits reported by handlers are counted by type") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient client(server.port());
    CHECK(client.request("sleep 5") == "ok");
    CHECK(client.request("sleep 5") == "ok");
    CHECK(server.server().core_stats().waits[CONNSCHED_WAIT_SLEEP] == 2);
  }
}

TEST_CASE("graceful shutdown answers a request in flight, then closes every connection") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    auto server = std::make_unique<RunningServer>(test_options(backend));
    TestClient busy(server->port());
    REQUIRE(busy.send("sleep 300\n"));
    REQUIRE(RunningServer::eventually([&] { return server->probe().running.load() == 1; }));
    std::jthread stopper([&] { CHECK(server->stop() == 0); });
    CHECK(busy.read_line(5s) == "ok");  // the reply in flight is not lost
    CHECK(busy.wait_closed(5s));
  }
}

TEST_CASE("one-thread-per-connection reuses a cached thread for sequential connections") {
  SUBCASE("thread_cache_size=1: one thread serves them all") {
    auto options = test_options("one-thread-per-connection");
    options.backend_options["thread_cache_size"] = "1";
    RunningServer server(options);
    for (int i = 0; i < 10; ++i) {
      TestClient client(server.port());
      REQUIRE(client.request("echo x") == "x");
      client.shutdown_write();
      REQUIRE(client.wait_closed());
      REQUIRE(RunningServer::eventually(
          [&] { return server.server().backend_stats().counter("threads_cached") == 1; }));
    }
    auto stats = server.server().backend_stats();
    CHECK(stats.counter("threads_created_total") == 1);
    CHECK(stats.counter("thread_cache_hits_total") == 9);
  }
  SUBCASE("thread_cache_size=0: every connection creates a thread") {
    auto options = test_options("one-thread-per-connection");
    options.backend_options["thread_cache_size"] = "0";
    RunningServer server(options);
    for (int i = 0; i < 10; ++i) {
      TestClient client(server.port());
      REQUIRE(client.request("echo x") == "x");
    }
    auto stats = server.server().backend_stats();
    CHECK(stats.counter("threads_created_total") == 10);
    CHECK(stats.counter("threads_cached") == 0);
  }
}

TEST_CASE("backend options change at run time through set_option, with clear errors") {
  auto options = test_options("one-thread-per-connection");
  options.backend_options["thread_cache_size"] = "4";
  RunningServer server(options);
  for (int i = 0; i < 3; ++i) {
    TestClient client(server.port());
    REQUIRE(client.request("echo x") == "x");
  }
  REQUIRE(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threads_cached") >= 1; }));
  CHECK(server.server().set_option("thread-cache-size", "0").empty());
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("threads_cached") == 0; }));
  CHECK(server.server().backend_stats().counter("thread_cache_size") == 0);
  CHECK(server.server().set_option("thread_cache_size", "-1") ==
        "--thread-cache-size: -1 is out of range [0, 16384]");
  CHECK(server.server().set_option("no_such", "1") ==
        "unknown option 'no_such' for backend 'one-thread-per-connection'");
}

TEST_CASE("a backend whose init fails stops the start with its own message") {
  CHECK_THROWS_WITH_AS(
      { RunningServer server(test_options(broken_plugin_dir() + "/init_fails.so")); },
      doctest::Contains("init_fails.so: init failed: cannot reach the scheduling oracle"),
      StartupError);
}

TEST_CASE("a connection the backend refuses is closed; the server carries on") {
  RunningServer server(test_options(broken_plugin_dir() + "/refuse_add.so"));
  TestClient refused(server.port());
  CHECK(refused.wait_closed(5s));
  CHECK(RunningServer::eventually(
      [&] { return server.server().core_stats().connections_current == 0; }));
}

TEST_CASE("a client that stops reading a large reply is dropped after net_write_timeout") {
  for (const auto& backend : all_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // the healthy client would queue behind it
    CAPTURE(backend);
    auto options = test_options(backend);
    options.net_write_timeout = 1;
    options.max_output_buffer = std::uint64_t{128} << 20;  // the reply fits: this is the timeout's
    options.output_buffer_soft_limit = 0;
    RunningServer server(options);
    TestClient stalled(server.port());
    REQUIRE(stalled.send("big 67108864\n"));  // 64 MiB, never read
    TestClient healthy(server.port());
    CHECK(healthy.request("echo meanwhile", 30s) == "meanwhile");
    // Generous bounds: under TSan with other tests running, a 64 MiB reply is slow to build.
    CHECK(RunningServer::eventually(
        [&] { return server.server().core_stats().write_timeouts == 1; }, 60s));
    if (backend == "pool-of-threads") {
      // It waits for EPOLLOUT without a thread (CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT).
      CHECK(server.server().core_stats().waits[CONNSCHED_WAIT_NET] == 0);
    } else {
      CHECK(server.server().core_stats().waits[CONNSCHED_WAIT_NET] >= 1);  // a NET wait
    }
    CHECK(healthy.request("echo after", 30s) == "after");
    CHECK(RunningServer::eventually(
        [&] { return server.server().core_stats().connections_current == 1; }, 60s));
  }
}

TEST_CASE(
    "a drain that begins while a request runs is announced by the next request: the "
    "connection is not closed after a reply that did not say so") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    RunningServer server(test_options(backend));
    TestClient client(server.port());
    REQUIRE(client.request("draining") == "serving");
    REQUIRE(client.send("sleep 400\n"));
    std::this_thread::sleep_for(100ms);  // the sleep is running
    CHECK(server.server().drain().empty());
    // The reply built before the drain began did not announce it, so the connection
    // stays open for the next request, which does.
    CHECK(client.read_line() == "ok");
    CHECK(client.request("draining") == "draining");
    CHECK(client.wait_closed());
    CHECK(server.stop() == 0);
  }
}
