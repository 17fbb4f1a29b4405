// File: core/src/command_line.cc
//
// run_server_main: the flags every server shares (CLI11), the backend's own flags
// (declared by the backend, checked by core), signals, and exit statuses.
#include <fmt/format.h>
#include <signal.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <thread>

#include "admin_auth.h"
#include "connsched/server.h"
#include "option_values.h"
#include "plugin_loader.h"

namespace connsched {

namespace {

constexpr int kExitBadStart = 2;

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

// An integer flag's check: says "not an integer" or "out of range", not CLI11's
// one message for both.
CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        auto value = parse_int(text);
        if (!value) return fmt::format("'{}' is not an integer", text);
        if (*value < min || *value > max) {
          return fmt::format("{} is out of range [{}, {}]", *value, min, max);
        }
        return {};
      },
      fmt::format("INT in [{}, {}]", min, max));
}

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
      ->check(integer_in(0, 65535));
  app.add_option("--max-connections,--max_connections", o.max_connections,
                 "Connections served at once; more are refused with the protocol's error")
      ->capture_default_str()
      ->check(integer_in(1, 1000000));
  app.add_option("--wait-timeout,--wait_timeout", o.wait_timeout,
                 "Seconds a connection may sit idle before it is closed")
      ->capture_default_str()
      ->check(integer_in(1, 31536000));
  app.add_option("--net-write-timeout,--net_write_timeout", o.net_write_timeout,
                 "Seconds a reply may wait for a client that does not read")
      ->capture_default_str()
      ->check(integer_in(1, 31536000));
  app.add_option("--max-request-size,--max_request_size", o.max_request_size,
                 "Largest request in bytes; a larger one gets an error and a close")
      ->capture_default_str()
      ->check(integer_in(16, std::int64_t{1} << 32));
  app.add_option("--shutdown-timeout,--shutdown_timeout", o.shutdown_timeout,
                 "Seconds a graceful shutdown (SIGTERM/SIGINT) may take")
      ->capture_default_str()
      ->check(integer_in(1, 3600));
  app.add_option("--admin-port,--admin_port", o.admin_port,
                 "Admin HTTP port (/stats, /metrics, /kill, /set, /shutdown) served by its own "
                 "thread; 0: any free port (logged at start); not given: no admin port")
      ->check(integer_in(0, 65535));
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

// The backend's own options, for --help; silent when it cannot be loaded.
std::string backend_help(const ServerOptions& o) {
  try {
    std::string dir = o.plugin_dir.empty() ? default_plugin_dir() : o.plugin_dir;
    std::string text = fmt::format("\nBackends in {}: ", dir);
    auto names = available_backends(dir);
    for (std::size_t i = 0; i < names.size(); ++i) text += (i ? ", " : "") + names[i];
    LoadedScheduler loaded = load_scheduler(o.thread_handling, dir);
    text += fmt::format("\n\nOptions of backend '{}' ({}):\n", loaded.table.name,
                        loaded.table.description ? loaded.table.description : "");
    text += loaded.options.empty() ? "  (none)\n" : describe_options(loaded.options);
    return text;
  } catch (const std::exception& e) {
    return fmt::format("\n(backend options unavailable: {})\n", e.what());
  }
}

}  // namespace

int run_server_main(int argc, char** argv, const ServerSpec& spec) {
  ServerOptions options;
  options.program_name = spec.name;
  options.port = spec.default_port;
  CLI::App app(spec.description, spec.name);
  app.allow_extras();
  app.set_help_flag();  // handled below, after the backend is known
  bool help = false;
  app.add_flag("--help,-h", help, "Print this help and exit");
  std::string token_file;
  add_core_options(app, options, token_file);
  if (spec.add_options) spec.add_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", spec.name.c_str(), e.what());
    return kExitBadStart;
  }
  if (help) {
    std::printf("%s%s", app.help().c_str(), backend_help(options).c_str());
    return 0;
  }

  // Signals go to one thread: block them everywhere before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<Server> server;
  try {
    options.backend_options = backend_flags(app.remaining());
    if (!token_file.empty()) {
      if (!options.admin_token.empty()) {
        throw StartupError("--admin-token and --admin-token-file: give one, not both");
      }
      options.admin_token = read_admin_token_file(token_file);
    }
    server = std::make_unique<Server>(options, spec.make_protocol());
  } catch (const StartupError& e) {
    std::fprintf(stderr, "%s: %s\n", spec.name.c_str(), e.what());
    return kExitBadStart;
  }

  std::jthread signal_thread([&, signals](std::stop_token stop) {
    int received = 0;
    while (!stop.stop_requested()) {
      timespec tick{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig <= 0) continue;
      if (sig == SIGHUP) {
        if (!server->reload()) {
          std::fprintf(stderr, "%s: SIGHUP ignored (the backend has nothing to reload)\n",
                       spec.name.c_str());
        }
        continue;
      }
      if (++received > 1) {
        std::fprintf(stderr, "%s: second signal: exiting at once\n", spec.name.c_str());
        std::_Exit(1);
      }
      std::fprintf(stderr, "%s: %s: shutting down gracefully (send it again to stop at once)\n",
                   spec.name.c_str(), sig == SIGTERM ? "SIGTERM" : "SIGINT");
      server->request_shutdown();
    }
  });

  int status = 0;
  try {
    status = server->run();
  } catch (const StartupError& e) {
    std::fprintf(stderr, "%s: %s\n", spec.name.c_str(), e.what());
    status = kExitBadStart;
  }
  signal_thread.request_stop();
  signal_thread.join();
  server.reset();
  return status;
}

}  // namespace connsched
