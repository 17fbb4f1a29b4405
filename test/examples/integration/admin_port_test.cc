// File: test/examples/integration/admin_port_test.cc
//
// The admin port as an operator meets it with curl, under every built-in backend, while
// the threads that serve connections are all busy: it has its own thread, so it must
// answer /stats, /metrics, /kill, /set and /shutdown whatever the backend is doing.
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin_client.h"
#include "backends.h"
#include "example_server.h"
#include "test_client.h"
#include "text_search.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// A dynamic option each backend takes, with a good and a bad value ({} when none).
struct OptionProbe {
  std::string name, good, bad;
};
OptionProbe option_probe(const std::string& backend) {
  if (backend == "one-thread-per-connection") return {"thread_cache_size", "3", "-1"};
  if (backend == "pool-of-threads") return {"thread_pool_oversubscribe", "0", "-1"};
  return {};
}

// Flags that make the busiest configuration of each backend: a pool of one group that
// runs one request at a time.
std::vector<std::string> stall_flags(const std::string& backend) {
  if (backend == "pool-of-threads")
    return {"--thread-pool-size=1", "--thread-pool-oversubscribe=0"};
  return {};
}

// The connection id kv_server reports for this client (CLIENT ID).
std::uint64_t client_id(TestClient& client) {
  REQUIRE(client.send("CLIENT ID\r\n"));
  auto line = client.read_line(30s);
  REQUIRE(line);
  REQUIRE(line->rfind(":", 0) == 0);
  return std::stoull(line->substr(1));
}

}  // namespace

TEST_CASE("the admin port answers while every serving thread is stalled, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend, stall_flags(backend));
    // One connection sleeps for 30 s inside a reported wait; on backends that serve
    // several at once, two more burn the CPU for 3 s each without reporting anything.
    TestClient sleeper(server.port());
    std::uint64_t sleeper_id = client_id(sleeper);
    REQUIRE(sleeper.send("SLEEP 30000\r\n"));
    std::vector<std::unique_ptr<TestClient>> burners;
    if (!serves_one_at_a_time(backend)) {
      for (int i = 0; i < 2; ++i) {
        burners.push_back(std::make_unique<TestClient>(server.port()));
        REQUIRE(burners.back()->send("BURN 3000000\r\n"));
      }
    }

    // /stats: JSON with core counters (the sleep is counted once it began), the backend.
    CHECK(RunningServer::eventually(
        [&] {
          auto sleeps = number_after(admin(server, "GET", "/stats").body, "\"sleep\": ");
          return sleeps && *sleeps >= 1;
        },
        30s));
    HttpReply stats = admin(server, "GET", "/stats");
    CHECK(stats.status == 200);
    CHECK(stats.body.find("\"backend\": \"" + backend + "\"") != std::string::npos);
    auto current = number_after(stats.body, "\"connections_current\": ");
    REQUIRE(current);
    CHECK(*current >= 1);
    CHECK(stats.body.find("\"backend_stats\": {") != std::string::npos);
    CHECK(stats.body.find("\"counters\": {") != std::string::npos);
    CHECK(stats.body.find("\"tables\": {") != std::string::npos);

    // /metrics: Prometheus text format.
    HttpReply metrics = admin(server, "GET", "/metrics");
    CHECK(metrics.status == 200);
    CHECK(metrics.body.find("# TYPE connsched_requests_total counter\n") != std::string::npos);
    CHECK(metrics.body.find("# HELP connsched_connections_current ") != std::string::npos);
    CHECK(metrics.body.find("connsched_waits_total{type=\"sleep\"} ") != std::string::npos);
    CHECK(metrics.body.find("connsched_backend_info{backend=\"" + backend + "\"} 1\n") !=
          std::string::npos);

    // Still stalled: the sleeper has no reply yet, and the admin port answered anyway.
    CHECK_FALSE(sleeper.read_line(10ms));

    // /kill closes the sleeping connection long before its 30 s are up.
    HttpReply killed = admin(server, "POST", "/kill?id=" + std::to_string(sleeper_id));
    CHECK(killed.status == 200);
    CHECK(killed.body == "{\"killed\": " + std::to_string(sleeper_id) + "}\n");
    CHECK(sleeper.wait_closed(15s));
    CHECK(admin(server, "POST", "/kill?id=999999").status == 404);
    CHECK(admin(server, "POST", "/kill?id=abc").status == 400);
    CHECK(admin(server, "POST", "/kill").status == 400);
    CHECK(admin(server, "GET", "/kill?id=1").status == 405);

    // /set changes a backend's run-time option, and refuses what it cannot take.
    HttpReply unknown = admin(server, "POST", "/set?no_such_option=1");
    CHECK(unknown.status == 422);
    CHECK(unknown.body.find("{\"error\": \"unknown option 'no_such_option'") == 0);
    if (auto probe = option_probe(backend); !probe.name.empty()) {
      CHECK(admin(server, "POST", "/set?" + probe.name + "=" + probe.good).status == 200);
      CHECK(admin(server, "POST", "/set?" + probe.name + "=" + probe.bad).status == 422);
    }
    CHECK(admin(server, "POST", "/set").status == 400);
    CHECK(admin(server, "GET", "/nowhere").status == 404);
    HttpReply index = admin(server, "GET", "/");  // what `curl 127.0.0.1:PORT/` shows
    CHECK(index.status == 200);
    CHECK(index.body.find("{\"path\": \"/stats\", \"method\": \"GET\"") != std::string::npos);
    CHECK(admin(server, "DELETE", "/stats").status == 405);

    // The burners finish and are answered: the admin traffic cost them nothing.
    for (auto& b : burners) {
      auto line = b->read_line(60s);
      REQUIRE(line);
      CHECK(line->rfind(":", 0) == 0);
    }

    // /shutdown is a graceful stop: exit status 0.
    HttpReply shutdown = admin(server, "POST", "/shutdown");
    CHECK(shutdown.status == 202);
    CHECK(server.process().wait_exit(30s) == 0);
  }
}

TEST_CASE("the admin port answers malformed and oversized requests with a JSON error") {
  ExampleServer server("http_server", "one-thread-per-connection");
  {
    TestClient client(server.admin_port());
    REQUIRE(client.send("NOT HTTP AT ALL\r\n\r\n"));
    std::string reply = client.read_all(10s);
    CHECK(reply.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(reply.find("{\"error\": ") != std::string::npos);
  }
  {
    TestClient client(server.admin_port());
    REQUIRE(client.send("GET /stats HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a') + "\r\n\r\n"));
    std::string reply = client.read_all(10s);
    CHECK(reply.rfind("HTTP/1.1 431 ", 0) == 0);
  }
  {
    // Admin clients are served one at a time; one that says nothing is dropped after
    // its 2 s deadline, so the next is still answered promptly.
    TestClient silent(server.admin_port());
    auto start = std::chrono::steady_clock::now();
    HttpReply stats = admin(server, "GET", "/stats");
    CHECK(stats.status == 200);
    CHECK(std::chrono::steady_clock::now() - start < 15s);
    CHECK(silent.wait_closed(10s));
  }
  CHECK(server.stop() == 0);
}

TEST_CASE("--admin-port is refused when out of range, and absent unless asked for") {
  auto [status, output] =
      ServerProcess::run(bin_dir() + "/kv_server", {"--port=0", "--admin-port=70000"});
  CHECK(status == 2);
  CHECK(output.find("--admin-port") != std::string::npos);

  ServerProcess plain(bin_dir() + "/kv_server", {"--port=0"});
  REQUIRE(plain.wait_listening());
  CHECK(plain.output().find("admin port") == std::string::npos);
  plain.signal(SIGTERM);
  CHECK(plain.wait_exit() == 0);
}
