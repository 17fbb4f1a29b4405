// File: test/examples/integration/kv_server_test.cc
//
// kv_server as Redis clients meet it, under every built-in backend: redis-cli for each
// command and each error form, redis-benchmark for load, raw sockets for pipelining.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backends.h"
#include "example_server.h"
#include "test_client.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// One redis-cli call, printed the way a terminal shows it (--no-raw): "(integer) 1",
// "(nil)", "(error) ERR ...", quoted strings.
std::string cli(const ExampleServer& server, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"--no-raw", "-p", std::to_string(server.port())};
  args.insert(args.end(), command.begin(), command.end());
  ToolResult r = run_tool("redis-cli", args, {}, 60s);
  INFO("redis-cli stderr: ", r.errors);
  REQUIRE(r.status == 0);
  return r.output;
}

// Several commands on one connection (redis-cli reads them from stdin).
std::string cli_session(const ExampleServer& server, const std::string& script) {
  ToolResult r =
      run_tool("redis-cli", {"--no-raw", "-p", std::to_string(server.port())}, script, 60s);
  INFO("redis-cli stderr: ", r.errors);
  REQUIRE(r.status == 0);
  return r.output;
}

}  // namespace

TEST_CASE("kv_server answers every command through redis-cli as Redis would, on every backend") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    auto c = [&](std::vector<std::string> command) { return cli(server, command); };
    CHECK(c({"PING"}) == "PONG\n");
    CHECK(c({"ping", "hello there"}) == "\"hello there\"\n");
    CHECK(c({"ECHO", "a b"}) == "\"a b\"\n");
    CHECK(c({"SET", "k", "v1"}) == "OK\n");
    CHECK(c({"GET", "k"}) == "\"v1\"\n");
    CHECK(c({"GET", "missing"}) == "(nil)\n");
    CHECK(c({"SET", "k", "v2", "NX"}) == "(nil)\n");
    CHECK(c({"SET", "k", "v2", "XX"}) == "OK\n");
    CHECK(c({"SET", "fresh", "x", "XX"}) == "(nil)\n");
    CHECK(c({"SET", "fresh", "x", "NX", "EX", "100"}) == "OK\n");
    CHECK(c({"SET", "brief", "x", "PX", "50"}) == "OK\n");
    CHECK(c({"EXISTS", "k", "fresh", "missing"}) == "(integer) 2\n");
    CHECK(c({"INCR", "counter"}) == "(integer) 1\n");
    CHECK(c({"INCR", "counter"}) == "(integer) 2\n");
    CHECK(c({"MSET", "a", "1", "b", "2"}) == "OK\n");
    CHECK(c({"MGET", "a", "missing", "b"}) == "1) \"1\"\n2) (nil)\n3) \"2\"\n");
    CHECK(c({"DEL", "a", "b", "missing"}) == "(integer) 2\n");
    // k, fresh, counter; "brief" expires after 50 ms.
    CHECK(RunningServer::eventually([&] { return c({"DBSIZE"}) == "(integer) 3\n"; }, 10s));
    CHECK(c({"GET", "brief"}) == "(nil)\n");
    CHECK(c({"CONFIG", "GET", "save"}) == "1) \"save\"\n2) \"\"\n");
    CHECK(c({"CONFIG", "GET", "appendonly"}) == "1) \"appendonly\"\n2) \"no\"\n");
    CHECK(c({"BURN", "2000"}).rfind("(integer) ", 0) == 0);
    CHECK(c({"SLEEP", "20"}) == "OK\n");
    CHECK(c({"LOCK", "row", "20"}) == "OK\n");
    CHECK(c({"FLUSHALL"}) == "OK\n");
    CHECK(c({"DBSIZE"}) == "(integer) 0\n");
    CHECK(c({"QUIT"}) == "OK\n");

    std::string info = c({"INFO"});
    CHECK(info.find("# Server") != std::string::npos);
    CHECK(info.find("thread_handling:" + backend) != std::string::npos);
    CHECK(info.find("# Clients") != std::string::npos);
    CHECK(info.find("connected_clients:") != std::string::npos);
    CHECK(info.find("# Backend") != std::string::npos);
    CHECK(info.find("waits_sleep:") != std::string::npos);
    std::string clients = c({"INFO", "clients"});
    CHECK(clients.find("# Clients") != std::string::npos);
    CHECK(clients.find("# Server") == std::string::npos);
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("kv_server words errors exactly as Redis 7 does") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    auto c = [&](std::vector<std::string> command) { return cli(server, command); };
    CHECK(c({"FOO", "bar", "baz"}) ==
          "(error) ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \n");
    CHECK(c({"nosuch"}) == "(error) ERR unknown command 'nosuch', with args beginning with: \n");
    CHECK(c({"GET"}) == "(error) ERR wrong number of arguments for 'get' command\n");
    CHECK(c({"SET", "k"}) == "(error) ERR wrong number of arguments for 'set' command\n");
    CHECK(c({"MSET", "a", "1", "b"}) ==
          "(error) ERR wrong number of arguments for 'mset' command\n");
    CHECK(c({"SET", "k", "v", "EX", "0"}) == "(error) ERR invalid expire time in 'set' command\n");
    CHECK(c({"SET", "k", "v", "EX", "soon"}) ==
          "(error) ERR value is not an integer or out of range\n");
    CHECK(c({"SET", "k", "v", "NX", "XX"}) == "(error) ERR syntax error\n");
    CHECK(c({"SET", "text", "abc"}) == "OK\n");
    CHECK(c({"INCR", "text"}) == "(error) ERR value is not an integer or out of range\n");
    CHECK(c({"SET", "big", "9223372036854775807"}) == "OK\n");
    CHECK(c({"INCR", "big"}) == "(error) ERR increment or decrement would overflow\n");
    CHECK(c({"EXEC"}) == "(error) ERR EXEC without MULTI\n");
    CHECK(c({"DISCARD"}) == "(error) ERR DISCARD without MULTI\n");
    CHECK(c({"SLEEP", "-1"}).rfind("(error) ERR SLEEP takes milliseconds", 0) == 0);
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("MULTI queues commands until EXEC runs them in order; DISCARD and errors abort") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    CHECK(cli_session(server, "MULTI\nSET a 1\nINCR a\nGET a\nEXEC\nGET a\n") ==
          "OK\nQUEUED\nQUEUED\nQUEUED\n1) OK\n2) (integer) 2\n3) \"2\"\n\"2\"\n");
    CHECK(cli_session(server, "MULTI\nSET d 1\nDISCARD\nGET d\n") == "OK\nQUEUED\nOK\n(nil)\n");
    CHECK(cli_session(server, "MULTI\nSET e 1\nGET\nEXEC\nGET e\n") ==
          "OK\nQUEUED\n(error) ERR wrong number of arguments for 'get' command\n"
          "(error) EXECABORT Transaction discarded because of previous errors.\n(nil)\n");
    CHECK(cli_session(server, "MULTI\nMULTI\nDISCARD\n") ==
          "OK\n(error) ERR MULTI calls can not be nested\nOK\n");
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("kv_server answers pipelined inline and multi-bulk requests in order, binary-safe") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    TestClient client(server.port());
    std::string value("a\r\nb\0c", 6);
    std::string batch =
        "PING\r\nSET \"quoted key\" 'single'\r\n*3\r\n$3\r\nSET\r\n$3\r\nbin\r\n$6\r\n" + value +
        "\r\n*2\r\n$3\r\nGET\r\n$3\r\nbin\r\nGET \"quoted key\"\r\n\r\nECHO x\r\n";
    REQUIRE(client.send(batch));
    std::string expected =
        "+PONG\r\n+OK\r\n+OK\r\n$6\r\n" + value + "\r\n$6\r\nsingle\r\n$1\r\nx\r\n";
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (got.size() < expected.size() && std::chrono::steady_clock::now() < deadline) {
      auto line = client.read_line(1s);
      if (line) got += *line + "\n";
    }
    CHECK(got == expected);
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("redis-benchmark runs against kv_server on every backend and every request is answered") {
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    // no-threads serves one connection at a time by design: 50 clients would wait on
    // one another's connections forever, so it gets one client.
    std::string clients = serves_one_at_a_time(backend) ? "1" : "50";
    ToolResult r = run_tool("redis-benchmark",
                            {"-p", std::to_string(server.port()), "-t", "ping,set,get", "-n",
                             "20000", "-c", clients, "-q"},
                            {}, 400s);
    INFO("redis-benchmark output: ", r.output, r.errors);
    REQUIRE(r.status == 0);
    for (const char* test : {"PING_INLINE: ", "PING_MBULK: ", "SET: ", "GET: "}) {
      CAPTURE(test);
      auto at = r.output.rfind(test);
      REQUIRE(at != std::string::npos);
      CHECK(r.output.find("requests per second", at) != std::string::npos);
    }
    CHECK(r.output.find("rror") == std::string::npos);
    // Every request reached the server and was answered: 4 tests x 20000.
    ToolResult stats = run_tool("curl", {"-sS", local_url(server.admin_port(), "/stats")}, {}, 30s);
    REQUIRE(stats.status == 0);
    auto at = stats.output.find("\"requests\": ");
    REQUIRE(at != std::string::npos);
    CHECK(std::stoull(stats.output.substr(at + 12)) >= 80000);
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("kv_server refuses a connection over max_connections with Redis's error") {
  for (const auto& backend : builtin_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // its one connection blocks the acceptor
    CAPTURE(backend);
    ExampleServer server("kv_server", backend, {"--max-connections=1"});
    TestClient first(server.port());
    REQUIRE(first.send("PING\r\n"));
    CHECK(first.read_line() == "+PONG\r");
    TestClient second(server.port());
    CHECK(second.read_all(10s) == "-ERR max number of clients reached\r\n");
    CHECK(server.stop() == 0);
  }
}

TEST_CASE("CLIENT LIST lists every open connection with the id and address it reports itself") {
  for (const auto& backend : builtin_backends()) {
    if (serves_one_at_a_time(backend)) continue;  // the held connection would block redis-cli
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    // One connection stays open while redis-cli asks, from a second one, for the list.
    TestClient held(server.port());
    auto held_id = held.request("CLIENT ID");
    REQUIRE(held_id.has_value());
    REQUIRE(held_id->rfind(':', 0) == 0);
    const std::string held_line = "id=" + held_id->substr(1, held_id->size() - 2) +
                                  " addr=127.0.0.1:" + std::to_string(held.local_port()) + "\n";
    ToolResult r = run_tool("redis-cli", {"--raw", "-p", std::to_string(server.port())},
                            "CLIENT INFO\nCLIENT LIST\n", 60s);
    INFO("redis-cli stderr: ", r.errors);
    REQUIRE(r.status == 0);
    // --raw prints each bulk reply as it is (both end in a newline): INFO's line, then
    // LIST's lines.
    const std::string& out = r.output;
    const std::size_t info_end = out.find('\n');
    REQUIRE(info_end != std::string::npos);
    const std::string own_line = out.substr(0, info_end + 1);
    const std::string list = out.substr(info_end + 1);
    CAPTURE(out);
    CHECK(own_line.rfind("id=", 0) == 0);
    CHECK(own_line.find(" addr=127.0.0.1:") != std::string::npos);
    CHECK(own_line != held_line);
    CHECK(list.find(held_line) != std::string::npos);
    CHECK(list.find(own_line) != std::string::npos);
    CHECK(std::count(list.begin(), list.end(), '\n') == 2);  // the two, nobody else
    CHECK(server.stop() == 0);
  }
}
