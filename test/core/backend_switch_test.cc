// File: test/core/backend_switch_test.cc
//
// A live switch of thread_handling (POST /set?thread_handling=NAME_OR_PATH, ABI 1.2's
// release_connection): the new backend takes every connection at its request boundary,
// with no reply lost, repeated or reordered; a switch that cannot be done is refused and
// the old backend goes on serving; kill, wait_timeout and shutdown during a switch close
// a connection once. Real sockets, real .so files (the built-ins from the plugin folder,
// template and shared-queue by path, the ABI 1.1 fixture).
#include <doctest/doctest.h>
#include <malloc.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "custom_plugins.h"
#include "text_file.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// Clients that each keep `depth` requests in flight, every reply checked against the
// request it answers, in order, until stopped. A failure is kept, not thrown, so that
// the switching thread goes on and the CHECK says which client saw what.
class SteadyLoad {
 public:
  SteadyLoad(std::uint16_t port, int clients, int depth) {
    for (int c = 0; c < clients; ++c) {
      threads_.emplace_back(
          [this, port, c, depth](std::stop_token stop) { run(stop, port, c, depth); });
    }
  }
  // Stops every client after its requests in flight are answered.
  std::string stop() {
    for (auto& t : threads_) t.request_stop();
    threads_.clear();
    std::lock_guard lock(mutex_);
    return failure_;
  }
  long answered() const { return answered_.load(); }

 private:
  void fail(std::string what) {
    std::lock_guard lock(mutex_);
    if (failure_.empty()) failure_ = std::move(what);
  }
  void run(std::stop_token stop, std::uint16_t port, int c, int depth) {
    TestClient client(port);
    long sent = 0;
    long received = 0;
    auto line = [c](long n) { return "echo c" + std::to_string(c) + "-" + std::to_string(n); };
    while (true) {
      while (!stop.stop_requested() && sent - received < depth) {
        if (!client.send(line(sent) + "\n"))
          return fail("client " + std::to_string(c) + ": send failed");
        ++sent;
      }
      if (received == sent) return;
      auto reply = client.read_line(15s);
      std::string want = line(received).substr(5);
      if (!reply || *reply != want) {
        return fail("client " + std::to_string(c) + " request " + std::to_string(received) +
                    ": wanted '" + want + "', got " + (reply ? "'" + *reply + "'" : "nothing"));
      }
      ++received;
      answered_.fetch_add(1);
    }
  }
  std::mutex mutex_;
  std::string failure_;
  std::atomic<long> answered_{0};
  std::vector<std::jthread> threads_;
};

// Switches and waits for the move to finish; the refusal, if any, as the CHECK's text.
std::string switch_to(RunningServer& server, const std::string& target, bool force = false) {
  BackendSwitch s = server.server().switch_backend(target, force, 0ms);
  if (!s.error.empty()) return s.error;
  if (!server.server().wait_for_switch(30s)) return "the switch to " + target + " did not finish";
  return {};
}

ServerOptions switch_options(const std::string& first) {
  ServerOptions options = test_options(first);
  options.admin_port = 0;
  return options;
}

// One HTTP request to the admin port; the whole reply.
std::string admin(std::uint16_t port, const std::string& method, const std::string& target) {
  TestClient client(port);
  client.send(method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  return client.read_all(10s);
}

}  // namespace

TEST_CASE(
    "a switch under load between the built-ins, template and shared-queue answers every "
    "request in order") {
  RunningServer server(switch_options("one-thread-per-connection"));
  SteadyLoad load(server.port(), 6, 4);
  const std::vector<std::string> route = {"pool-of-threads",
                                          custom_plugin("shared-queue"),
                                          "one-thread-per-connection",
                                          custom_plugin("template"),
                                          "pool-of-threads",
                                          "one-thread-per-connection",
                                          custom_plugin("shared-queue"),
                                          "pool-of-threads",
                                          custom_plugin("template"),
                                          "one-thread-per-connection"};
  const std::vector<std::string> names = {"pool-of-threads",
                                          "shared-queue",
                                          "one-thread-per-connection",
                                          "template",
                                          "pool-of-threads",
                                          "one-thread-per-connection",
                                          "shared-queue",
                                          "pool-of-threads",
                                          "template",
                                          "one-thread-per-connection"};
  for (std::size_t i = 0; i < route.size(); ++i) {
    long before = load.answered();
    CHECK_MESSAGE(RunningServer::eventually([&] { return load.answered() > before + 20; }, 20s),
                  "no progress before switching to ", route[i]);
    CHECK(switch_to(server, route[i]) == "");
    CHECK(server.server().backend_name() == names[i]);
  }
  long before = load.answered();
  CHECK(RunningServer::eventually([&] { return load.answered() > before + 20; }, 20s));
  CHECK(load.stop() == "");
  CoreStats stats = server.server().core_stats();
  CHECK(stats.backend_switches == route.size());
  CHECK(stats.connections_moved == 6 * route.size());
  CHECK(stats.connections_accepted == 6);  // nobody reconnected
  CHECK(stats.backend_switch_in_progress == 0);
  CHECK(server.stop() == 0);
}

TEST_CASE(
    "clients that connect, ask once and leave, over and over, are all answered through twenty "
    "switches") {
  // The acceptor picks the backend a new connection goes to while a switch commits: one
  // that counted itself into the old backend after the switch found it empty would be
  // added to a backend already ended.
  RunningServer server(switch_options("one-thread-per-connection"));
  std::atomic<long> answered{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string failure;
  std::vector<std::jthread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (long n = 0; !stop.load(); ++n) {
        TestClient client(server.port());
        const std::string text = "c" + std::to_string(c) + "-" + std::to_string(n);
        auto reply = client.request("echo " + text, 15s);
        if (reply != text) {
          std::lock_guard lock(mutex);
          if (failure.empty()) failure = text + ": got " + reply.value_or("nothing");
          return;
        }
        answered.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    const long before = answered.load();
    CHECK(RunningServer::eventually([&] { return answered.load() > before + 10; }, 20s));
    CHECK(switch_to(server, i % 2 == 0 ? "pool-of-threads" : "one-thread-per-connection") == "");
  }
  stop.store(true);
  clients.clear();
  CHECK(failure == "");
  CoreStats stats = server.server().core_stats();
  CHECK(stats.backend_switches == 20);
  CHECK(stats.backend_switch_in_progress == 0);
  CHECK(RunningServer::eventually(
      [&] { return server.server().core_stats().connections_current == 0; }, 10s));
  CHECK(server.stop() == 0);
}

TEST_CASE("no-threads takes over a single connection and hands it back") {
  RunningServer server(switch_options("pool-of-threads"));
  TestClient client(server.port());
  CHECK(client.request("id") != std::nullopt);
  const auto id = client.request("id");
  CHECK(switch_to(server, "no-threads") == "");
  CHECK(server.server().backend_name() == "no-threads");
  CHECK(client.request("echo on the acceptor") == "on the acceptor");
  CHECK(client.request("id") == id);  // the same connection, not a new one
  CHECK(switch_to(server, "pool-of-threads") == "");
  CHECK(client.request("echo back on the pool") == "back on the pool");
  TestClient second(server.port());
  CHECK(second.request("echo a second client") == "a second client");
  CHECK(server.server().core_stats().connections_moved == 2);
  CHECK(server.stop() == 0);
}

TEST_CASE("a request inside a reported wait when the switch comes is answered, then moves") {
  RunningServer server(switch_options("pool-of-threads"));
  TestClient sleeper(server.port());
  TestClient idle(server.port());
  const auto id = sleeper.request("id");
  CHECK(idle.request("echo idle") == "idle");
  REQUIRE(sleeper.send("sleep 1500\n"));
  CHECK(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
  BackendSwitch s = server.server().switch_backend("one-thread-per-connection", false, 300ms);
  CHECK(s.status == 202);  // the sleeper still holds the old backend
  CHECK(s.connections == 2);
  CHECK(s.from == "pool-of-threads");
  CHECK(server.server().core_stats().backend_switch_in_progress == 1);
  // New connections go to the new backend at once, and the idle one has moved.
  CHECK(idle.request("echo moved while the other sleeps") == "moved while the other sleeps");
  TestClient fresh(server.port());
  CHECK(fresh.request("echo new") == "new");
  CHECK(sleeper.read_line(10s) == "ok");
  CHECK(server.server().wait_for_switch(10s));
  CHECK(sleeper.request("id") == id);
  CHECK(sleeper.request("echo after") == "after");
  CHECK(server.server().core_stats().connections_moved == 2);
  CHECK(server.stop() == 0);
}

TEST_CASE("refused switches leave the old backend serving") {
  SUBCASE("a path that is not a backend, with the loader's line") {
    RunningServer server(switch_options("pool-of-threads"));
    TestClient client(server.port());
    BackendSwitch s = server.server().switch_backend("/nonexistent/backend.so");
    CHECK(s.status == 422);
    CHECK(s.error.find("/nonexistent/backend.so") != std::string::npos);
    CHECK(client.request("echo still here") == "still here");
    CHECK(server.server().backend_name() == "pool-of-threads");
    CHECK(server.server().core_stats().backend_switches_refused == 1);
    CHECK(server.stop() == 0);
  }
  SUBCASE("an ABI 1.1 backend has no release_connection: it cannot be switched away from") {
    RunningServer server(switch_options(CONNSCHED_TEST_ABI_1_1_BACKEND));
    TestClient client(server.port());
    CHECK(client.request("echo before") == "before");
    BackendSwitch s = server.server().switch_backend("pool-of-threads");
    CHECK(s.status == 422);
    CHECK(s.error.find("cannot be switched away from") != std::string::npos);
    CHECK(s.error.find("release_connection") != std::string::npos);
    CHECK(client.request("echo after") == "after");
    CHECK(server.server().backend_name() == "abi-1.1");
    CHECK(server.stop() == 0);
  }
  SUBCASE("no-threads cannot hold three connections unless forced") {
    RunningServer server(switch_options("pool-of-threads"));
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(std::make_unique<TestClient>(server.port()));
      CHECK(clients.back()->request("echo x") == "x");
    }
    BackendSwitch s = server.server().switch_backend("no-threads");
    CHECK(s.status == 422);
    CHECK(s.error.find("force=1") != std::string::npos);
    for (auto& c : clients) CHECK(c->request("echo still pooled") == "still pooled");
    CHECK(server.server().backend_name() == "pool-of-threads");
    CHECK(server.stop() == 0);
  }
  SUBCASE("a switch during a switch answers 409") {
    RunningServer server(switch_options("pool-of-threads"));
    TestClient sleeper(server.port());
    REQUIRE(sleeper.send("sleep 1500\n"));
    CHECK(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    CHECK(server.server().switch_backend("one-thread-per-connection", false, 0ms).status == 202);
    BackendSwitch second = server.server().switch_backend(custom_plugin("template"));
    CHECK(second.status == 409);
    CHECK(second.error.find("in progress") != std::string::npos);
    CHECK(sleeper.read_line(10s) == "ok");
    CHECK(server.server().wait_for_switch(10s));
    CHECK(sleeper.request("echo served") == "served");
    CHECK(server.server().backend_name() == "one-thread-per-connection");
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("kill, wait_timeout and shutdown during a switch close a connection once") {
  SUBCASE("kill") {
    RunningServer server(switch_options("pool-of-threads"));
    TestClient sleeper(server.port());
    TestClient other(server.port());
    auto id = sleeper.request("id");
    REQUIRE(id);
    REQUIRE(sleeper.send("sleep 1500\n"));
    CHECK(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    CHECK(server.server().switch_backend("one-thread-per-connection", false, 0ms).status == 202);
    CHECK(server.server().kill(std::stoull(*id)));
    CHECK(sleeper.wait_closed(10s));
    CHECK(server.server().wait_for_switch(10s));
    CHECK(other.request("echo alive") == "alive");
    CoreStats stats = server.server().core_stats();
    CHECK(stats.connections_killed == 1);
    CHECK(stats.connections_current == 1);
    CHECK(server.stop() == 0);
  }
  SUBCASE("wait_timeout") {
    ServerOptions options = switch_options("one-thread-per-connection");
    options.wait_timeout = 1;
    RunningServer server(options);
    TestClient sleeper(server.port());
    TestClient idle(server.port());
    CHECK(idle.request("echo idle") == "idle");
    REQUIRE(sleeper.send("sleep 1500\n"));
    CHECK(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    CHECK(server.server().switch_backend(custom_plugin("shared-queue"), false, 0ms).status == 202);
    CHECK(idle.wait_closed(10s));  // moved, then timed out on the new backend
    CHECK(sleeper.read_line(10s) == "ok");
    CHECK(server.server().wait_for_switch(10s));
    CHECK(sleeper.wait_closed(10s));  // idle past wait_timeout in its turn
    CHECK(RunningServer::eventually(
        [&] { return server.server().core_stats().connections_current == 0; }));
    CHECK(server.server().core_stats().connections_timed_out == 2);
    CHECK(server.stop() == 0);
  }
  SUBCASE("shutdown") {
    RunningServer server(switch_options("pool-of-threads"));
    TestClient sleeper(server.port());
    TestClient idle(server.port());
    CHECK(idle.request("echo idle") == "idle");
    REQUIRE(sleeper.send("sleep 1000\n"));
    CHECK(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
    CHECK(server.server().switch_backend(custom_plugin("template"), false, 0ms).status == 202);
    std::jthread stopper([&] { CHECK(server.stop() == 0); });
    CHECK(sleeper.read_line(10s) == "ok");  // what was received is answered
    CHECK(sleeper.wait_closed(10s));
    CHECK(idle.wait_closed(10s));
  }
}

TEST_CASE("POST /set?thread_handling= switches with one request and is counted") {
  RunningServer server(switch_options("one-thread-per-connection"));
  TestClient client(server.port());
  CHECK(client.request("echo hello") == "hello");
  const std::uint16_t admin_port = server.server().admin_port();
  std::string reply = admin(admin_port, "POST", "/set?thread_handling=pool-of-threads");
  CHECK_MESSAGE(reply.find("200 OK") != std::string::npos, reply);
  CHECK(reply.find("\"from\": \"one-thread-per-connection\"") != std::string::npos);
  CHECK(reply.find("\"done\": true") != std::string::npos);
  CHECK(client.request("echo on the pool") == "on the pool");
  std::string refused = admin(admin_port, "POST", "/set?thread_handling=no-such-backend");
  CHECK_MESSAGE(refused.find("422") != std::string::npos, refused);
  std::string bad = admin(admin_port, "POST", "/set?thread_handling=pool-of-threads&force=maybe");
  CHECK(bad.find("400") != std::string::npos);
  std::string stats = admin(admin_port, "GET", "/stats");
  CHECK(stats.find("\"backend\": \"pool-of-threads\"") != std::string::npos);
  CHECK(stats.find("\"backend_switches\": 1") != std::string::npos);
  CHECK(stats.find("\"backend_switches_refused\": 2") ==
        std::string::npos);  // 400 is not a refusal
  CHECK(stats.find("\"backend_switches_refused\": 1") != std::string::npos);
  std::string metrics = admin(admin_port, "GET", "/metrics");
  CHECK(metrics.find("connsched_backend_switches_total 1") != std::string::npos);
  CHECK(metrics.find("connsched_connections_moved_total 1") != std::string::npos);
  CHECK(server.stop() == 0);
}

namespace {

// The process's virtual size, from /proc/self/status: an exited thread nobody joined
// keeps its stack mapped (8 MiB here), which its thread count no longer shows.
long vm_size_kib() {
  const std::string status = read_file("/proc/self/status");
  const auto at = status.find("VmSize:");
  return at == std::string::npos ? -1 : std::stol(status.substr(at + 7));
}

}  // namespace

TEST_CASE("sixty switches leave no hand-over thread's stack behind") {
  // One malloc arena: a new thread's own arena would add 64 MiB of address space at random.
  ::mallopt(M_ARENA_MAX, 1);
  RunningServer server(switch_options("one-thread-per-connection"));
  TestClient client(server.port());
  CHECK(client.request("echo first") == "first");
  const std::vector<std::string> both = {"pool-of-threads", "one-thread-per-connection"};
  for (int i = 0; i < 10; ++i) REQUIRE(switch_to(server, both[i % 2]).empty());
  const long before = vm_size_kib();
  REQUIRE(before > 0);
  constexpr int kSwitches = 60;
  for (int i = 0; i < kSwitches; ++i) REQUIRE(switch_to(server, both[i % 2]).empty());
  CHECK(client.request("echo last") == "last");
  const long grown = vm_size_kib() - before;
  // Unjoined, each switch's thread would keep its stack: 60 × 8 MiB (545 MiB seen). A few
  // may still be stopping, and a sanitizer's allocator maps memory of its own.
  CHECK_MESSAGE(grown < kSwitches * 8 * 1024 / 2, "VmSize grew by ", grown, " KiB");
  CHECK(server.stop() == 0);
}
