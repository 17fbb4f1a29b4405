// File: test/faults/resource_faults_test.cc
//
// Faults that exhaust a resource of kv_server, run as a process under every built-in
// backend: its file descriptors (RLIMIT_NOFILE lowered on the running process), its
// serving threads (1,000 clients sending one byte a second), and its write path (a
// client that stops reading a large reply). Throughout each, a healthy client keeps
// writing and must keep getting answers; afterwards every write it saw acknowledged
// must still be readable.
//
// no-threads serves one connection at a time by design, so it has no "meanwhile": for
// it the healthy client is checked after the fault's connections end (said per test).
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <optional>
#include <thread>

#include "backends.h"
#include "example_server.h"
#include "fault_support.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// Sets the soft fd limit of a running process (the hard one stays, so it can go back).
void set_fd_limit(pid_t pid, rlim_t soft) {
  rlimit old{};
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old) == 0);
  rlimit lowered{soft, old.rlim_max};
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &lowered, nullptr) == 0);
}

// UBSan (gcc 12's libubsan) checks a vptr it has not cached by probing the vtable's
// memory through a pipe. In a process with no free fd, which is what this test makes of
// the server, the pipe cannot be made, the probe answers "inaccessible", and a valid
// object is reported as "object has invalid vptr" followed by "<memory cannot be
// printed>" (seen on a shared_ptr's control block). The asan preset builds the vptr
// check recoverable (-fsanitize-recover=vptr) and halts on it through UBSAN_OPTIONS;
// while this object lives the servers started run with halt_on_error=0, and
// `fd_probe_reports` then requires that every UBSan report they printed is that
// probe's. Every other check, and every other test, halts as before.
class UbsanContinuesInServers {
 public:
  UbsanContinuesInServers() {
    const char* current = std::getenv("UBSAN_OPTIONS");
    if (current) saved_ = current;
    std::string options = saved_ ? *saved_ + ":" : std::string();
    ::setenv("UBSAN_OPTIONS", (options + "halt_on_error=0").c_str(), 1);
  }
  ~UbsanContinuesInServers() {
    if (saved_) {
      ::setenv("UBSAN_OPTIONS", saved_->c_str(), 1);
    } else {
      ::unsetenv("UBSAN_OPTIONS");
    }
  }
  UbsanContinuesInServers(const UbsanContinuesInServers&) = delete;
  UbsanContinuesInServers& operator=(const UbsanContinuesInServers&) = delete;

 private:
  std::optional<std::string> saved_;
};

// How many UBSan reports `output` holds, all of them the failed vptr probe described
// above; nullopt if any other report is there.
std::optional<int> fd_probe_reports(const std::string& output) {
  int count = 0;
  for (auto at = output.find("runtime error:"); at != std::string::npos;
       at = output.find("runtime error:", at + 1)) {
    const auto next = output.find("runtime error:", at + 1);
    const std::string report = output.substr(at, next == std::string::npos ? next : next - at);
    if (report.find("object has invalid vptr") == std::string::npos ||
        report.find("<memory cannot be printed>") == std::string::npos)
      return std::nullopt;
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE(
    "fd exhaustion: accept pauses without spinning, logs once, and resumes when fds free up") {
  UbsanContinuesInServers vptr_probe_needs_an_fd;
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    ExampleServer server("kv_server", backend);
    const pid_t pid = server.process().pid();
    const bool one_at_a_time = serves_one_at_a_time(backend);
    // no-threads: its one thread would be serving the healthy client instead of
    // accepting, so the probe runs after the fds come back.
    std::optional<HealthyClient> healthy;
    if (!one_at_a_time) {
      healthy.emplace(server.port(), Dialect::kKv);
      REQUIRE(RunningServer::eventually([&] { return healthy->answered() >= 3; }, scaled(10s)));
    }
    // A few fds of headroom (none for no-threads, whose next accept would be served
    // to its end instead of failing), then accept must hit EMFILE.
    set_fd_limit(pid, static_cast<rlim_t>(lowest_free_fd(pid) + (one_at_a_time ? 0 : 6)));
    std::vector<TestClient> extras;
    for (int i = 0; i < 40; ++i) extras.emplace_back(server.port());  // the backlog takes them
    const std::string logged = "accept failed: Too many open files";
    REQUIRE_MESSAGE(RunningServer::eventually(
                        [&] { return server.process().output().find(logged) != std::string::npos; },
                        scaled(10s)),
                    server.process().output());
    auto start = std::chrono::steady_clock::now();
    auto cpu_before = cpu_time(pid);
    std::this_thread::sleep_for(2s);
    auto cpu_used = cpu_time(pid) - cpu_before;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    double share = static_cast<double>(cpu_used.count()) / static_cast<double>(elapsed.count());
    MESSAGE(fmt::format("{}: server CPU while accept fails with EMFILE: {:.1f}% of one core",
                        backend, share * 100));
    // A spinning acceptor would take a whole core; the healthy client's SETs cost a little,
    // and several times more under a sanitizer.
    CHECK(share < (slowdown() > 1 ? 0.6 : 0.3));
    // Rate-limited to one line per 5 s, however often accept is retried.
    auto lines = occurrences(server.process().output(), "accept failed");
    auto since_first = std::chrono::steady_clock::now() - start + 1s;
    CHECK(lines <= 1 + static_cast<std::size_t>(since_first / 5s));
    // Fds free up: the extras close (and, for no-threads, the limit comes back).
    extras.clear();
    if (one_at_a_time) set_fd_limit(pid, 4096);
    CHECK_MESSAGE(RunningServer::eventually([&] { return served(server.port(), Dialect::kKv, 2s); },
                                            scaled(10s)),
                  server.process().output());
    if (healthy) {
      check_healthy(*healthy, server.port());
    } else {
      HealthyClient after(server.port(), Dialect::kKv);
      REQUIRE(RunningServer::eventually([&] { return after.answered() >= 3; }, scaled(10s)));
      check_healthy(after, server.port());
    }
    CHECK(server.stop() == 0);
    const auto probe_reports = fd_probe_reports(server.process().output());
    CHECK_MESSAGE(probe_reports.has_value(), server.process().output());
    if (probe_reports.value_or(0) > 0) {
      MESSAGE(fmt::format("{}: {} UBSan vptr report(s) from the probe that needs a free fd",
                          backend, *probe_reports));
    }
  }
}

TEST_CASE(
    "slow clients: 1,000 connections sending one byte a second hold no worker; a healthy client "
    "is answered promptly throughout") {
  constexpr int kSlowClients = 1000;
  const std::string request = "PING\r\n";  // one byte a second: complete after 6 s
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    if (serves_one_at_a_time(backend)) {
      // no-threads serves the first slow client to its end before accepting the next:
      // 1,000 slow clients are 1,000 turns, by design. Nothing to measure here.
      MESSAGE("no-threads: skipped (one connection at a time by design)");
      continue;
    }
    ExampleServer server("kv_server", backend, {"--max-connections=1100"});
    HealthyClient healthy(server.port(), Dialect::kKv);
    std::vector<TestClient> slow;
    slow.reserve(kSlowClients);
    for (int i = 0; i < kSlowClients; ++i) slow.emplace_back(server.port(), scaled(10s));
    auto next = std::chrono::steady_clock::now();
    for (char byte : request) {
      for (auto& client : slow) REQUIRE(client.send(std::string_view(&byte, 1)));
      next += 1s;
      std::this_thread::sleep_until(next);
    }
    int answered = 0;
    for (auto& client : slow) {
      auto reply = read_resp(client, scaled(10s));
      if (reply && reply->type == '+' && reply->text == "PONG") ++answered;
    }
    CHECK(answered == kSlowClients);
    MESSAGE(fmt::format("{}: healthy client's slowest reply among {} during {} slow clients: {} ms",
                        backend, healthy.answered(), kSlowClients, healthy.max_latency().count()));
    CHECK(healthy.max_latency() < scaled(1s));
    check_healthy(healthy, server.port());
    CHECK(server.stop() == 0);
  }
}

TEST_CASE(
    "a client that stops reading a large reply is closed after --net-write-timeout; the thread is "
    "freed and other clients are unaffected") {
  const std::string value(512 * 1024, 'v');
  for (const auto& backend : builtin_backends()) {
    CAPTURE(backend);
    const bool one_at_a_time = serves_one_at_a_time(backend);
    ExampleServer server("kv_server", backend, {"--net-write-timeout=2"});
    {
      TestClient writer(server.port());
      REQUIRE(writer.send(
          fmt::format("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n{}\r\n", value.size(), value)));
      auto ok = read_resp(writer);
      REQUIRE(ok);
      REQUIRE(ok->text == "OK");
    }
    // no-threads: the stuck client holds the only thread until the timeout; the
    // healthy client is checked after it.
    std::optional<HealthyClient> healthy;
    if (!one_at_a_time) {
      healthy.emplace(server.port(), Dialect::kKv);
      REQUIRE(RunningServer::eventually([&] { return healthy->answered() >= 3; }, scaled(10s)));
    }
    TestClient stuck(server.port());
    int small = 4096;
    ::setsockopt(stuck.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    std::string gets;
    for (int i = 0; i < 64; ++i) gets += "GET big\r\n";  // 32 MiB of replies, never read
    REQUIRE(stuck.send(gets));
    CHECK_MESSAGE(
        RunningServer::eventually(
            [&] { return stats_counter(server.admin_port(), "write_timeouts") >= 1; }, scaled(20s)),
        server.process().output());
    CHECK(server.process().output().find("net_write_timeout") != std::string::npos);
    if (healthy) {
      MESSAGE(fmt::format("{}: healthy client's slowest reply while a client did not read: {} ms",
                          backend, healthy->max_latency().count()));
      CHECK(healthy->max_latency() < scaled(1s));
      check_healthy(*healthy, server.port());
    } else {
      CHECK(served(server.port(), Dialect::kKv, scaled(10s)));
    }
    // Another reader of the same large value is served in full afterwards.
    TestClient reader(server.port());
    auto reply = kv_command(reader, "GET big", scaled(10s));
    REQUIRE(reply);
    CHECK(reply->text.size() == value.size());
    CHECK(server.stop() == 0);
  }
}
