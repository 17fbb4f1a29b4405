// File: test/examples/integration/kv_proxy_test.cc
//
// kv_proxy protects its upstream with a connection pool: commands pass through, MULTI
// pins one upstream connection, exhaustion is a prompt "-ERR upstream busy", the
// upstream never sees more connections than the pool's maximum, an upstream restart
// costs errors, not hangs, and clients that open MULTI and go quiet cannot take the
// pool from everyone else (a share of the pool for pins, and a pin timeout).
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "backends.h"
#include "example_server.h"
#include "server_process.h"
#include "test_client.h"
#include "text_search.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

std::string cli(std::uint16_t port, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"-p", std::to_string(port)};
  args.insert(args.end(), command.begin(), command.end());
  auto result = run_tool("redis-cli", args, {}, 30s);
  REQUIRE(result.status == 0);
  auto& out = result.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The upstream kv_server's count of client connections (its own redis-cli included).
long long upstream_clients(std::uint16_t upstream_port) {
  auto info = cli(upstream_port, {"info", "clients"});
  auto value = number_after(info, "connected_clients:");
  REQUIRE(value.has_value());
  return *value;
}

std::vector<std::string> proxy_args(std::uint16_t upstream,
                                    const std::vector<std::string>& more = {}) {
  std::vector<std::string> args = {"--upstream=127.0.0.1:" + std::to_string(upstream)};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

}  // namespace

TEST_CASE("commands pass through kv_proxy to the upstream, under every backend") {
  ExampleServer upstream("kv_server", "one-thread-per-connection");
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer proxy("kv_proxy", backend, proxy_args(upstream.port()));
    CHECK(cli(proxy.port(), {"ping"}) == "PONG");
    CHECK(cli(proxy.port(), {"set", "via-" + backend, "yes"}) == "OK");
    CHECK(cli(upstream.port(), {"get", "via-" + backend}) == "yes");  // it reached the upstream
    CHECK(cli(proxy.port(), {"incr", "counter-" + backend}) == "1");
    CHECK(cli(proxy.port(), {"get", "missing-key"}).empty());
    CHECK(cli(proxy.port(), {"nosuchcommand"}).find("ERR unknown command") != std::string::npos);
    auto stats = cli(proxy.port(), {"proxystats"});
    CHECK(number_after(stats, "forwarded:").value_or(0) >= 5);
    CHECK(proxy.stop() == 0);
  }
}

TEST_CASE("MULTI ... EXEC runs on one pinned upstream connection") {
  ExampleServer upstream("kv_server", "one-thread-per-connection");
  ExampleServer proxy(
      "kv_proxy", "pool-of-threads",
      proxy_args(upstream.port(), {"--upstream-pool-max=1", "--upstream-borrow-timeout=300",
                                   "--upstream-pin-share=100"}));
  TestClient tx(proxy.port());
  CHECK(tx.request("MULTI") == "+OK\r");
  CHECK(tx.request("SET pinned 41") == "+QUEUED\r");
  CHECK(tx.request("INCR pinned") == "+QUEUED\r");
  // The only upstream connection is pinned to `tx`: another client waits, then is refused.
  TestClient other(proxy.port());
  auto busy = other.request("PING", 10s);
  REQUIRE(busy.has_value());
  CHECK(busy->rfind("-ERR upstream busy: pool 'upstream 127.0.0.1:", 0) == 0);
  REQUIRE(tx.send("EXEC\r\n"));
  CHECK(tx.read_line() == "*2\r");
  CHECK(tx.read_line() == "+OK\r");
  CHECK(tx.read_line() == ":42\r");
  CHECK(other.request("PING") == "+PONG\r");  // released after EXEC
}

TEST_CASE("an exhausted pool answers '-ERR upstream busy' within the borrow timeout") {
  ExampleServer upstream("kv_server", "pool-of-threads");
  for (const auto& backend : builtin_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // one client at a time: no contention
    CAPTURE(backend);
    ExampleServer proxy(
        "kv_proxy", backend,
        proxy_args(upstream.port(), {"--upstream-pool-max=1", "--upstream-borrow-timeout=300"}));
    TestClient holder(proxy.port());
    REQUIRE(holder.send("SLEEP 3000\r\n"));  // holds the only upstream connection
    std::this_thread::sleep_for(300ms);
    TestClient waiter(proxy.port());
    auto start = std::chrono::steady_clock::now();
    auto reply = waiter.request("PING", 10s);
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(reply.has_value());
    CHECK(reply->find("-ERR upstream busy") == 0);
    CHECK(reply->find("1 of 1 objects in use") != std::string::npos);
    CHECK(took >= 250ms);
    CHECK(took < 2500ms);  // well before the holder's 3 s: it did not wait for it
    CHECK(holder.read_line(10s) == "+OK\r");
  }
}

TEST_CASE("the upstream never sees more connections than the pool's maximum") {
  ExampleServer upstream("kv_server", "pool-of-threads");
  ExampleServer proxy(
      "kv_proxy", "pool-of-threads",
      proxy_args(upstream.port(), {"--upstream-pool-max=4", "--upstream-borrow-timeout=5000"}));
  std::atomic<bool> running{true};
  std::atomic<long long> peak{0};
  std::jthread sampler([&] {
    while (running.load()) {
      long long now = upstream_clients(upstream.port()) - 1;  // less the sampler itself
      long long seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  std::atomic<int> answered{0};
  {
    std::vector<std::jthread> clients;
    for (int c = 0; c < 24; ++c) {
      clients.emplace_back([&, c] {
        TestClient client(proxy.port(), 30s);
        for (int i = 0; i < 20; ++i) {
          if (client.request("SET k" + std::to_string(c) + " " + std::to_string(i), 30s) ==
              "+OK\r") {
            answered.fetch_add(1);
          }
        }
      });
    }
  }
  running = false;
  sampler.join();
  CHECK(answered.load() == 24 * 20);
  CHECK(peak.load() >= 1);
  CHECK(peak.load() <= 4);
  auto stats = cli(proxy.port(), {"proxystats"});
  CHECK(number_after(stats, "pool_created:").value_or(99) <= 4);
}

TEST_CASE("redis-benchmark through the proxy: every request answered") {
  ExampleServer upstream("kv_server", "pool-of-threads");
  ExampleServer proxy(
      "kv_proxy", "pool-of-threads",
      proxy_args(upstream.port(), {"--upstream-pool-max=8", "--upstream-borrow-timeout=10000"}));
  auto result = run_tool(
      "redis-benchmark",
      {"-p", std::to_string(proxy.port()), "-t", "ping,set,get", "-n", "3000", "-c", "20", "-q"},
      {}, 300s);
  CHECK(result.status == 0);
  INFO(result.output);
  CHECK(result.output.find("SET: ") != std::string::npos);
  CHECK(result.output.find("GET: ") != std::string::npos);
  CHECK(result.errors.find("ERR") == std::string::npos);
}

TEST_CASE("an upstream that dies costs errors, not hangs, and is used again when it returns") {
  auto upstream = std::make_unique<ExampleServer>("kv_server", "one-thread-per-connection");
  const std::uint16_t port = upstream->port();
  ExampleServer proxy(
      "kv_proxy", "pool-of-threads",
      proxy_args(port, {"--upstream-pool-max=4", "--upstream-connect-timeout=500"}));
  TestClient client(proxy.port());
  CHECK(client.request("SET before 1") == "+OK\r");
  upstream->process().signal(SIGKILL);
  upstream->process().wait_exit(10s);
  auto start = std::chrono::steady_clock::now();
  auto during = client.request("GET before", 10s);
  REQUIRE(during.has_value());
  CHECK(during->rfind("-ERR upstream unavailable", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  // The upstream comes back on the same port: the proxy reconnects by itself.
  ServerProcess again(bin_dir() + "/kv_server",
                      {"--port=" + std::to_string(port), "--plugin-dir=" + plugin_dir()});
  REQUIRE(again.wait_listening().has_value());
  bool recovered = false;
  for (int i = 0; i < 50 && !recovered; ++i) {
    recovered = client.request("SET after 2", 10s) == "+OK\r";
    if (!recovered) std::this_thread::sleep_for(100ms);
  }
  CHECK(recovered);
  again.signal(SIGTERM);
  CHECK(again.wait_exit(20s) == 0);
}

TEST_CASE(
    "without a pool (--upstream-pool-max=0) every command opens its own upstream connection") {
  ExampleServer upstream("kv_server", "one-thread-per-connection");
  ExampleServer proxy("kv_proxy", "one-thread-per-connection",
                      proxy_args(upstream.port(), {"--upstream-pool-max=0"}));
  for (int i = 0; i < 5; ++i) CHECK(cli(proxy.port(), {"ping"}) == "PONG");
  auto stats = cli(proxy.port(), {"proxystats"});
  CHECK(number_after(stats, "unpooled_connects:").value_or(0) == 5);
}

TEST_CASE("kv_proxy in front of a real redis-server") {
  find_tool("redis-server");  // fails with the package to install when absent
  // Any free port: bind one, release it, give it to redis-server.
  std::uint16_t port = 0;
  {
    ExampleServer probe("kv_server", "no-threads");
    port = probe.port();
  }
  ServerProcess redis(find_tool("redis-server"), {"--port", std::to_string(port), "--bind",
                                                  "127.0.0.1", "--save", "", "--appendonly", "no"});
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = run_tool("redis-cli", {"-p", std::to_string(port), "ping"}, {}, 5s).output.find("PONG") ==
         0;
    if (!up) std::this_thread::sleep_for(50ms);
  }
  REQUIRE(up);
  ExampleServer proxy("kv_proxy", "pool-of-threads", proxy_args(port, {"--upstream-pool-max=4"}));
  CHECK(cli(proxy.port(), {"set", "real", "redis"}) == "OK");
  CHECK(cli(port, {"get", "real"}) == "redis");
  CHECK(cli(proxy.port(), {"incr", "hits"}) == "1");
  TestClient tx(proxy.port());
  CHECK(tx.request("MULTI") == "+OK\r");
  CHECK(tx.request("INCR hits") == "+QUEUED\r");
  REQUIRE(tx.send("EXEC\r\n"));
  CHECK(tx.read_line() == "*1\r");
  CHECK(tx.read_line() == ":2\r");
  redis.signal(SIGTERM);
  redis.wait_exit(20s);
}

TEST_CASE(
    "16 clients that send MULTI and nothing more leave the others served: half the pool at most "
    "is pinned, and idle pins are aborted after --upstream-pin-timeout") {
  ExampleServer upstream("kv_server", "pool-of-threads");
  ExampleServer proxy(
      "kv_proxy", "pool-of-threads",
      proxy_args(upstream.port(), {"--upstream-pool-max=16", "--upstream-borrow-timeout=300",
                                   "--upstream-pin-timeout=1500"}));
  std::vector<std::unique_ptr<TestClient>> quiet;  // the ones whose MULTI pinned
  int pinned = 0, refused = 0;
  std::vector<std::unique_ptr<TestClient>> turned_away;
  for (int i = 0; i < 16; ++i) {
    auto client = std::make_unique<TestClient>(proxy.port(), 20s);
    auto reply = client->request("MULTI", 10s);
    REQUIRE(reply.has_value());
    if (*reply == "+OK\r") {
      ++pinned;
      quiet.push_back(std::move(client));
    } else if (reply->rfind("-ERR upstream busy: 8 of 16 upstream connections are held by "
                            "transactions (upstream_pin_share 50%)",
                            0) == 0) {
      ++refused;
      turned_away.push_back(std::move(client));
    }
  }
  CHECK(pinned == 8);
  CHECK(refused == 8);
  CHECK(turned_away.front()->request("PING") == "+PONG\r");  // simply outside a transaction
  // Everyone else is served at once, from the half of the pool no pin may take.
  {
    std::vector<std::jthread> others;
    std::atomic<int> answered{0};
    for (int c = 0; c < 8; ++c) {
      others.emplace_back([&, c] {
        TestClient client(proxy.port(), 20s);
        for (int i = 0; i < 10; ++i) {
          if (client.request("SET other" + std::to_string(c) + " " + std::to_string(i), 10s) ==
              "+OK\r")
            answered.fetch_add(1);
        }
      });
    }
    others.clear();
    CHECK(answered.load() == 80);
  }
  auto stats = cli(proxy.port(), {"proxystats"});
  CHECK(number_after(stats, "pins_active:") == 8);
  CHECK(number_after(stats, "pins_refused:") == 8);
  // Idle past the pin timeout: every pin is aborted and its upstream connection closed.
  CHECK(RunningServer::eventually(
      [&] {
        auto now = cli(proxy.port(), {"proxystats"});
        return number_after(now, "pins_aborted:") == 8 && number_after(now, "pins_active:") == 0;
      },
      20s));
  // A pinned client's next command is refused (nothing of its transaction ran), and its
  // connection closes, so it cannot take later commands for queued ones.
  int aborted_replies = 0;
  for (auto& client : quiet) {
    auto reply = client->request("SET after-abort yes", 10s);
    if (reply && reply->rfind("-ERR transaction aborted: idle inside MULTI for more than 1500 ms "
                              "(upstream_pin_timeout)",
                              0) == 0) {
      ++aborted_replies;
      CHECK(client->wait_closed(5s));
    }
  }
  CHECK(aborted_replies == 8);
  CHECK(cli(upstream.port(), {"exists", "after-abort"}) == "0");
  CHECK(proxy.process().output().find("kv_proxy: aborted a MULTI idle for more than 1500 ms") !=
        std::string::npos);
  // The places are free again.
  TestClient again(proxy.port());
  CHECK(again.request("MULTI") == "+OK\r");
  CHECK(again.request("INCR pins-again") == "+QUEUED\r");
  REQUIRE(again.send("EXEC\r\n"));
  CHECK(again.read_line() == "*1\r");
  CHECK(again.read_line() == ":1\r");
}

TEST_CASE("a MULTI that keeps sending commands is not idle: it outlives the pin timeout") {
  ExampleServer upstream("kv_server", "one-thread-per-connection");
  ExampleServer proxy("kv_proxy", "pool-of-threads",
                      proxy_args(upstream.port(), {"--upstream-pin-timeout=1000"}));
  TestClient tx(proxy.port());
  CHECK(tx.request("MULTI") == "+OK\r");
  for (int i = 0; i < 6; ++i) {  // 3 s in all, never 1 s quiet
    std::this_thread::sleep_for(500ms);
    CHECK(tx.request("INCR busy-tx") == "+QUEUED\r");
  }
  REQUIRE(tx.send("EXEC\r\n"));
  CHECK(tx.read_line() == "*6\r");
  auto stats = cli(proxy.port(), {"proxystats"});
  CHECK(number_after(stats, "pins_aborted:") == 0);
}
