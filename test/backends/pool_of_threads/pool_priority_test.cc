// File: test/backends/pool_of_threads/pool_priority_test.cc
//
// Which queued request runs first: thread_pool_high_prio_mode and _tickets (Percona),
// and thread_pool_prio_kickup_timer (MariaDB's anti-starvation). Each test holds the
// group's only running thread with a long request, queues others behind it, reads the
// queue from THREAD_POOL_QUEUES, and checks the order the Probe recorded.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "pool_test_support.h"
#include "test_client.h"

using namespace connsched;
using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {
// One group, one request at a time, a dedicated listener (so arrivals are queued as
// they come), and a timer that neither declares stalls nor kicks up unless asked.
std::map<std::string, std::string> serial_group(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> options{{"thread_pool_size", "1"},
                                             {"thread_pool_oversubscribe", "0"},
                                             {"thread_pool_stall_limit", "60000"},
                                             {"thread_pool_dedicated_listener", "on"},
                                             {"thread_pool_prio_kickup_timer", "60000"}};
  for (auto& [k, v] : extra) options[k] = v;
  return mariadb_only(options);
}

std::int64_t queue_length(Server& server) {
  return column_sum(server, "THREAD_POOL_GROUPS", "QUEUE_LENGTH");
}

// The PRIORITY THREAD_POOL_QUEUES shows for a queued connection, or -1.
std::int64_t queued_priority(Server& server, std::uint64_t connection_id) {
  auto stats = server.backend_stats();
  const StatsTable* queues = stats.table("THREAD_POOL_QUEUES");
  if (queues == nullptr) return -1;
  for (std::size_t r = 0; r < queues->rows.size(); ++r) {
    if (int_cell(*queues, r, "CONNECTION_ID") == static_cast<std::int64_t>(connection_id)) {
      return int_cell(*queues, r, "PRIORITY").value_or(-1);
    }
  }
  return -1;
}

struct Client {
  TestClient socket;
  std::uint64_t id;
  explicit Client(std::uint16_t port) : socket(port, 30s), id(std::stoull(*socket.request("id"))) {}
};

// Starts a long CPU request that occupies the group's one running thread.
void occupy(RunningServer& server, Client& hog, long burn_us) {
  REQUIRE(hog.socket.send(fmt::format("burn {}\n", burn_us)));
  REQUIRE(RunningServer::eventually([&] { return server.probe().running.load() == 1; }));
}
}  // namespace

TEST_CASE(
    "transactions mode: a connection inside a transaction is served before queued normal ones") {
  RunningServer server(pool_options(serial_group()));
  Client hog(server.port()), trx(server.port()), n1(server.port()), n2(server.port()),
      n3(server.port());
  REQUIRE(trx.socket.request("begin") == "ok");
  server.probe().record.store(true);
  occupy(server, hog, 1500000);
  for (Client* c : {&n1, &n2, &n3}) REQUIRE(c->socket.send("echo normal\n"));
  REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 3; }));
  REQUIRE(trx.socket.send("echo in-trx\n"));
  REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 4; }));
  CHECK(queued_priority(server.server(), trx.id) == 0);
  CHECK(queued_priority(server.server(), n1.id) == 1);
  for (Client* c : {&n1, &n2, &n3}) CHECK(c->socket.read_line(30s) == "normal");
  CHECK(trx.socket.read_line(30s) == "in-trx");
  int trx_at = order_of(server.probe(), fmt::format("{}:echo in-trx", trx.id));
  REQUIRE(trx_at >= 0);
  for (Client* c : {&n1, &n2, &n3}) {
    CHECK(trx_at < order_of(server.probe(), fmt::format("{}:echo normal", c->id)));
  }
}

TEST_CASE(
    "mode none serves in arrival order; tickets bound how long a transaction jumps the queue") {
  SUBCASE("none: first come, first served") {
    RunningServer server(pool_options(serial_group({{"thread_pool_high_prio_mode", "none"}})));
    Client hog(server.port()), trx(server.port()), n1(server.port());
    REQUIRE(trx.socket.request("begin") == "ok");
    server.probe().record.store(true);
    occupy(server, hog, 1000000);
    REQUIRE(n1.socket.send("echo normal\n"));
    REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 1; }));
    REQUIRE(trx.socket.send("echo in-trx\n"));
    REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 2; }));
    CHECK(queued_priority(server.server(), trx.id) == 1);
    CHECK(n1.socket.read_line(30s) == "normal");
    CHECK(trx.socket.read_line(30s) == "in-trx");
    CHECK(order_of(server.probe(), fmt::format("{}:echo normal", n1.id)) <
          order_of(server.probe(), fmt::format("{}:echo in-trx", trx.id)));
  }
  SUBCASE("tickets 0: a transaction gets no high priority") {
    RunningServer server(pool_options(serial_group({{"thread_pool_high_prio_tickets", "0"}})));
    Client hog(server.port()), trx(server.port());
    REQUIRE(trx.socket.request("begin") == "ok");
    occupy(server, hog, 1000000);
    REQUIRE(trx.socket.send("echo in-trx\n"));
    REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 1; }));
    CHECK(queued_priority(server.server(), trx.id) == 1);
    CHECK(trx.socket.read_line(30s) == "in-trx");
  }
  SUBCASE("statements: every request is high priority") {
    RunningServer server(
        pool_options(serial_group({{"thread_pool_high_prio_mode", "statements"}})));
    Client hog(server.port()), plain(server.port());
    occupy(server, hog, 1000000);
    REQUIRE(plain.socket.send("echo plain\n"));
    REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 1; }));
    CHECK(queued_priority(server.server(), plain.id) == 0);
    CHECK(plain.socket.read_line(30s) == "plain");
  }
}

TEST_CASE(
    "kick-up moves a normal entry that waited past thread_pool_prio_kickup_timer to the high "
    "queue") {
  RunningServer server(pool_options(serial_group({{"thread_pool_prio_kickup_timer", "200"}})));
  Client hog(server.port()), trx(server.port()), old(server.port());
  REQUIRE(trx.socket.request("begin") == "ok");
  server.probe().record.store(true);
  occupy(server, hog, 2000000);
  REQUIRE(old.socket.send("echo old\n"));
  REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 1; }));
  // Normal first, then high once it waited 200 ms (the timer checks every 100 ms).
  CHECK(
      RunningServer::eventually([&] { return queued_priority(server.server(), old.id) == 0; }, 5s));
  REQUIRE(trx.socket.send("echo in-trx\n"));
  REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 2; }));
  CHECK(old.socket.read_line(30s) == "old");
  CHECK(trx.socket.read_line(30s) == "in-trx");
  // Without kick-up the transaction would have gone first (previous test).
  CHECK(order_of(server.probe(), fmt::format("{}:echo old", old.id)) <
        order_of(server.probe(), fmt::format("{}:echo in-trx", trx.id)));
}

TEST_CASE("a killed connection waiting in the normal queue jumps to the high queue and closes") {
  RunningServer server(pool_options(serial_group()));
  Client hog(server.port()), n1(server.port()), victim(server.port());
  occupy(server, hog, 1500000);
  REQUIRE(n1.socket.send("echo normal\n"));
  REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 1; }));
  REQUIRE(victim.socket.send("echo doomed\n"));
  REQUIRE(RunningServer::eventually([&] { return queue_length(server.server()) == 2; }));
  CHECK(queued_priority(server.server(), victim.id) == 1);
  CHECK(server.server().kill(victim.id));
  CHECK(queued_priority(server.server(), victim.id) == 0);
  CHECK(victim.socket.wait_closed(30s));
  CHECK(n1.socket.read_line(30s) == "normal");
}
