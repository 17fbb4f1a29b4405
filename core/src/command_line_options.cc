// File: core/src/command_line_options.cc
#include "command_line_options.h"

#include <fmt/format.h>

#include <algorithm>

#include "option_values.h"

namespace connsched {

namespace {

// An integer flag's check: says "not an integer" or "out of range", not CLI11's
// one message for both. It is a transform (used with ->transform, not ->check) that
// rewrites the text as the decimal it checked, because CLI11 converts "010" as octal:
// checked as 10 but stored as 8, "--max-request-size=016" stored 14, below its minimum.
CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        auto value = parse_int(text);
        if (!value) return fmt::format("'{}' is not an integer", text);
        if (*value < min || *value > max) {
          return fmt::format("{} is out of range [{}, {}]", *value, min, max);
        }
        text = std::to_string(*value);
        return {};
      },
      fmt::format("INT in [{}, {}]", min, max));
}

// "thread_pool_size" as the user types it: "thread-pool-size".
std::string dashed_name(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

}  // namespace

// mysqld's reading of a command line (my_getopt): a bool needs no value, and
// --skip-/--disable- turn one off, so `--thread-pool-dedicated-listener` works as the
// MariaDB documentation writes it. Only the declarations tell a bool from the rest, so
// this runs once the backend is loaded.
BackendFlags backend_flags(const std::vector<std::string>& extras,
                           const std::vector<connsched_option_desc>& declared) {
  BackendFlags out;
  const auto is_bool = [](const connsched_option_desc* o) {
    return o != nullptr && o->type == CONNSCHED_OPTION_BOOL;
  };
  for (std::size_t i = 0; i < extras.size(); ++i) {
    const std::string& arg = extras[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw StartupError(fmt::format("unexpected argument '{}'", arg));
    }
    const auto eq = arg.find('=');
    const std::string given = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
    const std::string name = normalize_option_name(given);
    const connsched_option_desc* option = find_option(declared, name);
    if (option == nullptr) {
      for (std::string_view prefix : {"skip_", "disable_"}) {
        if (!name.starts_with(prefix)) continue;
        const std::string base = name.substr(prefix.size());
        if (!is_bool(find_option(declared, base))) continue;
        if (eq != std::string::npos) {
          throw StartupError(fmt::format("--{} takes no value (it means --{}=off)", given,
                                         given.substr(prefix.size())));
        }
        out.values[base] = "off";
        option = find_option(declared, base);
        break;
      }
      if (option == nullptr) out.unknown.push_back(dashed_name(name));
      continue;
    }
    if (eq != std::string::npos) {
      out.values[name] = arg.substr(eq + 1);
    } else if (is_bool(option)) {
      out.values[name] = "on";
    } else if (i + 1 < extras.size() && extras[i + 1].rfind("--", 0) != 0) {
      out.values[name] = extras[++i];
    } else {
      throw StartupError(fmt::format("option {} needs a value ({}=VALUE)", arg, arg));
    }
  }
  return out;
}

// Optimal string alignment distance: "prot" is one edit from "port", as a typist sees it.
std::string closest_name(std::string_view name, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& candidate : known) {
    const std::size_t n = name.size(), m = candidate.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
    for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
      for (std::size_t j = 1; j <= m; ++j) {
        const std::size_t cost = name[i - 1] == candidate[j - 1] ? 0 : 1;
        d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
        if (i > 1 && j > 1 && name[i - 1] == candidate[j - 2] && name[i - 2] == candidate[j - 1]) {
          d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    if (d[n][m] < best_distance) {
      best_distance = d[n][m];
      best = candidate;
    }
  }
  return best;
}

// mysqld's names (dashes or underscores); every value is checked by CLI11 here, so a bad
// one is refused with one line before anything starts. The token file's path is kept
// apart: reading it (and refusing one other users may read) is the caller's job.
void add_core_options(CLI::App& app, ServerOptions& o, std::string& token_file) {
  app.add_option("--thread-handling,--thread_handling", o.thread_handling,
                 "Scheduler backend: a name in --plugin-dir (no-threads, "
                 "one-thread-per-connection, pool-of-threads, ...) or a path to a .so")
      ->capture_default_str();
  app.add_option("--plugin-dir,--plugin_dir", o.plugin_dir,
                 "Folder of scheduler backends (default: the build's or install's)");
  app.add_option("--bind-address,--bind_address", o.bind_address,
                 "IPv4 or IPv6 address to listen on (:: also takes IPv4)")
      ->capture_default_str();
  app.add_option("--port,-P", o.port, "TCP port (0: any free port, logged at start)")
      ->capture_default_str()
      ->transform(integer_in(0, 65535));
  app.add_flag("--reuse-port,--reuse_port", o.reuse_port,
               "Open the listener with SO_REUSEPORT, so several server processes share the "
               "port and the kernel spreads connections over them");
  app.add_option("--proxy-protocol-networks,--proxy_protocol_networks", o.proxy_protocol_networks,
                 "Peers whose connections must begin with a PROXY protocol v1/v2 header (its "
                 "address becomes the client's): comma-separated IPv4/IPv6 addresses or CIDR "
                 "networks, localhost, or *; a PROXY header from elsewhere is refused; default: "
                 "none");
  app.add_option("--connect-timeout,--connect_timeout", o.connect_timeout,
                 "Seconds a connection from --proxy-protocol-networks may take to send its "
                 "PROXY header; then it is closed")
      ->capture_default_str()
      ->transform(integer_in(1, 3600));
  app.add_option("--max-connections,--max_connections", o.max_connections,
                 "Connections served at once; more are refused with the protocol's error")
      ->capture_default_str()
      ->transform(integer_in(1, 1000000));
  app.add_option("--wait-timeout,--wait_timeout", o.wait_timeout,
                 "Seconds a connection may sit idle before it is closed")
      ->capture_default_str()
      ->transform(integer_in(1, 31536000));
  app.add_option("--net-write-timeout,--net_write_timeout", o.net_write_timeout,
                 "Seconds a reply may wait for a client that does not read")
      ->capture_default_str()
      ->transform(integer_in(1, 31536000));
  app.add_option("--max-request-size,--max_request_size", o.max_request_size,
                 "Largest request in bytes; a larger one gets an error and a close")
      ->capture_default_str()
      ->transform(integer_in(16, std::int64_t{1} << 32));
  app.add_option("--request-timeout,--request_timeout", o.request_timeout,
                 "Seconds a request may take to arrive in full from its first byte; then the "
                 "protocol's error and a close")
      ->capture_default_str()
      ->transform(integer_in(1, 31536000));
  app.add_option("--max-output-buffer,--max_output_buffer", o.max_output_buffer,
                 "Bytes of unsent replies a connection may hold; a reply past it closes the "
                 "connection")
      ->capture_default_str()
      ->transform(integer_in(1024, std::int64_t{1} << 40));
  app.add_option("--output-buffer-soft-limit,--output_buffer_soft_limit",
                 o.output_buffer_soft_limit,
                 "Unsent replies above this many bytes for --output-buffer-soft-seconds close "
                 "the connection; 0: no soft limit")
      ->capture_default_str()
      ->transform(integer_in(0, std::int64_t{1} << 40));
  app.add_option("--output-buffer-soft-seconds,--output_buffer_soft_seconds",
                 o.output_buffer_soft_seconds, "Seconds the soft output limit may be exceeded")
      ->capture_default_str()
      ->transform(integer_in(1, 31536000));
  app.add_option("--max-connection-memory,--max_connection_memory", o.max_connection_memory,
                 "Bytes all connections' buffers may hold together; past it the connections "
                 "holding most are closed first")
      ->capture_default_str()
      ->transform(integer_in(std::int64_t{1} << 20, std::int64_t{1} << 50));
  app.add_option("--shutdown-timeout,--shutdown_timeout", o.shutdown_timeout,
                 "Seconds a graceful shutdown (SIGTERM/SIGINT) or a drain (POST /drain) may take")
      ->capture_default_str()
      ->transform(integer_in(1, 3600));
  app.add_option(
         "--admin-port,--admin_port", o.admin_port,
         "Admin HTTP port (/stats, /metrics, /health, /kill, /set, /drain, /shutdown) served "
         "by its own thread; 0: any free port (logged at start); not given: no admin "
         "port")
      ->transform(integer_in(0, 65535));
  app.add_option("--admin-bind-address,--admin_bind_address", o.admin_bind_address,
                 "Address the admin port listens on")
      ->capture_default_str();
  app.add_option("--admin-token,--admin_token", o.admin_token,
                 "Token every admin request must carry (Authorization: Bearer TOKEN); visible "
                 "in ps, so prefer --admin-token-file");
  app.add_option("--admin-token-file,--admin_token_file", token_file,
                 "File whose first line is the admin token (must not be readable by other "
                 "users)");
  app.add_option("--handover-socket,--handover_socket", o.handover_socket,
                 "AF_UNIX socket PATH on which this server hands its listeners (main and "
                 "admin) to a new process started with --inherit-from=PATH, then drains");
  app.add_option("--inherit-from,--inherit_from", o.inherit_from,
                 "Take the listeners from the server whose --handover-socket is PATH instead "
                 "of binding (a restart that refuses no connection); that server drains once "
                 "this one serves");
  app.add_option("--log-level,--log_level", o.log_level, "debug, info, warning or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
}

}  // namespace connsched
