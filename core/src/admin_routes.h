// File: core/src/admin_routes.h
//
// What each admin URL does, as a pure function of the request and the actions the
// server offers, so routing and error statuses are tested without a socket.
#ifndef CONNSCHED_CORE_ADMIN_ROUTES_H_
#define CONNSCHED_CORE_ADMIN_ROUTES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "admin_http.h"
#include "connsched/server.h"

namespace connsched {

/// The server as the admin port sees it.
struct AdminActions {
  std::function<CoreStats()> core_stats;
  std::function<BackendStats()> backend_stats;
  std::function<bool(std::uint64_t id)> kill;  ///< false: no such connection
  /// Returns an error message, empty on success.
  std::function<std::string(const std::string& name, const std::string& value)> set_option;
  std::function<void()> shutdown;
  /// Each open connection's id and client address (the PROXY header's client when there
  /// was one), by id. Null: GET /connections lists none.
  std::function<std::vector<std::pair<std::uint64_t, std::string>>()> connections;
  /// Starts a drain; returns an error message (refused), empty when it began.
  std::function<std::string()> drain;
  /// GET /health's whole reply: 200 while serving, 503 with the reason otherwise.
  std::function<AdminResponse()> health;
  /// POST /set?thread_handling=NAME_OR_PATH[&force=1]. Null: /set treats it as an option.
  std::function<BackendSwitch(const std::string& name_or_path, bool force)> switch_backend;
};

/// GET /stats, GET /metrics, GET /connections, GET /health, POST /kill?id=N, POST
/// /set?name=value, POST /drain, POST /shutdown.
AdminResponse route_admin_request(const AdminRequest& request, const AdminActions& actions);

}  // namespace connsched

#endif  // CONNSCHED_CORE_ADMIN_ROUTES_H_
