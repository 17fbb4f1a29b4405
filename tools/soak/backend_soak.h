// File: tools/soak/backend_soak.h
//
// One backend's soak: its kv_server (with an admin port), the paced load on it (a
// kept-alive mix and connect churn from the load generator, plus the chaos client),
// and its samples. The runner holds one per backend and drives them side by side.
#ifndef CONNSCHED_SOAK_BACKEND_SOAK_H_
#define CONNSCHED_SOAK_BACKEND_SOAK_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend_catalog.h"
#include "chaos_client.h"
#include "load_spec.h"
#include "server_launcher.h"
#include "soak_sample.h"

namespace soak {

/// What load each backend gets, and for how long.
struct SoakLoad {
  std::chrono::milliseconds duration{30 * 60 * 1000};
  std::uint32_t connections = 40;  ///< kept-alive, sending the mix
  double rate = 1000;              ///< their requests per second, together
  std::uint32_t churn_connections = 4;
  double churn_rate = 60;  ///< connect, INCR, close: connections per second
  ChaosSettings chaos;     ///< port filled in per server
};

/// The kept-alive mix: mostly GET, some SET and INCR, a few small BURN and SLEEP.
loadgen::LoadSpec keepalive_spec(const SoakLoad& load, std::uint16_t port);
/// Connect churn: each request on a new connection.
loadgen::LoadSpec churn_spec(const SoakLoad& load, std::uint16_t port);

class BackendSoak {
 public:
  /// Starts the server; throws std::runtime_error when it does not come up.
  BackendSoak(const compare_tool::BackendUnderTest& backend,
              const compare_tool::LaunchSettings& launch, const std::string& log_path,
              const SoakLoad& load);
  ~BackendSoak();
  BackendSoak(const BackendSoak&) = delete;
  BackendSoak& operator=(const BackendSoak&) = delete;

  /// Starts the load generator's runs and the chaos client; they stop by themselves
  /// after the load's duration (the chaos client when finish_load() is called).
  void start_load();
  /// Samples the server now (`t` seconds into the load) into series().
  void take_sample(double t);
  /// Waits for the load runs to end, stops the chaos client, collects the totals.
  void finish_load();
  /// Polls the descriptor count until it is back to the baseline or `limit` passes.
  void wait_fds_settle(std::chrono::milliseconds limit);
  /// SIGTERM, and the exit status (within 60 s).
  void shutdown();

  const BackendSeries& series() const { return series_; }
  /// Requests answered in all (load generator and transactions), after finish_load().
  std::uint64_t requests() const { return requests_; }
  std::uint64_t errors() const;
  std::uint64_t resets() const { return chaos_ ? chaos_->resets() : resets_; }
  std::uint64_t churn_connections() const { return churn_connects_; }

 private:
  SoakLoad load_;
  compare_tool::LaunchedServer server_;
  BackendSeries series_;
  loadgen::LoadProgress keepalive_progress_;
  loadgen::LoadProgress churn_progress_;
  std::optional<loadgen::LoadResult> keepalive_result_;
  std::optional<loadgen::LoadResult> churn_result_;
  std::string keepalive_failure_;  ///< why a load run threw (written by its thread)
  std::string churn_failure_;
  std::unique_ptr<ChaosClient> chaos_;
  std::uint64_t requests_ = 0;
  std::uint64_t final_errors_ = 0;
  std::uint64_t resets_ = 0;
  std::uint64_t churn_connects_ = 0;
  bool finished_ = false;
  std::vector<std::jthread> load_threads_;  // last: they write the results above
};

}  // namespace soak

#endif  // CONNSCHED_SOAK_BACKEND_SOAK_H_
