// File: core/src/admin_routes.cc
#include "admin_routes.h"

#include <fmt/format.h>

#include "admin_json.h"
#include "admin_metrics.h"
#include "option_values.h"

namespace connsched {

namespace {

AdminResponse error(int status, std::string_view message) {
  return AdminResponse{status, "application/json", json_error(message), {}, {}};
}

AdminResponse ok_json(std::string body, int status = 200) {
  return AdminResponse{status, "application/json", std::move(body), {}, {}};
}

// POST /kill?id=N: a bad id is the client's error (400), a missing connection is 404.
AdminResponse kill_route(const AdminRequest& request, const AdminActions& actions) {
  if (request.query.size() != 1 || request.query[0].first != "id") {
    return error(400, "expected exactly one query parameter: id=<connection id>");
  }
  auto id = parse_int(request.query[0].second);
  if (!id || *id <= 0) {
    return error(400, fmt::format("id: '{}' is not a connection id", request.query[0].second));
  }
  if (!actions.kill(static_cast<std::uint64_t>(*id))) {
    return error(404, fmt::format("no connection with id {}", *id));
  }
  return ok_json(fmt::format("{{\"killed\": {}}}\n", *id));
}

// POST /set?thread_handling=NAME_OR_PATH[&force=1]: a live switch of backends. The reply
// says from what to what and how many connections move; 202 while they still move.
AdminResponse switch_route(const AdminRequest& request, const AdminActions& actions) {
  std::string target;
  bool force = false;
  for (const auto& [name, value] : request.query) {
    if (name == "thread_handling" || name == "thread-handling") {
      target = value;
    } else if (name == "force") {
      auto on = parse_bool(value);
      if (!on) return error(400, fmt::format("force: '{}' is not one of 1|0|on|off", value));
      force = *on;
    } else {
      return error(400,
                   fmt::format("/set?thread_handling= takes only force=1 besides, not '{}'", name));
    }
  }
  if (target.empty()) return error(400, "thread_handling: give a backend name or a path");
  BackendSwitch s = actions.switch_backend(target, force);
  if (!s.error.empty()) return error(s.status, s.error);
  return ok_json(fmt::format("{{\"thread_handling\": {}, \"from\": {}, \"connections\": {}, "
                             "\"moved\": {}, \"elapsed_ms\": {}, \"done\": {}}}\n",
                             json_quote(s.to), json_quote(s.from), s.connections, s.moved,
                             s.elapsed_ms, s.status == 200 ? "true" : "false"),
                 s.status);
}

// POST /set?name=value: core and the backend validate; a refusal is 422 with their reason.
AdminResponse set_route(const AdminRequest& request, const AdminActions& actions) {
  if (actions.switch_backend) {
    for (const auto& [name, value] : request.query) {
      if (name == "thread_handling" || name == "thread-handling") {
        return switch_route(request, actions);
      }
    }
  }
  if (request.query.size() != 1 || request.query[0].first.empty()) {
    return error(400, "expected exactly one query parameter: <option>=<value>");
  }
  const auto& [name, value] = request.query[0];
  std::string why = actions.set_option(name, value);
  if (!why.empty()) return error(422, why);
  return ok_json(
      fmt::format("{{\"name\": {}, \"value\": {}}}\n", json_quote(name), json_quote(value)));
}

}  // namespace

// Unknown path → 404 before the method is looked at; a known path with the wrong
// method → 405 with Allow, as RFC 9110 asks.
AdminResponse route_admin_request(const AdminRequest& request, const AdminActions& actions) {
  struct Route {
    const char* path;
    const char* method;
    const char* what;  // for GET /, which lists them
  };
  static constexpr Route kRoutes[] = {
      {"/", "GET", "this list"},
      {"/stats", "GET", "JSON: core counters, waits by type, the backend's counters and tables"},
      {"/metrics", "GET", "Prometheus text format 0.0.4"},
      {"/connections", "GET", "JSON: each open connection's id and client address"},
      {"/kill", "POST", "?id=N: close connection N"},
      {"/set", "POST",
       "?name=value: change a backend option at run time; ?thread_handling=NAME_OR_PATH"
       "[&force=1]: switch the backend, moving every connection at a request boundary"},
      {"/health", "GET", "200 while serving; 503 with the reason while draining or shutting down"},
      {"/drain", "POST",
       "stop accepting, close each connection at its next request boundary, exit 0 when none "
       "is left or after --shutdown-timeout"},
      {"/shutdown", "POST", "graceful shutdown, as SIGTERM"}};
  const Route* route = nullptr;
  for (const auto& r : kRoutes) {
    if (request.path == r.path) route = &r;
  }
  if (route == nullptr) return error(404, fmt::format("no such admin path: {}", request.path));
  bool head = request.method == "HEAD" && std::string_view(route->method) == "GET";
  if (request.method != route->method && !head) {
    AdminResponse r = error(405, fmt::format("{} takes {}", route->path, route->method));
    r.allow = route->method;
    return r;
  }
  std::string_view path = route->path;
  if (path == "/") {
    // What a newcomer who points curl at the port finds: every endpoint, as JSON.
    std::string body = "{\"endpoints\": [";
    for (const auto& r : kRoutes) {
      body +=
          fmt::format("{}{{\"path\": {}, \"method\": {}, \"what\": {}}}", &r == kRoutes ? "" : ", ",
                      json_quote(r.path), json_quote(r.method), json_quote(r.what));
    }
    return ok_json(body + "]}\n");
  }
  if (path == "/stats") return ok_json(stats_json(actions.core_stats(), actions.backend_stats()));
  if (path == "/metrics") {
    return AdminResponse{200,
                         "text/plain; version=0.0.4; charset=utf-8",
                         stats_prometheus(actions.core_stats(), actions.backend_stats()),
                         {},
                         {}};
  }
  if (path == "/connections") {
    // The client address is the PROXY header's client behind a load balancer.
    std::string body = "{\"connections\": [";
    if (actions.connections) {
      bool first = true;
      for (const auto& [id, client] : actions.connections()) {
        body += fmt::format("{}\n  {{\"id\": {}, \"client\": {}}}", first ? "" : ",", id,
                            json_quote(client));
        first = false;
      }
    }
    return ok_json(body + "]}\n");
  }
  if (path == "/health") {
    if (!request.query.empty()) return error(400, "/health takes no parameters");
    return actions.health ? actions.health() : ok_json("{\"status\": \"serving\"}\n");
  }
  if (path == "/drain") {
    if (!request.query.empty()) return error(400, "/drain takes no parameters");
    if (!actions.drain) return error(409, "this server cannot drain");
    if (std::string why = actions.drain(); !why.empty()) return error(409, why);
    return ok_json("{\"drain\": \"started\"}\n", 202);
  }
  if (path == "/kill") return kill_route(request, actions);
  if (path == "/set") return set_route(request, actions);
  if (!request.query.empty()) return error(400, "/shutdown takes no parameters");
  actions.shutdown();
  return ok_json("{\"shutdown\": \"started\"}\n", 202);
}

}  // namespace connsched
