// File: tools/compare/custom_scenario.h
//
// Scenarios for the user's own connsched server: any server binary built on connsched
// (they all take core's --port, --thread-handling, --max-connections and --log-level)
// under each backend, with a load named on the command line (--server, --protocol,
// --request, --mix) or in a scenario file of several loads (JSON, read by nlohmann/json:
// https://github.com/nlohmann/json).
#ifndef CONNSCHED_COMPARE_CUSTOM_SCENARIO_H_
#define CONNSCHED_COMPARE_CUSTOM_SCENARIO_H_

#include <string>
#include <vector>

#include "scenarios.h"

namespace compare_tool {

/// What the command line says about one custom load.
struct CustomLoad {
  std::string name;  ///< empty: the server's file name
  std::string server_path;
  std::string protocol = "resp";  ///< resp, http or line
  std::string request;
  std::vector<std::string> mixes;  ///< "REQUEST:COUNT"
  std::vector<std::uint32_t> connections{16};
};

/// The scenario of one custom load, or an error line (`error` set, the result unused).
Scenario custom_scenario(const CustomLoad& load, bool full, std::string& error);

/// Every load in a scenario file:
///   {"scenarios": [{"name": "echo", "server": "build/release/bin/echo_server",
///     "protocol": "line", "request": "hello", "mix": ["BIG:2"], "connections": [8, 64],
///     "duration": 2, "warmup": 0.5, "idle": 0, "summary": "...",
///     "backend_flags": ["--thread-pool-max-threads=8"], "key_step": "release_lock"}]}
/// (or the array alone). Unknown keys, missing ones and wrong types are errors: one
/// line in `error`, naming the file and the scenario.
std::vector<Scenario> read_scenario_file(const std::string& path, bool full, std::string& error);

/// The binary a scenario runs: its own for a custom one, else `bin_dir`/kv_server etc.
std::string server_program(const Scenario& scenario, const std::string& bin_dir);

/// The protocol a scenario's load speaks.
loadgen::WireProtocol scenario_protocol(const Scenario& scenario);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_CUSTOM_SCENARIO_H_
