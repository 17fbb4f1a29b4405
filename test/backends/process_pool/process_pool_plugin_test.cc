// File: test/backends/process_pool/process_pool_plugin_test.cc
//
// plugins/process_pool, loaded by path: sockets are spread over the worker processes
// and the master keeps no copy; max_connections bounds the whole pool, refused with the
// protocol's own reply; a worker killed with SIGKILL is respawned while the
// other workers' connections keep working; a worker that keeps dying at once is given
// up; SIGHUP replaces every worker without cutting a request or dropping a connection
// (idle ones are handed to the new workers over SCM_RIGHTS); SIGTERM leaves no process
// behind.
//
// The in-process tests (RunningServer) fork the test process itself: the spawner and
// workers are single-threaded copies that never return into doctest (they _exit).
#include <dirent.h>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <thread>

#include "custom_plugins.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

connsched::ServerOptions process_pool(int workers) {
  auto options = test_options(custom_plugin("process-pool"));
  options.backend_options["process_pool_workers"] = std::to_string(workers);
  return options;
}

struct WorkerRow {
  std::int64_t slot = -1;
  std::optional<pid_t> pid;
  std::string state;
  std::int64_t generation = 0;
  std::int64_t connections = 0;
  std::int64_t refused = 0;
  std::int64_t restarts = 0;
};

// The PROCESS_POOL_WORKERS table, one row per worker (current ones, then draining ones).
std::vector<WorkerRow> worker_rows(connsched::Server& server) {
  std::vector<WorkerRow> rows;
  auto stats = server.backend_stats();
  const connsched::StatsTable* table = stats.table("PROCESS_POOL_WORKERS");
  REQUIRE(table != nullptr);
  auto column = [&](const std::string& name) {
    auto it = std::find(table->columns.begin(), table->columns.end(), name);
    REQUIRE(it != table->columns.end());
    return static_cast<std::size_t>(it - table->columns.begin());
  };
  auto integer = [](const connsched::StatValue& v) -> std::optional<std::int64_t> {
    if (auto* i = std::get_if<std::int64_t>(&v)) return *i;
    return std::nullopt;
  };
  for (const auto& cells : table->rows) {
    WorkerRow row;
    row.slot = integer(cells[column("SLOT")]).value_or(-1);
    if (auto pid = integer(cells[column("PID")])) row.pid = static_cast<pid_t>(*pid);
    row.state = std::get<std::string>(cells[column("STATE")]);
    row.generation = integer(cells[column("GENERATION")]).value_or(0);
    row.connections = integer(cells[column("CONNECTIONS")]).value_or(0);
    row.refused = integer(cells[column("REFUSED")]).value_or(0);
    row.restarts = integer(cells[column("RESTARTS")]).value_or(0);
    rows.push_back(row);
  }
  return rows;
}

// The current worker of `slot` (not a draining one).
std::optional<WorkerRow> slot_row(connsched::Server& server, std::int64_t slot) {
  for (const auto& row : worker_rows(server)) {
    if (row.slot == slot && row.state != "draining") return row;
  }
  return std::nullopt;
}

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (::readdir(dir) != nullptr) ++n;
    ::closedir(dir);
  }
  return n;
}

}  // namespace

TEST_CASE("the process-pool backend, loaded by path into echo_server, serves concurrent clients") {
  ServerProcess server(echo_server_path(),
                       {"--port=0", "--thread-handling=" + custom_plugin("process-pool"),
                        "--process-pool-workers=3"});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  std::string failure = concurrent_echo_failure(*port, 12, 20);
  CHECK_MESSAGE(failure.empty(), (failure + "\nthe server's output:\n" + server.output()));
  server.signal(SIGTERM);
  auto status = server.wait_exit();
  CHECK_MESSAGE(status == 0,
                ("exit status " + (status ? std::to_string(*status) : "none (still running)") +
                 "\nthe server's output:\n" + server.output()));
  CHECK_MESSAGE(server.output().find("Sanitizer") == std::string::npos, server.output());
  // Core ran the backend's init while the server had no other thread (the spawner is
  // forked there): a worker forked beside another thread can inherit a held lock.
  CHECK_MESSAGE(server.output().find("other thread(s) run") == std::string::npos, server.output());
}

TEST_CASE(
    "process-pool spreads connections over its workers and keeps no copy of a passed socket") {
  RunningServer server(process_pool(3));
  auto rows = worker_rows(server.server());
  REQUIRE(rows.size() == 3);
  std::set<pid_t> pids;
  for (const auto& row : rows) {
    CHECK(row.state == "running");
    REQUIRE(row.pid);
    CHECK(*row.pid != ::getpid());
    pids.insert(*row.pid);
  }
  CHECK(pids.size() == 3);
  std::size_t baseline = open_fds();
  {
    std::vector<std::unique_ptr<TestClient>> clients;
    for (int i = 0; i < 9; ++i) {
      clients.push_back(std::make_unique<TestClient>(server.port()));
      REQUIRE(clients.back()->request("echo " + std::to_string(i)) == std::to_string(i));
    }
    bool spread = RunningServer::eventually([&] {
      auto now = worker_rows(server.server());
      return std::all_of(now.begin(), now.end(),
                         [](const WorkerRow& r) { return r.connections == 3; });
    });
    CHECK(spread);
    // The master closes its copy of each socket once a worker acknowledged it (the ack
    // may trail the worker's first reply): then only the 9 client ends are open here.
    CHECK(RunningServer::eventually(
        [&] { return server.server().backend_stats().counter("connections_passed_total") == 9; }));
    CHECK(open_fds() == baseline + 9);
    CHECK(server.server().core_stats().connections_current == 0);
  }
  CHECK(RunningServer::eventually([&] {
    auto now = worker_rows(server.server());
    return std::all_of(now.begin(), now.end(),
                       [](const WorkerRow& r) { return r.connections == 0; });
  }));
  CHECK(open_fds() == baseline);
}

TEST_CASE(
    "process-pool honours max_connections for the whole server: past it the master refuses with "
    "the protocol's reply at once, and a freed place is taken again") {
  // Two workers, each of whose cores would take 2: the pool as a whole takes 2.
  auto options = process_pool(2);
  options.max_connections = 2;
  RunningServer server(options);
  auto passed = [&](std::int64_t n) {
    return RunningServer::eventually(
        [&] { return server.server().backend_stats().counter("connections_passed_total") == n; });
  };
  auto first = std::make_unique<TestClient>(server.port());
  REQUIRE(first->request("echo one") == "one");
  TestClient second(server.port());
  REQUIRE(second.request("echo two") == "two");
  REQUIRE(passed(2));
  CHECK(server.server().backend_stats().counter("pool_connections") == 2);
  for (int i = 0; i < 3; ++i) {
    TestClient over(server.port());
    CHECK(over.read_line(5s) == "ERROR too many connections");
    CHECK(over.wait_closed(5s));
  }
  CHECK(server.server().core_stats().connections_refused == 3);
  CHECK(server.server().backend_stats().counter("connections_refused_full_total") == 3);
  first.reset();  // the pool has room again once the worker reported the close
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("pool_connections") == 1; }));
  TestClient third(server.port());
  CHECK(third.request("echo three") == "three");
  CHECK(second.request("echo still two") == "still two");
}

TEST_CASE(
    "a process-pool worker closes a connection idle past wait_timeout itself, since core cannot "
    "see the connections its workers hold; one that keeps talking stays") {
  auto options = process_pool(2);
  options.wait_timeout = 1;
  RunningServer server(options);
  TestClient idle(server.port());
  TestClient busy(server.port());
  REQUIRE(idle.request("echo hi") == "hi");
  auto start = std::chrono::steady_clock::now();
  bool busy_alive = true;
  while (std::chrono::steady_clock::now() - start < 1500ms) {
    busy_alive = busy_alive && busy.request("echo tick") == "tick";
    std::this_thread::sleep_for(100ms);
  }
  CHECK(busy_alive);
  CHECK(idle.wait_closed(10s));
  CHECK(std::chrono::steady_clock::now() - start >= 900ms);
  CHECK(busy.request("echo still here") == "still here");
  // The worker's timer did it and told the master; core's timer is off for this backend
  // (OWN_IDLE_TIMEOUT), so the master's core counted no timeout of its own.
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("connections_timed_out_total") == 1; }));
  CHECK(server.server().core_stats().connections_timed_out == 0);
}

TEST_CASE(
    "kv_server under process-pool with --max-connections=4 and 3 workers serves 4 clients and "
    "refuses the fifth with the RESP error, as the built-ins do") {
  ServerProcess server(
      bin_dir() + "/kv_server",
      {"--port=0", "--admin-port=0", "--thread-handling=" + custom_plugin("process-pool"),
       "--process-pool-workers=3", "--max-connections=4"});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<TestClient>(*port));
    REQUIRE(clients.back()->send("PING\r\n"));
    CHECK(clients.back()->read_line(10s) == "+PONG\r");
  }
  auto started = std::chrono::steady_clock::now();
  TestClient fifth(*port);
  CHECK(fifth.read_line(10s) == "-ERR max number of clients reached\r");
  CHECK(fifth.wait_closed(5s));
  CHECK(std::chrono::steady_clock::now() - started < 5s);  // a refusal, not a silent wait
  for (auto& c : clients) {                                // nobody lost their place
    REQUIRE(c->send("PING\r\n"));
    CHECK(c->read_line(10s) == "+PONG\r");
  }
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
  CHECK_MESSAGE(server.output().find("Sanitizer") == std::string::npos, server.output());
}

TEST_CASE(
    "a process-pool worker killed with SIGKILL is respawned; the other workers' connections keep "
    "working") {
  RunningServer server(process_pool(2));
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<TestClient>(server.port()));
    REQUIRE(clients.back()->request("echo before") == "before");
  }
  REQUIRE(RunningServer::eventually([&] {
    auto rows = worker_rows(server.server());
    return rows.size() == 2 && rows[0].connections == 2 && rows[1].connections == 2;
  }));
  auto victim = slot_row(server.server(), 0);
  REQUIRE(victim);
  REQUIRE(victim->pid);
  REQUIRE(::kill(*victim->pid, SIGKILL) == 0);

  bool respawned = RunningServer::eventually([&] {
    auto row = slot_row(server.server(), 0);
    return row && row->pid && *row->pid != *victim->pid && row->state == "running" &&
           row->restarts == 1;
  });
  CHECK(respawned);
  // The two connections of the killed worker are gone with it; the survivor's two
  // still answer.
  int working = 0, closed = 0;
  for (auto& c : clients) {
    if (c->request("echo after", 5s) == "after") {
      ++working;
    } else if (c->wait_closed(5s)) {
      ++closed;
    }
  }
  CHECK(working == 2);
  CHECK(closed == 2);
  CHECK(concurrent_echo(server.port(), 4, 5));
  CHECK(server.server().backend_stats().counter("respawns_total") == 1);
}

TEST_CASE(
    "a process-pool worker that keeps dying at once is backed off, then given up with a message") {
  RunningServer server(process_pool(2));
  auto survivor = slot_row(server.server(), 1);
  REQUIRE(survivor);
  std::set<pid_t> killed;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  // Kill slot 0's worker as soon as each new one appears: five deaths within the
  // fast-crash window in a row.
  while (killed.size() < 5 && std::chrono::steady_clock::now() < deadline) {
    auto row = slot_row(server.server(), 0);
    if (row && row->pid && !killed.count(*row->pid)) {
      ::kill(*row->pid, SIGKILL);
      killed.insert(*row->pid);
    }
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(killed.size() == 5);
  CHECK(RunningServer::eventually([&] {
    auto row = slot_row(server.server(), 0);
    return row && row->state == "failed" && !row->pid;
  }));
  // No sixth worker for slot 0, even later; slot 1 never noticed and still serves.
  std::this_thread::sleep_for(2s);
  auto row = slot_row(server.server(), 0);
  REQUIRE(row);
  CHECK(row->state == "failed");
  CHECK(row->restarts == 4);
  auto still = slot_row(server.server(), 1);
  REQUIRE(still);
  CHECK(still->pid == survivor->pid);
  CHECK(concurrent_echo(server.port(), 3, 3));
}

TEST_CASE(
    "process-pool reload replaces every worker; a request in flight is answered, and every "
    "connection moves to the new workers between requests instead of being dropped") {
  RunningServer server(process_pool(2));
  auto before = worker_rows(server.server());
  REQUIRE(before.size() == 2);
  TestClient busy(server.port());
  TestClient idle(server.port());
  CHECK(idle.request("echo idle") == "idle");
  CHECK(busy.request("echo busy") == "busy");
  REQUIRE(busy.send("sleep 800\n"));
  std::this_thread::sleep_for(100ms);  // the sleep is running in its worker
  REQUIRE(server.server().reload());
  // The request that was running completes on its old worker.
  CHECK(busy.read_line(10s) == "ok");
  bool replaced = RunningServer::eventually(
      [&] {
        auto rows = worker_rows(server.server());
        if (rows.size() != 2) return false;
        for (const auto& row : rows) {
          if (row.state != "running" || !row.pid) return false;
          for (const auto& old : before) {
            if (row.pid == old.pid) return false;
          }
        }
        return true;
      },
      20s);
  CHECK(replaced);  // no draining row left: the old workers have exited
  // Both connections are open and served by the new generation.
  CHECK(idle.request("echo idle after", 10s) == "idle after");
  CHECK(busy.request("echo busy after", 10s) == "busy after");
  CHECK(server.server().backend_stats().counter("connections_handed_over_total") == 2);
  CHECK(RunningServer::eventually([&] {
    std::int64_t held = 0;
    for (const auto& row : worker_rows(server.server())) held += row.connections;
    return held == 2;
  }));
  CHECK(concurrent_echo(server.port(), 4, 5));
  CHECK(server.server().backend_stats().counter("reloads_total") == 1);
}

TEST_CASE(
    "a client mid-line at the reload keeps its connection: the bytes it sent before and after "
    "the hand-over reach the new worker in order") {
  RunningServer server(process_pool(1));
  auto before = slot_row(server.server(), 0);
  REQUIRE(before);
  TestClient client(server.port());
  CHECK(client.request("echo warm") == "warm");
  REQUIRE(client.send("echo hal"));  // half a request: it stays with the old worker
  std::this_thread::sleep_for(200ms);
  REQUIRE(server.server().reload());
  std::this_thread::sleep_for(500ms);
  REQUIRE(client.send("f\n"));  // the request completes: answered, then handed over
  CHECK(client.read_line(10s) == "half");
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("connections_handed_over_total") == 1; },
      20s));
  CHECK(client.request("echo on the new worker", 10s) == "on the new worker");
  auto after = slot_row(server.server(), 0);
  REQUIRE(after);
  CHECK(after->pid != before->pid);
  CHECK(after->connections == 1);
}

TEST_CASE("SIGHUP to echo_server with process-pool replaces the worker processes one by one") {
  ServerProcess server(echo_server_path(),
                       {"--port=0", "--thread-handling=" + custom_plugin("process-pool"),
                        "--process-pool-workers=2"});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  auto before = descendants(server.pid());
  REQUIRE(before.size() == 3);  // the spawner and two workers
  TestClient client(*port);
  CHECK(client.request("before") == "before");
  server.signal(SIGHUP);
  bool replaced = RunningServer::eventually(
      [&] {
        auto now = descendants(server.pid());
        std::size_t kept = 0;
        for (pid_t p : now) kept += before.count(p);
        return now.size() == 3 && kept == 1;  // only the spawner is the same process
      },
      20s);
  CHECK_MESSAGE(replaced, server.output());
  // Handed to a new worker, not closed.
  CHECK_MESSAGE(client.request("after") == "after", server.output());
  CHECK(concurrent_echo(*port, 4, 5));
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
  CHECK_MESSAGE(server.output().find("Sanitizer") == std::string::npos, server.output());
  CHECK(server.output().find("reload: replacing 2 worker process(es) one by one") !=
        std::string::npos);
}

TEST_CASE("SIGTERM drains every process-pool worker and leaves no process behind") {
  ServerProcess server(echo_server_path(),
                       {"--port=0", "--thread-handling=" + custom_plugin("process-pool"),
                        "--process-pool-workers=3"});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  TestClient idle(*port);
  CHECK(idle.request("idle") == "idle");
  auto family = descendants(server.pid());
  REQUIRE(family.size() == 4);  // the spawner and three workers
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
  CHECK_MESSAGE(server.output().find("Sanitizer") == std::string::npos, server.output());
  CHECK(idle.wait_closed(5s));
  for (pid_t pid : family) {
    CAPTURE(pid);
    CHECK_FALSE(process_alive(pid));
  }
}

TEST_CASE(
    "behind a PROXY header, a process-pool worker reports the header's client, not the "
    "balancer's address, and so does the next worker after a reload hands the socket over") {
  auto options = process_pool(2);
  options.proxy_protocol_networks = "127.0.0.1/32";  // the test client plays the balancer
  RunningServer server(options);
  TestClient first(server.port());
  TestClient second(server.port());
  REQUIRE(first.send("PROXY TCP4 203.0.113.7 10.0.0.1 5555 6380\r\naddr\n"));
  REQUIRE(second.send("PROXY TCP4 198.51.100.9 10.0.0.1 6666 6380\r\naddr\n"));
  CHECK(first.read_line() == "203.0.113.7:5555");
  CHECK(second.read_line() == "198.51.100.9:6666");
  // One connection in each worker (the least loaded gets the next): both passed it on.
  CHECK(RunningServer::eventually([&] {
    std::set<pid_t> served_by;
    for (const auto& row : worker_rows(server.server())) {
      if (row.connections == 1 && row.pid) served_by.insert(*row.pid);
    }
    return served_by.size() == 2;
  }));
  // A reload hands both idle sockets back to the master and on to new workers.
  REQUIRE(server.server().reload());
  CHECK(RunningServer::eventually(
      [&] { return server.server().backend_stats().counter("connections_handed_over_total") == 2; },
      20s));
  CHECK(first.request("addr", 10s) == "203.0.113.7:5555");
  CHECK(second.request("addr", 10s) == "198.51.100.9:6666");
}

TEST_CASE(
    "ten idle connections survive five process-pool reloads in a row: a replaced worker's last "
    "hand-backs are read even when the spawner reports its exit first") {
  RunningServer server(process_pool(2));
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<TestClient>(server.port()));
    REQUIRE(clients.back()->request(fmt::format("echo {}", i)) == std::to_string(i));
  }
  for (int reload = 1; reload <= 5; ++reload) {
    CAPTURE(reload);
    REQUIRE(server.server().reload());
    // Every reload hands all ten over once, and the workers that did so are gone.
    CHECK(RunningServer::eventually(
        [&] {
          auto rows = worker_rows(server.server());
          std::int64_t held = 0;
          for (const auto& row : rows) held += row.connections;
          return rows.size() == 2 && held == 10 &&
                 server.server().backend_stats().counter("connections_handed_over_total") ==
                     10 * reload;
        },
        20s));
    for (int i = 0; i < 10; ++i) {
      CAPTURE(i);
      CHECK(clients[i]->request(fmt::format("echo {}-{}", reload, i), 10s) ==
            fmt::format("{}-{}", reload, i));
    }
  }
  CHECK(server.server().backend_stats().counter("reloads_total") == 5);
}

TEST_CASE(
    "a live switch away from process-pool is refused with the reason, and it goes on "
    "serving") {
  ServerProcess server(echo_server_path(), {"--port=0", "--admin-port=0",
                                            "--thread-handling=" + custom_plugin("process-pool"),
                                            "--process-pool-workers=2"});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  std::uint16_t admin = 0;
  CHECK(RunningServer::eventually([&] {
    const std::string& out = server.output();
    auto at = out.find("admin port listening on ");
    if (at == std::string::npos) return false;
    auto colon = out.find(':', at + 24);
    admin = static_cast<std::uint16_t>(std::stoi(out.substr(colon + 1)));
    return true;
  }));
  REQUIRE(admin != 0);
  TestClient client(*port);
  CHECK(client.request("before") == "before");
  TestClient http(admin);
  REQUIRE(
      http.send("POST /set?thread_handling=pool-of-threads HTTP/1.1\r\nHost: x\r\n"
                "Connection: close\r\n\r\n"));
  std::string reply = http.read_all(10s);
  CHECK_MESSAGE(reply.find("422") != std::string::npos, reply);
  CHECK(reply.find("worker processes") != std::string::npos);
  CHECK(client.request("after") == "after");
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}
