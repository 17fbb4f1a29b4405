// File: tools/compare/server_launcher.h
//
// Starting one server for one measurement, on a loopback port, and learning the port:
// a connsched server logs it ("listening on 127.0.0.1:PORT"); redis-server and nginx
// are given a free port and polled until they accept.
#ifndef CONNSCHED_COMPARE_SERVER_LAUNCHER_H_
#define CONNSCHED_COMPARE_SERVER_LAUNCHER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend_catalog.h"
#include "child_process.h"
#include "scenarios.h"

namespace compare_tool {

struct LaunchedServer {
  std::shared_ptr<ChildProcess>
      process;  ///< shared: the proxy scenario's direct row has one server in two roles
  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;  ///< when started with --admin-port=0
  std::string error;             ///< why it did not start (process is then null)
};

struct LaunchSettings {
  std::string bin_dir;   ///< where kv_server and http_server are
  std::string work_dir;  ///< where logs and reference-server configs go
  std::uint32_t max_connections = 20000;
  std::vector<int> server_cpus;  ///< every server runs on these; empty: anywhere
};

/// Starts `backend` serving `scenario`'s protocol, its output in `log_path`.
LaunchedServer launch_server(const BackendUnderTest& backend, const Scenario& scenario,
                             const LaunchSettings& settings, const std::string& log_path);

/// The port of the first "listening on ADDRESS:PORT" line that is not the admin
/// port's, in a server's log text; nullopt if there is none yet. Pure, for tests.
std::optional<std::uint16_t> parse_listening_port(const std::string& log_text);

/// The port of the "admin port listening on ADDRESS:PORT" line; nullopt if none yet.
std::optional<std::uint16_t> parse_admin_port(const std::string& log_text);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_SERVER_LAUNCHER_H_
