// File: test/faults/output_wait_test.cc
//
// Clients that stop reading under pool-of-threads (issue #19, item 9). A reply that does
// not fit the socket waits for EPOLLOUT without a thread (CONNSCHED_NEXT_WAIT_OUTPUT),
// so many non-readers leave the thread count at the pool's size where each used to
// hold a thread for up to --net-write-timeout (500 of them: 507 threads); they are still
// closed at --net-write-timeout, now by core's deadline timer; and a slow reader that
// does read gets every byte in order, the requests it pipelined behind the wait
// included.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "example_server.h"
#include "fault_support.h"
#include "running_server.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// The pool's poller for this run: CONNSCHED_TEST_POLLER (epoll or io_uring), set by
// test/faults/CMakeLists.txt, which registers this test once per poller.
std::vector<std::string> with_poller(std::vector<std::string> args) {
  const char* poller = std::getenv("CONNSCHED_TEST_POLLER");
  if (poller != nullptr && *poller != '\0')
    args.push_back(fmt::format("--thread-pool-poller={}", poller));
  return args;
}

// A line of /proc/PID/status as a number ("Threads", "VmRSS" in KiB); -1 when absent.
long long status_field(pid_t pid, const std::string& field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

std::string resp_set(const std::string& key, const std::string& value) {
  return fmt::format("*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n${}\r\n{}\r\n", key.size(), key, value.size(),
                     value);
}

void store_value(std::uint16_t port, const std::string& key, const std::string& value) {
  TestClient setup(port);
  REQUIRE(setup.send(resp_set(key, value)));
  auto reply = read_resp(setup);
  REQUIRE(reply);
  REQUIRE(reply->text == "OK");
}

// A client of its own (its receive buffer left as the kernel makes it: shrinking it
// after the connect makes the kernel drop what the window already allowed, and the
// server's retransmissions back off for seconds once the client reads).
TestClient fresh_client(std::uint16_t port) {
  return TestClient(port, scaled(10s));
}

// `count` pipelined GETs of `key`: 96 of a 64 KiB value are 6 MiB of replies, more than
// the server's socket buffer (it grows to about 4 MiB on loopback) and the client's take.
std::string pipelined_gets(const std::string& key, int count) {
  std::string gets;
  for (int i = 0; i < count; ++i) gets += fmt::format("GET {}\r\n", key);
  return gets;
}

}  // namespace

TEST_CASE(
    "pool-of-threads: clients that never read a large reply hold no thread: the thread count "
    "stays at the pool's size and a healthy client still gets PONG quickly") {
  // Each non-reader also pins ~4 MiB of kernel socket buffer (500 would take 2 GiB, near
  // the machine's tcp_mem limit, slowing every socket of every test): 250, fewer under
  // sanitizers.
  const int kNonReaders = slowdown() == 1 ? 250 : 60;
  // Threads made while the attack arrives (a busy group gets more) leave after 1 s idle;
  // a thread blocked in a write could not.
  ExampleServer server("kv_server", "pool-of-threads",
                       with_poller({"--net-write-timeout=600", "--max-connections=1000",
                                    "--thread-pool-idle-timeout=1"}));
  const pid_t pid = server.process().pid();
  store_value(server.port(), "big", std::string(64 * 1024, 'b'));
  HealthyClient healthy(server.port(), Dialect::kKv);
  REQUIRE(RunningServer::eventually([&] { return healthy.answered() >= 3; }, scaled(10s)));
  const long long threads_before = status_field(pid, "Threads");
  const long long rss_before = status_field(pid, "VmRSS");
  std::vector<TestClient> stuck;
  for (int i = 0; i < kNonReaders; ++i) {
    stuck.push_back(fresh_client(server.port()));
    REQUIRE(stuck.back().send(pipelined_gets("big", 96)));
  }
  // Every one of them reached a reply the socket would not take, and waits for it.
  CHECK_MESSAGE(RunningServer::eventually(
                    [&] {
                      return stats_counter(server.admin_port(), "threadpool_output_waits_total") >=
                             kNonReaders;
                    },
                    scaled(30s)),
                stats_counter(server.admin_port(), "threadpool_output_waits_total"));
  std::this_thread::sleep_for(scaled(3s));  // time for the extra threads to leave
  const long long threads = status_field(pid, "Threads");
  const long long rss = status_field(pid, "VmRSS");
  MESSAGE(fmt::format(
      "{} non-readers: {} threads (before: {}), RSS {} MiB (before: {} MiB); healthy client's "
      "slowest reply: {} ms",
      kNonReaders, threads, threads_before, rss / 1024, rss_before / 1024,
      healthy.max_latency().count()));
  // Before: one thread each, blocked in the write (kNonReaders + the pool's).
  CHECK(threads <= threads_before + 16);
  TestClient probe(server.port());
  const auto start = std::chrono::steady_clock::now();
  auto pong = kv_command(probe, "PING", scaled(5s));
  REQUIRE(pong);
  CHECK(pong->text == "PONG");
  CHECK(std::chrono::steady_clock::now() - start < scaled(1s));
  // While the attack arrives the server copies ~3 MiB into each socket: busy, not stuck.
  CHECK(healthy.max_latency() < scaled(5s));
  CHECK(stats_counter(server.admin_port(), "write_timeouts") == 0);
  check_healthy(healthy, server.port());
  stuck.clear();
  CHECK(server.stop() == 0);
}

TEST_CASE(
    "pool-of-threads: clients that never read are closed after --net-write-timeout, without a "
    "thread held meanwhile, counted and logged") {
  constexpr int kNonReaders = 20;
  const int timeout_s = slowdown() == 1 ? 6 : 20;  // long enough to see the threads leave
  ExampleServer server("kv_server", "pool-of-threads",
                       with_poller({fmt::format("--net-write-timeout={}", timeout_s),
                                    "--thread-pool-idle-timeout=1"}));
  const pid_t pid = server.process().pid();
  store_value(server.port(), "big", std::string(64 * 1024, 'b'));
  HealthyClient healthy(server.port(), Dialect::kKv);
  REQUIRE(RunningServer::eventually([&] { return healthy.answered() >= 3; }, scaled(10s)));
  const long long threads_before = status_field(pid, "Threads");
  std::vector<TestClient> stuck;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kNonReaders; ++i) {
    stuck.push_back(fresh_client(server.port()));
    REQUIRE(stuck.back().send(pipelined_gets("big", 96)));
  }
  REQUIRE(RunningServer::eventually(
      [&] {
        return stats_counter(server.admin_port(), "threadpool_output_waits_total") >= kNonReaders;
      },
      scaled(20s)));
  // Threads made while they arrived leave after 1 s idle; before, one stayed blocked for
  // each until the timeout.
  CHECK_MESSAGE(
      RunningServer::eventually([&] { return status_field(pid, "Threads") <= threads_before + 8; },
                                std::chrono::seconds(timeout_s - 2)),
      status_field(pid, "Threads"));
  CHECK(stats_counter(server.admin_port(), "write_timeouts") == 0);
  CHECK_MESSAGE(
      RunningServer::eventually(
          [&] { return stats_counter(server.admin_port(), "write_timeouts") >= kNonReaders; },
          scaled(20s)),
      server.process().output());
  // Not before the timeout.
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::seconds(timeout_s) - 100ms);
  // Each was closed: what it did not read ends in EOF or a reset, not a wait.
  for (auto& client : stuck) CHECK(client.wait_closed(scaled(10s)));
  CHECK(server.process().output().find("net_write_timeout") != std::string::npos);
  CHECK(occurrences(server.process().output(), "peer did not read a reply") < kNonReaders);
  CHECK(healthy.max_latency() < scaled(1s));
  check_healthy(healthy, server.port());
  CHECK(server.stop() == 0);
}

TEST_CASE(
    "pool-of-threads: slow readers that read at last get every byte in order, the requests "
    "pipelined behind the wait and a last QUIT included") {
  constexpr int kReaders = 16;
  constexpr int kKeys = 8;
  constexpr int kGets = 80;  // 8 MiB each
  ExampleServer server("kv_server", "pool-of-threads",
                       with_poller({"--net-write-timeout=600", "--thread-pool-idle-timeout=1"}));
  const pid_t pid = server.process().pid();
  std::vector<std::string> values;
  for (int k = 0; k < kKeys; ++k) {
    std::string value(100 * 1024 + k, static_cast<char>('a' + k));
    value[k] = '!';  // not only the length tells them apart
    store_value(server.port(), fmt::format("key{}", k), value);
    values.push_back(std::move(value));
  }
  const long long threads_before = status_field(pid, "Threads");
  std::vector<TestClient> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.push_back(fresh_client(server.port()));
    std::string requests;
    for (int i = 0; i < kGets; ++i) requests += fmt::format("GET key{}\r\n", (i + r) % kKeys);
    requests += "PING\r\nQUIT\r\n";
    REQUIRE(readers.back().send(requests));
  }
  REQUIRE(RunningServer::eventually(
      [&] {
        return stats_counter(server.admin_port(), "threadpool_output_waits_total") >= kReaders;
      },
      scaled(20s)));
  CHECK_MESSAGE(RunningServer::eventually(
                    [&] { return status_field(pid, "Threads") <= threads_before + 8; }, scaled(5s)),
                status_field(pid, "Threads"));
  // Each reads a little at a time, then the rest: every reply in the order asked.
  for (int r = 0; r < kReaders; ++r) {
    CAPTURE(r);
    TestClient& reader = readers[static_cast<std::size_t>(r)];
    for (int i = 0; i < kGets; ++i) {
      CAPTURE(i);
      auto reply = read_resp(reader, scaled(20s));
      REQUIRE_MESSAGE(reply, server.process().output());
      REQUIRE(reply->type == '$');
      REQUIRE(reply->text == values[static_cast<std::size_t>((i + r) % kKeys)]);
      if (r == 0 && i < 8) std::this_thread::sleep_for(50ms);  // slow at first
    }
    auto pong = read_resp(reader, scaled(10s));
    REQUIRE(pong);
    CHECK(pong->text == "PONG");
    auto bye = read_resp(reader, scaled(10s));
    REQUIRE(bye);
    CHECK(bye->text == "OK");
    CHECK(reader.wait_closed(scaled(10s)));
  }
  CHECK(stats_counter(server.admin_port(), "write_timeouts") == 0);
  CHECK(server.stop() == 0);
}

TEST_CASE(
    "pool-of-threads: a connection killed while its reply waits for the socket is closed at once, "
    "and the server goes on") {
  ExampleServer server("kv_server", "pool-of-threads", with_poller({"--net-write-timeout=600"}));
  store_value(server.port(), "big", std::string(64 * 1024, 'b'));  // connection 1
  TestClient stuck = fresh_client(server.port());                  // connection 2
  REQUIRE(stuck.send(pipelined_gets("big", 96)));
  REQUIRE(RunningServer::eventually(
      [&] { return stats_counter(server.admin_port(), "threadpool_output_waits_total") >= 1; },
      scaled(20s)));
  const auto start = std::chrono::steady_clock::now();
  auto killed = admin_request(server.admin_port(), "POST", "/kill?id=2");
  CHECK(killed.status == 200);
  CHECK(stuck.wait_closed(scaled(10s)));
  CHECK(std::chrono::steady_clock::now() - start < scaled(5s));
  CHECK(RunningServer::eventually(
      [&] { return stats_counter(server.admin_port(), "connections_current") == 0; }, scaled(10s)));
  CHECK(stats_counter(server.admin_port(), "write_timeouts") == 0);
  CHECK(served(server.port(), Dialect::kKv, scaled(10s)));
  CHECK(server.stop() == 0);
}
