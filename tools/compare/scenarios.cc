// File: tools/compare/scenarios.cc
#include "scenarios.h"

#include <algorithm>

#include "request_sequence.h"

namespace compare_tool {

using std::chrono::milliseconds;

std::vector<Scenario> make_scenarios(bool full, unsigned cores) {
  // The quick version keeps every scenario and connection count and shortens the
  // windows, so the main job covers everything in about three minutes on 2 cores.
  const milliseconds warmup = full ? milliseconds(2000) : milliseconds(300);
  const milliseconds duration = full ? milliseconds(10000) : milliseconds(1000);
  const std::uint32_t two_per_core = std::max(2u, 2 * cores);
  const auto make = [&](std::string name, std::string summary, ServerKind server,
                        std::vector<std::uint32_t> connections, std::string request) {
    Scenario scenario;
    scenario.name = std::move(name);
    scenario.summary = std::move(summary);
    scenario.server = server;
    scenario.connections = std::move(connections);
    scenario.request = std::move(request);
    scenario.warmup = warmup;
    scenario.duration = duration;
    return scenario;
  };
  std::vector<Scenario> out;
  out.push_back(make("ping", "PING, closed loop: dispatch cost and scaling with connections",
                     ServerKind::kKv, {16, 256, 2000, 8000}, "PING"));
  out.back().reference = true;
  // What the listener's fast path buys on the dominant workload: MariaDB's listener.
  const Scenario::Variant listener_off{"listener runs off", {"--thread-pool-listener-runs=off"}};
  out.back().variants = {listener_off};
  out.push_back(make("cpu", "BURN 200 (200 us of CPU per request): fairness and tail latency",
                     ServerKind::kKv, {two_per_core, 2000}, "BURN 200"));
  out.push_back(make("blocking", "SLEEP 10 (a reported 10 ms wait per request)", ServerKind::kKv,
                     {500}, "SLEEP 10"));
  out.push_back(make("mixed", "4 connections send BURN 200000 (200 ms), the rest PING: stalls",
                     ServerKind::kKv, {200}, "PING"));
  out.back().mix =
      loadgen::RequestClass{.name = "burn", .request = "BURN 200000", .connections = 4};
  if (!full) {  // 200 ms requests need a longer window than the others to be seen at all
    out.back().warmup = milliseconds(500);
    out.back().duration = milliseconds(2000);
  }
  // What each of pool-of-threads' mechanisms beyond MariaDB buys: the row with it off.
  const Scenario::Variant queue_age_off{"queue age off", {"--thread-pool-queue-age-limit=0"}};
  const Scenario::Variant demotion_off{"demotion off", {"--thread-pool-demote-long-requests=off"}};
  const Scenario::Variant detection_off{"detection off", {"--thread-pool-unreported-wait-limit=0"}};
  const Scenario::Variant mariadb{
      "as MariaDB",
      {"--thread-pool-queue-age-limit=0", "--thread-pool-demote-long-requests=off",
       "--thread-pool-unreported-wait-limit=0", "--thread-pool-max-threads-reserve=0",
       "--thread-pool-listener-runs=off"}};
  out.back().variants = {queue_age_off, demotion_off, detection_off, mariadb};
  out.push_back(make("unreported",
                     "NAP 10 (a 10 ms sleep the handler does not report): blocking a pool "
                     "must find by itself",
                     ServerKind::kKv, {500}, "NAP 10"));
  out.back().variants = {detection_off};
  // MDEV-38219: with thread_pool_max_threads threads all waiting in GET_LOCK, a holder
  // never gets a thread to release its lock. 64 connections on 4 names keep 8 threads
  // waiting; the GET_LOCK timeout (2 s) is what breaks a deadlock, so the window must
  // be longer than it for the timeouts to show.
  out.push_back(make("locks",
                     "GET_LOCK / INCR / RELEASE_LOCK on 4 names, thread_pool_max_threads=8: "
                     "a lock holder must get a thread to release (MDEV-38219)",
                     ServerKind::kKv, {64},
                     "GET_LOCK lk{rand%4} 2 | INCR row{rand%4} | RELEASE_LOCK lk{rand%4}"));
  out.back().backend_flags = {"--thread-pool-max-threads=8"};
  out.back().variants = {{"reserve 0", {"--thread-pool-max-threads-reserve=0"}}};
  out.back().key_step = "release_lock";
  out.back().warmup = full ? milliseconds(2000) : milliseconds(500);
  out.back().duration = full ? milliseconds(10000) : milliseconds(3000);
  out.push_back(make("idle", "10,000 idle connections plus 50 sending PING: memory and threads",
                     ServerKind::kKv, {50}, "PING"));
  out.back().idle = 10000;
  out.push_back(make("churn", "connect, PING, close, repeat (16 at a time): thread creation",
                     ServerKind::kKv, {16}, "PING"));
  out.back().churn = true;
  out.back().serial_backends_too = true;
  out.push_back(make("http-ping", "GET /, HTTP/1.1 keep-alive: the ping shape over HTTP",
                     ServerKind::kHttp, {16, 256, 2000, 8000}, "/"));
  out.back().reference = true;
  out.back().variants = {listener_off};
  out.push_back(make("http-cpu", "GET /burn?us=200: the cpu shape over HTTP", ServerKind::kHttp,
                     {two_per_core, 2000}, "/burn?us=200"));
  out.push_back(make("proxy",
                     "GET through kv_proxy (pool of 16) vs straight to kv_server vs a proxy "
                     "connection per request: what a pool spares the upstream",
                     ServerKind::kProxy, {2000}, "GET proxy-key"));
  // Issue #16: live switches under a steady pipelined load, every reply checked. The
  // quick version switches 4 times in 4 s; the full one 100 times in 100.5 s.
  out.push_back(
      make("switch",
           "INCR per connection, open loop at half capacity, up to 4 in flight each, while "
           "thread_handling switches every second: what a live switch costs",
           ServerKind::kKv, {500}, "INCR sw{conn%1000000}"));
  out.back().switch_between = {"one-thread-per-connection", "pool-of-threads"};
  out.back().pipeline = 4;
  out.back().check_counters = true;
  out.back().timeline_interval = milliseconds(20);
  out.back().warmup = full ? milliseconds(2000) : milliseconds(500);
  out.back().duration = full ? milliseconds(100500) : milliseconds(4000);
  return out;
}

bool has_lock_wait(const Scenario& scenario) {
  std::string error;
  const auto sequence = loadgen::parse_sequence(scenario.request, error);
  return sequence && sequence->is_sequence() && sequence->has_lock_wait();
}

bool is_sequence(const Scenario& scenario) {
  std::string error;
  const auto sequence = loadgen::parse_sequence(scenario.request, error);
  return sequence && sequence->is_sequence();
}

std::string server_executable(ServerKind kind) {
  switch (kind) {
    case ServerKind::kKv:
      return "kv_server";
    case ServerKind::kProxy:
      return "kv_proxy";
    case ServerKind::kCustom:  // see server_program(): the scenario names its binary
    case ServerKind::kHttp:
      break;
  }
  return "http_server";
}

loadgen::WireProtocol server_protocol(ServerKind kind) {
  switch (kind) {
    case ServerKind::kKv:
    case ServerKind::kProxy:
    case ServerKind::kCustom:  // see scenario_protocol(): the scenario names its protocol
      return loadgen::WireProtocol::kResp;
    case ServerKind::kHttp:
      break;
  }
  return loadgen::WireProtocol::kHttp;
}

}  // namespace compare_tool
