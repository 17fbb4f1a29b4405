// File: tools/compare/compare_runner.h
//
// One measurement from start to end: start the server, load it while sampling its
// memory, threads and CPU from /proc, stop it with SIGTERM and check it exits 0.
#ifndef CONNSCHED_COMPARE_COMPARE_RUNNER_H_
#define CONNSCHED_COMPARE_COMPARE_RUNNER_H_

#include <string>

#include "backend_catalog.h"
#include "compare_row.h"
#include "scenarios.h"
#include "server_launcher.h"

namespace compare_tool {

struct RunSettings {
  LaunchSettings launch;
  std::uint32_t loadgen_threads = 2;
  std::string log_dir;  ///< one server log per measurement
};

/// One measurement: a closed loop when `offered_rate` is 0, else an open loop offering
/// that many first-class requests per second (constant spacing per connection).
CompareRow run_measurement(const Scenario& scenario, std::uint32_t connections,
                           const BackendUnderTest& backend, const RunSettings& settings,
                           double offered_rate = 0);

/// The server name a row reports for this backend and scenario.
std::string server_name(const BackendUnderTest& backend, const Scenario& scenario);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_COMPARE_RUNNER_H_
