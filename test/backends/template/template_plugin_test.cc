// File: test/backends/template/template_plugin_test.cc
//
// plugins/template, loaded by path: it serves real clients, closes idle and killed
// connections, and shuts down cleanly.
#include <doctest/doctest.h>
#include <signal.h>

#include "custom_plugins.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE("the template backend, loaded by path into echo_server, serves concurrent clients") {
  ServerProcess server(echo_server_path(),
                       {"--port=0", "--thread-handling=" + custom_plugin("template")});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  CHECK(concurrent_echo(*port, 8, 20));
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
  CHECK(server.output().find("with thread handling 'template'") != std::string::npos);
}

TEST_CASE(
    "core closes a connection idle past wait_timeout under the template, which has no timer") {
  auto options = test_options(custom_plugin("template"));
  options.wait_timeout = 1;
  RunningServer server(options);
  TestClient idle(server.port());
  CHECK(idle.request("echo still here") == "still here");
  auto start = std::chrono::steady_clock::now();
  CHECK(idle.wait_closed(10s));
  CHECK(std::chrono::steady_clock::now() - start >= 900ms);
  CHECK(server.server().core_stats().connections_timed_out == 1);
}

TEST_CASE("the template backend closes a killed connection and keeps serving the others") {
  RunningServer server(test_options(custom_plugin("template")));
  TestClient victim(server.port());
  TestClient other(server.port());
  auto id = victim.request("id");
  REQUIRE(id);
  CHECK(server.server().kill(std::stoull(*id)));
  CHECK(victim.wait_closed(5s));
  CHECK(other.request("echo alive") == "alive");
  CHECK(server.server().backend_stats().counter("kills_total") == 1);
}

TEST_CASE(
    "the template option, declared once, is taken at start-up and changed at run time within its "
    "range") {
  auto options = test_options(custom_plugin("template"));
  options.backend_options["template_batch"] = "2";
  RunningServer server(options);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<TestClient>(server.port()));
  for (auto& c : clients) CHECK(c->request("echo batched") == "batched");
  CHECK(server.server().set_option("template_batch", "1").empty());
  CHECK(!server.server().set_option("template_batch", "0").empty());  // below the declared range
  for (auto& c : clients) CHECK(c->request("echo one by one") == "one by one");
}

TEST_CASE("the template backend drains on shutdown: idle connections are closed, stop returns 0") {
  RunningServer server(test_options(custom_plugin("template")));
  TestClient a(server.port());
  TestClient b(server.port());
  CHECK(a.request("echo a") == "a");
  CHECK(b.request("echo b") == "b");
  CHECK(server.stop() == 0);
  CHECK(a.wait_closed(5s));
  CHECK(b.wait_closed(5s));
}
