// File: tools/compare/scenarios.h
//
// The comparison's scenarios: which server, which load, at which connection counts,
// for how long — each in a quick version (the main job) and a full one (--full).
#ifndef CONNSCHED_COMPARE_SCENARIOS_H_
#define CONNSCHED_COMPARE_SCENARIOS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "load_spec.h"

namespace compare_tool {

/// kProxy: kv_proxy in front of a kv_server upstream, started together per measurement.
/// kCustom: the user's own connsched server (`server_path`, `protocol`).
enum class ServerKind { kKv, kHttp, kProxy, kCustom };

struct Scenario {
  std::string name;     ///< "ping", "http-cpu"
  std::string summary;  ///< one line: what it shows
  ServerKind server = ServerKind::kKv;
  std::vector<std::uint32_t> connections;
  std::string request;                       ///< what every active connection sends
  std::optional<loadgen::RequestClass> mix;  ///< a few connections send this instead
  std::uint32_t idle = 0;                    ///< extra idle connections
  bool churn = false;
  bool reference = false;            ///< add redis-server / nginx when installed
  bool serial_backends_too = false;  ///< no-threads takes part (one connection at a time)
  /// kProxy: the upstream kv_server's backend, and the proxy's pool size in the pooled rows.
  std::string upstream_backend = "pool-of-threads";
  std::uint32_t upstream_pool = 16;
  /// Extra rows: a backend that declares every option of a variant also runs with its
  /// flags ("--thread-pool-queue-age-limit=0"), labelled "<backend> (<label>)".
  struct Variant {
    std::string label;
    std::vector<std::string> flags;
  };
  std::vector<Variant> variants;
  /// Flags every backend that declares them runs with, in every row of the scenario
  /// ("--thread-pool-max-threads=8"); a --server-option of the same name wins.
  std::vector<std::string> backend_flags;
  /// A sequence's step ("release_lock") whose p99 the table, CSV and chart report beside
  /// the whole run's; empty: none singled out.
  std::string key_step;
  /// The switch scenario: the server starts under the first of these and is switched to
  /// the next (round robin) every `switch_every`, the first `switch_every / 2` into the
  /// measured window; its connections may have `pipeline` requests in flight in an open
  /// loop at half the slower backend's closed-loop capacity (one request at a time),
  /// every reply checked
  /// (LoadSpec::check_counters). Empty: not a switch scenario.
  std::vector<std::string> switch_between;
  std::chrono::milliseconds switch_every{1000};
  std::uint32_t pipeline = 1;
  bool check_counters = false;
  /// The timeline's interval (the switch scenario's is short: a switch lasts ms).
  std::chrono::milliseconds timeline_interval{100};
  std::chrono::milliseconds warmup{1000};
  std::chrono::milliseconds duration{5000};
  /// kCustom: the server binary and the protocol the load speaks to it.
  std::string server_path;
  loadgen::WireProtocol protocol = loadgen::WireProtocol::kResp;
};

/// Every scenario; `full` picks the long version, `cores` sizes the cpu scenario.
std::vector<Scenario> make_scenarios(bool full, unsigned cores);

/// Whether the scenario's request is a sequence with a GET_LOCK step, so its rows
/// report lock-wait timeouts.
bool has_lock_wait(const Scenario& scenario);

/// Whether the scenario's request is a sequence of steps.
bool is_sequence(const Scenario& scenario);

/// The executable name of a server kind ("kv_server") and its protocol.
std::string server_executable(ServerKind kind);
loadgen::WireProtocol server_protocol(ServerKind kind);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_SCENARIOS_H_
