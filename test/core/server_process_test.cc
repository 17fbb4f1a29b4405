// File: test/core/server_process_test.cc
//
// The server executables as an operator meets them: flags, --help, every refusal of a
// bad backend as one line and exit status 2, real clients, and signals.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backends.h"
#include "server_process.h"
#include "test_client.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
std::string echo_server() {
  return bin_dir() + "/echo_server";
}
std::string test_server() {
  return bin_dir() + "/cs_test_server";
}

// The lines of `output` that are not empty.
std::vector<std::string> lines(const std::string& output) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < output.size()) {
    auto end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    if (end > start) out.push_back(output.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void check_refusal(const std::vector<std::string>& args, const std::string& expected) {
  CAPTURE(expected);
  auto [status, output] = ServerProcess::run(echo_server(), args);
  CHECK(status == 2);
  auto printed = lines(output);
  REQUIRE(printed.size() == 1);
  CHECK(printed[0].find(" echo_server [error] ") == 23);  // after "YYYY-MM-DD HH:MM:SS.mmm"
  CHECK(printed[0].find(expected) != std::string::npos);
}
}  // namespace

TEST_CASE("every bad backend is refused with one line and exit status 2") {
  std::string dir = broken_plugin_dir();
  check_refusal({"--thread-handling=pool-of-dreams"}, "unknown scheduler backend 'pool-of-dreams'");
  check_refusal({"--thread-handling=/no/such/backend.so"}, "/no/such/backend.so: no such file");
  check_refusal({"--thread-handling=" + dir + "/not_elf.so"}, "not a shared object");
  check_refusal({"--thread-handling=" + dir + "/no_entry.so"},
                "entry symbol 'connsched_scheduler_entry' not found");
  check_refusal({"--thread-handling=" + dir + "/null_entry.so"},
                "the entry function returned NULL");
  check_refusal({"--thread-handling=" + dir + "/bad_magic.so"}, "bad magic 0x12345678");
  check_refusal({"--thread-handling=" + dir + "/abi_major.so"}, "built for scheduler ABI 2.0");
  check_refusal({"--thread-handling=" + dir + "/too_small.so"}, "descriptor is 24 bytes");
  check_refusal({"--thread-handling=" + dir + "/null_member.so"},
                "required member 'add_connection' is NULL");
  check_refusal({"--thread-handling=" + dir + "/empty_name.so"}, "the backend's name is empty");
  check_refusal({"--thread-handling=" + dir + "/init_fails.so", "--port=0"},
                "init_fails.so: init failed: cannot reach the scheduling oracle");
}

TEST_CASE("the plugin folder can be named, and a name is looked up only there") {
  check_refusal({"--plugin-dir=" + broken_plugin_dir(), "--thread-handling=no-threads"},
                "unknown scheduler backend 'no-threads'");
}

TEST_CASE("unknown flags and bad values are refused with a clear message and exit status 2") {
  check_refusal({"--no-such-flag=1"}, "unknown option --no-such-flag");
  check_refusal({"--port=70000"}, "--port");
  check_refusal({"--max-connections=0"}, "--max-connections");
  check_refusal({"--wait-timeout=soon"}, "--wait-timeout");
  check_refusal({"--thread-cache-size=-3"}, "--thread-cache-size: -3 is out of range [0, 16384]");
  check_refusal({"--thread-handling=no-threads", "--thread-cache-size=3"},
                "backend 'no-threads' does not take --thread-cache-size; "
                "one-thread-per-connection does");
  check_refusal({"--bind-address=not-an-ip"},
                "--bind-address: 'not-an-ip' is not an IPv4 or IPv6 address");
  check_refusal({"stray"}, "unexpected argument 'stray'");
}

TEST_CASE("--help lists the shared flags, the backends found, and the chosen backend's options") {
  auto [status, output] = ServerProcess::run(echo_server(), {"--help"});
  CHECK(status == 0);
  CHECK(output.find("--thread-handling") != std::string::npos);
  CHECK(output.find("--max-connections") != std::string::npos);
  CHECK(output.find("Backends in ") != std::string::npos);
  CHECK(output.find("--thread-cache-size") != std::string::npos);
}

TEST_CASE("echo_server serves real clients under every backend, and exits 0 on SIGTERM") {
  for (const auto& backend : all_backends()) {
    CAPTURE(backend);
    ServerProcess server(echo_server(), {"--port=0", "--thread-handling=" + backend});
    auto port = server.wait_listening();
    REQUIRE(port.has_value());
    {
      TestClient a(*port);
      CHECK(a.request("hello") == "hello");
      CHECK(a.request("second line") == "second line");
    }
    TestClient b(*port);
    CHECK(b.request("from another client") == "from another client");
    server.signal(SIGTERM);
    CHECK(server.wait_exit(15s) == 0);
    CHECK(server.output().find("shut down cleanly") != std::string::npos);
  }
}

TEST_CASE("SIGTERM drains: requests in flight are answered, idle connections closed, exit 0") {
  for (const auto& backend : all_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // its single connection is covered below
    CAPTURE(backend);
    ServerProcess server(test_server(), {"--port=0", "--thread-handling=" + backend});
    auto port = server.wait_listening();
    REQUIRE(port.has_value());
    std::vector<TestClient> busy;
    for (int i = 0; i < 5; ++i) {
      busy.emplace_back(*port);
      REQUIRE(busy.back().send("sleep 700\n"));
    }
    TestClient idle(*port);
    REQUIRE(idle.request("echo idle") == "idle");
    std::this_thread::sleep_for(200ms);  // the sleeps are running
    server.signal(SIGTERM);
    for (auto& client : busy) {
      CHECK(client.read_line(10s) == "ok");
      CHECK(client.wait_closed(10s));
    }
    CHECK(idle.wait_closed(10s));
    CHECK(server.wait_exit(15s) == 0);
  }
}

TEST_CASE("no-threads drains its one connection on SIGTERM") {
  ServerProcess server(test_server(), {"--port=0", "--thread-handling=no-threads"});
  auto port = server.wait_listening();
  REQUIRE(port.has_value());
  TestClient busy(*port);
  REQUIRE(busy.send("sleep 500\n"));
  std::this_thread::sleep_for(150ms);
  server.signal(SIGTERM);
  CHECK(busy.read_line(10s) == "ok");
  CHECK(busy.wait_closed(10s));
  CHECK(server.wait_exit(15s) == 0);
}

TEST_CASE("a second signal stops the server at once") {
  ServerProcess server(test_server(), {"--port=0", "--shutdown-timeout=60"});
  auto port = server.wait_listening();
  REQUIRE(port.has_value());
  TestClient busy(*port);
  REQUIRE(busy.send("sleep 30000\n"));
  std::this_thread::sleep_for(150ms);
  server.signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  server.signal(SIGTERM);
  auto status = server.wait_exit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 1);
  CHECK(server.output().find("second signal") != std::string::npos);
}

TEST_CASE("a shutdown that outlasts --shutdown-timeout closes what is left and exits") {
  ServerProcess server(test_server(), {"--port=0", "--shutdown-timeout=1"});
  auto port = server.wait_listening();
  REQUIRE(port.has_value());
  TestClient stuck(*port);
  REQUIRE(stuck.send("sleep 20000\n"));
  std::this_thread::sleep_for(150ms);
  auto start = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  auto status = server.wait_exit(10s);
  REQUIRE(status.has_value());
  CHECK(std::chrono::steady_clock::now() - start < 8s);
  CHECK(server.output().find("still busy after 1 s") != std::string::npos);
}
