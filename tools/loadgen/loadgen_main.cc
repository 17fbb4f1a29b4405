// File: tools/loadgen/loadgen_main.cc
//
// connsched_loadgen: drives a RESP, HTTP/1.1 or line server with many connections from
// a few threads, in a closed loop or an open one at a fixed rate, and prints
// throughput, latency percentiles and every error.
//   connsched_loadgen --port=6379 -c 256 --duration=5 --request=PING
//   connsched_loadgen --port=6379 -c 256 --rate=50000 --open-loop --arrivals=poisson --request=PING
//   connsched_loadgen --port=7001 --protocol=http -c 64 --request=/burn?us=200 --json
//   connsched_loadgen --port=6379 -c 64 --request='GET_LOCK lk{rand%4} 5 | INCR n | RELEASE_LOCK
//   lk{rand%4}'
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fd_limit.h"
#include "load_generator.h"
#include "load_report.h"
#include "request_class.h"

namespace {

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

}  // namespace

int main(int argc, char** argv) {
  loadgen::raise_fd_limit();
  loadgen::LoadSpec spec;
  std::string protocol = "resp";
  std::string request;
  std::vector<std::string> mixes;
  double duration = 5, warmup = 1;
  bool json = false;
  std::string arrivals = "constant";
  double timeline_ms = 100;

  CLI::App app{
      "connsched_loadgen: closed- or open-loop, event-driven load for RESP, HTTP/1.1 and line "
      "servers"};
  app.add_option("--host", spec.host, "server IPv4 address")->capture_default_str();
  app.add_option("--port", spec.port, "server port")->required();
  app.add_option("--protocol", protocol, "resp, http or line")
      ->check(CLI::IsMember({"resp", "http", "line"}))
      ->capture_default_str();
  app.add_option("-c,--connections", spec.connections, "active connections")->capture_default_str();
  app.add_option("--pipeline", spec.pipeline, "requests in flight per connection")
      ->capture_default_str();
  app.add_option("--requests", spec.requests,
                 "requests to measure (0: run for --duration; else --duration caps the run)")
      ->capture_default_str();
  app.add_option("--duration", duration, "seconds to measure")->capture_default_str();
  app.add_option("--warmup", warmup, "seconds of load before measuring")->capture_default_str();
  app.add_flag("--churn", spec.churn, "connect, send one request, read the reply, close; repeat");
  app.add_flag("--reconnect", spec.reconnect,
               "a connection the server closes (a drain, a restart, an HTTP 'Connection: "
               "close') is reopened at once and counted as a reconnect, its requests in flight "
               "then as unanswered at close, apart from the errors; a reconnect refused is an "
               "error. Not with --churn");
  app.add_option("--idle", spec.idle_connections, "extra connections held open, silent")
      ->capture_default_str();
  app.add_option("--rate", spec.rate,
                 "requests per second over all connections (churn: connections per second); "
                 "without --open-loop a token bucket caps a closed loop at this rate; 0: closed "
                 "loop, as fast as replies come")
      ->capture_default_str();
  app.add_flag(
      "--open-loop", spec.open_loop,
      "send at intended times (--rate shared by the first request's connections, each on its "
      "own schedule) whether or not replies came, and count latency from the intended time "
      "(corrected for coordinated omission) as well as from the actual send (service time). "
      "A request due while its connection has --pipeline requests in flight waits on the "
      "client and is counted as 'waited'; one still waiting when the run ends is counted "
      "'never sent'. Above what the connections can carry, the achieved rate falls short "
      "of the offered one and both counts grow: they are printed, never dropped. Needs "
      "--rate and --duration; --mix classes stay closed loops");
  app.add_option("--arrivals", arrivals,
                 "open loop: constant spacing per connection, or poisson (exponential gaps)")
      ->check(CLI::IsMember({"constant", "poisson"}))
      ->capture_default_str();
  app.add_option("--seed", spec.seed, "open loop: seed of the phases and Poisson gaps")
      ->capture_default_str();
  app.add_option("--timeline-ms", timeline_ms,
                 "--json: a time series of the measured window in intervals of this many ms "
                 "(completed, p99, errors); 0: none")
      ->capture_default_str();
  app.add_option("--threads", spec.threads, "event-loop threads")->capture_default_str();
  app.add_option(
         "--request", request,
         "the request: a RESP command (PING), an HTTP target (/), or a line. Or a sequence, "
         "steps separated by ' | ' ('GET_LOCK lk{rand%4} 5 | INCR row{rand%4} | RELEASE_LOCK "
         "lk{rand%4}'): sent in order on one connection, each step when the previous one's "
         "reply came, the whole run counted as one request (in an open loop, one scheduled "
         "arrival) and timed from its first send (or intended time) to its last reply; each "
         "step is also timed from its own send to its reply and reported per step. {conn%K} "
         "is the connection's number modulo K, {rand%K} a draw per run modulo K (the same in "
         "every step of the run). A GET_LOCK step answered 0 (its wait timed out, as MySQL's) "
         "is counted as a lock-wait timeout, not an error, and ends the run (the later steps "
         "are not sent, the lock not being held); an error reply ends it too. Sequences need "
         "--pipeline 1 and no --churn")
      ->required();
  app.add_option("--mix", mixes,
                 "REQUEST:N — N of the connections send REQUEST instead (repeatable)");
  app.add_flag("--check-counters", spec.check_counters,
               "the request is an INCR of a key of the connection's own ('INCR c{conn%1000000}' "
               "on a fresh server): each reply must be the last one plus 1, else it counts as "
               "mismatched (a reply lost or out of order)");
  app.add_flag("--json", json, "print one JSON object instead of text");
  CLI11_PARSE(app, argc, argv);

  spec.protocol = *loadgen::protocol_from_name(protocol);
  spec.duration = seconds_to_ms(spec.requests > 0 && app.count("--duration") == 0 ? 0 : duration);
  spec.warmup = seconds_to_ms(warmup);
  spec.arrivals =
      arrivals == "poisson" ? loadgen::Arrivals::kPoisson : loadgen::Arrivals::kConstant;
  if (json) spec.timeline_interval = std::chrono::milliseconds(std::llround(timeline_ms));
  spec.classes.push_back(
      {.name = loadgen::class_name(request), .request = request, .connections = 0});
  for (const auto& mix : mixes) {
    auto cls = loadgen::parse_mix(mix);
    if (!cls) {
      fmt::print(stderr, "connsched_loadgen: --mix '{}': expected REQUEST:COUNT\n", mix);
      return 2;
    }
    spec.classes.push_back(*cls);
  }
  if (auto why = loadgen::check_spec(spec); !why.empty()) {
    fmt::print(stderr, "connsched_loadgen: {}\n", why);
    return 2;
  }
  try {
    const auto result = loadgen::run_load(spec);
    fmt::print("{}", json ? loadgen::format_json(spec, result) + "\n"
                          : loadgen::format_text(spec, result));
    return result.errors() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "connsched_loadgen: {}\n", e.what());
    return 1;
  }
}
