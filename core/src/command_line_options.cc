// File: core/src/command_line_options.cc
#include "command_line_options.h"

#include <fmt/format.h>

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

}  // namespace

// Splits CLI11's leftovers into --name=value / --name value pairs for the backend.
std::map<std::string, std::string> backend_flags(const std::vector<std::string>& extras) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i < extras.size(); ++i) {
    const std::string& arg = extras[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      throw StartupError(fmt::format("unexpected argument '{}'", arg));
    }
    auto eq = arg.find('=');
    if (eq != std::string::npos) {
      out[normalize_option_name(arg.substr(2, eq - 2))] = arg.substr(eq + 1);
    } else if (i + 1 < extras.size() && extras[i + 1].rfind("--", 0) != 0) {
      out[normalize_option_name(arg.substr(2))] = extras[++i];
    } else {
      throw StartupError(fmt::format("option {} needs a value ({}=VALUE)", arg, arg));
    }
  }
  return out;
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
  app.add_option("--bind-address,--bind_address", o.bind_address, "Address to listen on")
      ->capture_default_str();
  app.add_option("--port,-P", o.port, "TCP port (0: any free port, logged at start)")
      ->capture_default_str()
      ->transform(integer_in(0, 65535));
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
                 "Seconds a graceful shutdown (SIGTERM/SIGINT) may take")
      ->capture_default_str()
      ->transform(integer_in(1, 3600));
  app.add_option("--admin-port,--admin_port", o.admin_port,
                 "Admin HTTP port (/stats, /metrics, /kill, /set, /shutdown) served by its own "
                 "thread; 0: any free port (logged at start); not given: no admin port")
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
  app.add_option("--log-level,--log_level", o.log_level, "debug, info, warning or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
}

}  // namespace connsched
