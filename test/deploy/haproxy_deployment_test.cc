// File: test/deploy/haproxy_deployment_test.cc
//
// The fleet of deploy/haproxy: three kv_servers behind Debian's HAProxy, configured by
// exactly the text `deploy/haproxy/deploy.sh config` prints (mode tcp, send-proxy-v2,
// balance leastconn, a /health check on each admin port every 500 ms, down after 2
// failures). Clients connect from 127.0.0.2 while HAProxy connects from 127.0.0.1, so
// an instance that reported HAProxy's address instead of the client's would be seen.
//
// Each instance holds the key `instance` (kv1, kv2, kv3), so a client learns which one
// serves its connection; client loops INCR the key `counter` and reconnect when a
// connection ends between requests. An instance's counter answers 1, 2, 3, ... to
// whoever asks, so the replies all loops got from one instance, sorted, must be exactly
// 1..N: a request executed but never answered would leave a gap (or, last, be invisible:
// the checks below count the requests that got no reply instead).
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin_client.h"
#include "example_server.h"
#include "fault_support.h"
#include "running_server.h"
#include "server_process.h"
#include "temp_dir.h"
#include "test_client.h"
#include "text_search.h"
#include "tool_run.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// HAProxy's state-change lines on its stderr (-db), as it prints them.
std::string down_line(int instance) {
  return "Server kv_servers/kv" + std::to_string(instance) + " is DOWN";
}

// The instances, HAProxy in front of them, and the address clients come from.
class Fleet {
 public:
  explicit Fleet(int size) {
    REQUIRE(!dir_.path.empty());
    for (int i = 1; i <= size; ++i) {
      instances_.push_back(
          std::make_unique<ExampleServer>("kv_server", "pool-of-threads", instance_flags(i)));
      // Directly, from an address outside --proxy-protocol-networks (so no header).
      TestClient direct(instances_.back()->port(), "127.0.0.3");
      auto ok = kv_command(direct, "SET instance kv" + std::to_string(i));
      REQUIRE(ok.has_value());
      REQUIRE(ok->text == "OK");
    }
    front_ = free_loopback_port();
    std::vector<std::string> args = {
        std::string(CONNSCHED_TEST_SOURCE_DIR) + "/deploy/haproxy/deploy.sh", "config",
        std::to_string(front_)};
    for (auto& kv : instances_)
      args.push_back(std::to_string(kv->port()) + ":" + std::to_string(kv->admin_port()));
    ToolResult config = run_tool("bash", args);
    REQUIRE_MESSAGE(config.status == 0, config.errors);
    const std::string file = (dir_.path / "haproxy.cfg").string();
    std::ofstream(file) << config.output;
    // Debian puts it in /usr/sbin, which a user's PATH may lack.
    const std::string haproxy =
        ::access("/usr/sbin/haproxy", X_OK) == 0 ? "/usr/sbin/haproxy" : find_tool("haproxy");
    haproxy_ =
        std::make_unique<ServerProcess>(haproxy, std::vector<std::string>{"-f", file, "-db"});
    REQUIRE_MESSAGE(RunningServer::eventually([&] { return serving_instance().has_value(); }, 20s),
                    haproxy_->output());
  }

  // Instance i's flags; a replacement started with them and --inherit-from takes its
  // listeners over its handover socket.
  std::vector<std::string> instance_flags(int i) const {
    return {"--proxy-protocol-networks=127.0.0.1/32", "--shutdown-timeout=20", "--log-level=info",
            "--handover-socket=" + handover_socket(i)};
  }
  std::string handover_socket(int i) const {
    return (dir_.path / ("kv" + std::to_string(i) + ".handover")).string();
  }

  std::uint16_t front() const { return front_; }
  ExampleServer& instance(int i) { return *instances_.at(static_cast<std::size_t>(i - 1)); }
  int size() const { return static_cast<int>(instances_.size()); }
  ServerProcess& haproxy() { return *haproxy_; }

  // Which instance a fresh connection through HAProxy lands on; nullopt if none answers.
  std::optional<std::string> serving_instance() {
    try {
      TestClient client(front_, "127.0.0.2");
      auto who = kv_command(client, "GET instance", 5s);
      if (!who || who->type != '$') return std::nullopt;
      return who->text;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

 private:
  TempDir dir_{"connsched_fleet"};
  std::vector<std::unique_ptr<ExampleServer>> instances_;
  std::uint16_t front_ = 0;
  std::unique_ptr<ServerProcess> haproxy_;
};

// What one client loop saw.
struct LoopTally {
  std::map<std::string, std::vector<long long>> values;  // instance -> INCR replies
  int replies = 0;
  int ended_between = 0;  // the connection ended with no reply owed but the one just sent
  int not_placed = 0;     // a new connection ended before its first reply
  int stalled = 0;        // no reply within 5 s on a live connection
  int errors = 0;         // an error reply
  Clock::time_point last_reply{};
};

// What the test reads while the loops run.
struct Progress {
  std::atomic<bool> stop{false};
  std::atomic<int> replies{0};
  std::atomic<int> ended{0};  // ended_between + not_placed, over all loops
};

// INCR in a loop through HAProxy until `stop`, learning each connection's instance
// first and reconnecting whenever a connection ends.
void client_loop(std::uint16_t front, Progress& progress, LoopTally& tally) {
  const std::atomic<bool>& stop = progress.stop;
  while (!stop.load()) {
    std::optional<TestClient> client;
    try {
      client.emplace(front, "127.0.0.2");
    } catch (const std::exception&) {
      ++tally.not_placed;
      ++progress.ended;
      std::this_thread::sleep_for(10ms);
      continue;
    }
    auto who = kv_command(*client, "GET instance", 5s);
    if (!who) {
      ++tally.not_placed;
      ++progress.ended;
      continue;
    }
    if (who->type != '$') {
      ++tally.errors;
      continue;
    }
    // A replacement started by the test holds no `instance` key: its own store.
    const std::string instance = who->null ? "replacement" : who->text;
    while (!stop.load()) {
      const auto sent = Clock::now();
      auto reply = kv_command(*client, "INCR counter", 5s);
      if (!reply) {
        (Clock::now() - sent >= 4500ms ? tally.stalled : tally.ended_between)++;
        ++progress.ended;
        break;
      }
      if (reply->type != ':') {
        ++tally.errors;
        break;
      }
      tally.values[instance].push_back(std::stoll(reply->text));
      ++tally.replies;
      ++progress.replies;
      tally.last_reply = Clock::now();
    }
  }
}

// Several client loops on their own threads, from construction to stop().
class Load {
 public:
  Load(std::uint16_t front, int clients) : tallies_(static_cast<std::size_t>(clients)) {
    for (auto& tally : tallies_)
      threads_.emplace_back([this, front, &tally] { client_loop(front, progress_, tally); });
  }
  ~Load() { stop(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  int replies() const { return progress_.replies.load(); }
  int ended() const { return progress_.ended.load(); }

  void stop() {
    progress_.stop.store(true);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  const std::vector<LoopTally>& tallies() const { return tallies_; }

  // Sums of every loop's counts, and each instance's replies merged and sorted (after
  // stop()).
  LoopTally total() const {
    LoopTally sum;
    for (const auto& t : tallies_) {
      sum.replies += t.replies;
      sum.ended_between += t.ended_between;
      sum.not_placed += t.not_placed;
      sum.stalled += t.stalled;
      sum.errors += t.errors;
      for (const auto& [instance, values] : t.values)
        sum.values[instance].insert(sum.values[instance].end(), values.begin(), values.end());
    }
    for (auto& [instance, values] : sum.values) std::sort(values.begin(), values.end());
    return sum;
  }

 private:
  Progress progress_;
  std::vector<LoopTally> tallies_;
  std::vector<std::thread> threads_;
};

// True if `sorted` is exactly 1, 2, ..., N.
bool one_to_n(const std::vector<long long>& sorted) {
  for (std::size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] != static_cast<long long>(i) + 1) return false;
  return true;
}

}  // namespace

TEST_CASE(
    "behind HAProxy (deploy/haproxy), connections spread over every instance and each "
    "instance reports the client's own address") {
  Fleet fleet(3);
  std::vector<TestClient> clients;
  std::map<std::string, int> per_instance;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back(fleet.front(), "127.0.0.2");
    auto who = kv_command(clients.back(), "GET instance");
    REQUIRE(who.has_value());
    ++per_instance[who->text];
    auto info = kv_command(clients.back(), "CLIENT INFO");
    REQUIRE(info.has_value());
    CHECK(info->text.find("addr=127.0.0.2:" + std::to_string(clients.back().local_port()) + "\n") !=
          std::string::npos);
  }
  CAPTURE(fleet.haproxy().output());
  // balance leastconn: 12 connections held open over 3 instances, 4 each.
  CHECK(per_instance.size() == 3);
  for (const auto& [instance, count] : per_instance) {
    CAPTURE(instance);
    CHECK(count >= 3);
  }
  for (int i = 1; i <= fleet.size(); ++i) {
    CAPTURE(i);
    HttpReply open = admin(fleet.instance(i), "GET", "/connections");
    CHECK(open.status == 200);
    CHECK(open.body.find("127.0.0.2:") != std::string::npos);
    CHECK(open.body.find("127.0.0.1:") == std::string::npos);  // never HAProxy's own
  }
}

TEST_CASE(
    "POST /drain on one instance under load through HAProxy takes it out of rotation "
    "with no failed request; it exits 0 and the load goes on on the others") {
  Fleet fleet(3);
  Load load(fleet.front(), 6);
  REQUIRE(RunningServer::eventually([&] { return load.replies() >= 300; }, scaled(20s)));
  CHECK(admin(fleet.instance(1), "POST", "/drain").status == 202);
  // Its /health answers 503 at once, so HAProxy marks it DOWN after two checks.
  CHECK(RunningServer::eventually(
      [&] { return fleet.haproxy().output().find(down_line(1)) != std::string::npos; },
      scaled(10s)));
  auto status = fleet.instance(1).process().wait_exit(scaled(30s));
  const auto exited_at = Clock::now();
  // The server's own figure: from POST /drain to its last connection's end.
  if (auto took = number_after(fleet.instance(1).process().output(), "the last connection ended "))
    MESSAGE("kv1: the last connection ended " << *took << " ms after POST /drain");
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  const int before = load.replies();
  CHECK(RunningServer::eventually([&] { return load.replies() >= before + 300; }, scaled(20s)));
  load.stop();
  const LoopTally total = load.total();
  CAPTURE(fleet.haproxy().output());
  CAPTURE(fleet.instance(1).process().output());
  MESSAGE("replies " << total.replies << ", connections ended between requests "
                     << total.ended_between << ", not placed " << total.not_placed);
  CHECK(total.errors == 0);
  CHECK(total.stalled == 0);
  // A connection the drain ended was reopened and placed on a live instance: HAProxy
  // never handed a new connection to the draining one (it stopped accepting first) nor
  // failed to place one.
  CHECK(total.not_placed == 0);
  CHECK(total.values.count("kv1") == 1);
  for (const auto& [instance, values] : total.values) {
    CAPTURE(instance);
    CHECK(one_to_n(values));
  }
  // Every loop went on after kv1 was gone.
  for (const auto& t : load.tallies()) CHECK(t.last_reply > exited_at);
}

TEST_CASE(
    "an instance killed with SIGKILL under load costs only the requests in flight on it; "
    "HAProxy marks it DOWN within its check interval and the load goes on") {
  Fleet fleet(3);
  constexpr int kClients = 6;
  Load load(fleet.front(), kClients);
  REQUIRE(RunningServer::eventually([&] { return load.replies() >= 300; }, scaled(20s)));
  const auto killed_at = Clock::now();
  fleet.instance(2).process().signal(SIGKILL);
  // inter 500 ms, fall 2: about a second, plus the time the check itself takes.
  REQUIRE(RunningServer::eventually(
      [&] { return fleet.haproxy().output().find(down_line(2)) != std::string::npos; },
      scaled(10s)));
  const auto down_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  MESSAGE("HAProxy marked kv2 DOWN " << down_after.count() << " ms after SIGKILL");
  CHECK(down_after < scaled(5s));
  const int ended_at_down = load.ended();
  const int before = load.replies();
  CHECK(RunningServer::eventually([&] { return load.replies() >= before + 300; }, scaled(20s)));
  load.stop();
  const LoopTally total = load.total();
  CAPTURE(fleet.haproxy().output());
  MESSAGE("replies " << total.replies << ", connections ended " << total.ended_between
                     << ", not placed " << total.not_placed);
  CHECK(total.errors == 0);
  CHECK(total.stalled == 0);
  // One request in flight per loop at most: each loop connected to kv2 lost one, and
  // a connection HAProxy had just sent there (before the check saw it) is redispatched.
  CHECK(total.ended_between <= kClients);
  // Once HAProxy knows, nothing more is lost.
  CHECK(total.ended_between + total.not_placed == ended_at_down);
  for (const auto& [instance, values] : total.values) {
    CAPTURE(instance);
    if (instance != "kv2") CHECK(one_to_n(values));
  }
  CHECK(total.values.count("kv1") == 1);
  CHECK(total.values.count("kv3") == 1);
  for (const auto& t : load.tallies()) CHECK(t.last_reply > killed_at + down_after);
}

TEST_CASE(
    "a restart of one instance with --inherit-from under load through HAProxy refuses no "
    "connection and fails no request; HAProxy never marks it DOWN") {
  Fleet fleet(3);
  Load load(fleet.front(), 6);
  REQUIRE(RunningServer::eventually([&] { return load.replies() >= 300; }, scaled(20s)));
  REQUIRE(RunningServer::eventually(
      [&] {
        return fleet.instance(1).process().output().find("handover socket at") != std::string::npos;
      },
      scaled(10s)));
  auto flags = fleet.instance_flags(1);
  flags.push_back("--inherit-from=" + fleet.handover_socket(1));
  ExampleServer replacement("kv_server", "pool-of-threads", flags);
  CHECK(replacement.port() == fleet.instance(1).port());
  CHECK(replacement.admin_port() == fleet.instance(1).admin_port());
  auto status = fleet.instance(1).process().wait_exit(scaled(30s));
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  const auto exited_at = Clock::now();
  const int before = load.replies();
  CHECK(RunningServer::eventually([&] { return load.replies() >= before + 300; }, scaled(20s)));
  // Two check intervals and more: the moved admin port kept answering 200.
  std::this_thread::sleep_for(1500ms);
  load.stop();
  const LoopTally total = load.total();
  CAPTURE(fleet.haproxy().output());
  CAPTURE(fleet.instance(1).process().output());
  CAPTURE(replacement.process().output());
  MESSAGE("replies " << total.replies << ", connections ended between requests "
                     << total.ended_between << ", not placed " << total.not_placed);
  CHECK(fleet.haproxy().output().find(down_line(1)) == std::string::npos);
  CHECK(total.errors == 0);
  CHECK(total.stalled == 0);
  CHECK(total.not_placed == 0);
  for (const auto& [instance, values] : total.values) {
    CAPTURE(instance);
    CHECK(one_to_n(values));
  }
  // The load reached the replacement, and went on after the old process was gone.
  CHECK(total.values.count("replacement") == 1);
  for (const auto& t : load.tallies()) CHECK(t.last_reply > exited_at);
  CHECK(replacement.stop() == 0);
}
