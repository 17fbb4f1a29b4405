// File: core/src/command_line.cc
//
// run_server_main: the flags every server shares (CLI11), the backend's own flags
// (declared by the backend, checked by core), signals, and exit statuses.
#include <fmt/format.h>
#include <signal.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "admin_auth.h"
#include "command_line_options.h"
#include "connsched/server.h"
#include "defaults_file.h"
#include "log.h"
#include "option_listing.h"
#include "option_values.h"
#include "plugin_loader.h"

namespace connsched {

namespace {

constexpr int kExitBadStart = 2;

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

// Why a flag nobody declared is refused: named for what it is (an unknown option, with
// the nearest known one), and blamed on the backend only when another backend in the
// folder does declare it.
std::string unknown_flag_message(const std::string& flag, const CLI::App& app,
                                 const LoadedScheduler& chosen, const std::string& dir) {
  const std::string name = normalize_option_name(flag);
  std::vector<std::string> takers;
  for (const auto& other : available_backends(dir)) {
    if (other == chosen.table.name) continue;
    try {
      if (find_option(load_scheduler(other, dir).options, name) != nullptr) takers.push_back(other);
    } catch (const StartupError&) {
      // A backend that does not load declares nothing.
    }
  }
  if (!takers.empty()) {
    std::string list;
    for (const auto& t : takers) list += (list.empty() ? "" : ", ") + t;
    return fmt::format("backend '{}' does not take --{}; {} {}", chosen.table.name, flag, list,
                       takers.size() == 1 ? "does" : "do");
  }
  std::vector<std::string> known;
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& long_name : option->get_lnames()) {
      if (long_name.find('_') == std::string::npos) known.push_back(long_name);
    }
  }
  for (const auto& o : chosen.options) {
    std::string dashed = o.name;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    known.push_back(dashed);
  }
  const std::string near = closest_name(flag, known);
  return near.empty()
             ? fmt::format("unknown option --{} (--help lists every option)", flag)
             : fmt::format("unknown option --{}; did you mean --{}? (--help lists every option)",
                           flag, near);
}

// The backend's flags a defaults file gives, each checked against the backend's
// declarations here, so that an unknown one or a bad value names its file and line.
std::map<std::string, std::string> backend_values_from(const DefaultsFile& file,
                                                       const std::vector<DefaultsEntry>& entries,
                                                       const CLI::App& app,
                                                       const LoadedScheduler& chosen,
                                                       const std::string& dir) {
  std::map<std::string, std::string> values;
  for (const DefaultsEntry& entry : entries) {
    std::string dashed = entry.name;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    // A bare "skip-name" line reads as "true": mysqld's way to turn a bool off.
    const bool bare_negation = entry.value == "true" && (entry.name.starts_with("skip_") ||
                                                         entry.name.starts_with("disable_"));
    const std::string arg =
        bare_negation ? "--" + dashed : fmt::format("--{}={}", dashed, entry.value);
    BackendFlags one;
    try {
      one = backend_flags({arg}, chosen.options);
    } catch (const StartupError& e) {
      throw StartupError(file.where(entry) + e.what());
    }
    if (!one.unknown.empty()) {
      throw StartupError(file.where(entry) +
                         unknown_flag_message(one.unknown.front(), app, chosen, dir));
    }
    for (auto& [name, value] : one.values) {
      if (const auto* option = find_option(chosen.options, name)) {
        if (std::string why = check_option_value(*option, value); !why.empty())
          throw StartupError(file.where(entry) + why);
      }
      values[name] = value;
    }
  }
  return values;
}

// SIGHUP without a defaults file to read again: the backend's reload (process-pool
// replaces its workers), or one line saying there is nothing to reload.
void reload_backend(Server& server, Logger& logger) {
  if (!server.reload()) {
    logger.log(LogLevel::kWarning, "SIGHUP ignored (the backend has nothing to reload)");
  }
}

// SIGHUP with --defaults-file: the operator edited the file and asks the server to take
// it, as nginx's reload does. thread_handling is the setting a running server can take:
// when the file names another backend than the one serving, the server switches to it
// live (as POST /set does), with the file's options for that backend and the command
// line's still winning, as at start-up. When it names the serving backend, or none, or
// the command line gave --thread-handling (which wins over the file), SIGHUP is the
// backend's reload as without a file. Every other setting takes effect at the next
// start. A file that no longer reads, a backend that does not load, or an option that
// backend does not take is logged with its file and line, and changes nothing.
void reread_defaults_file(Server& server, const CLI::App& app, const std::string& path,
                          const std::string& server_name, const std::string& dir,
                          bool thread_handling_given,
                          const std::map<std::string, std::string>& command_line_flags,
                          Logger& logger) {
  DefaultsFile file;
  try {
    file = read_defaults_file(path, server_name);
  } catch (const StartupError& e) {
    logger.log(LogLevel::kError, "SIGHUP: {}; nothing changed", e.what());
    return;
  }
  const DefaultsEntry* named = nullptr;
  std::vector<DefaultsEntry> backend_entries;
  for (const DefaultsEntry& entry : file.entries) {
    std::string dashed = entry.name;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    if (entry.name == "thread_handling") {
      named = &entry;
    } else if (app.get_option_no_throw("--" + dashed) == nullptr) {
      backend_entries.push_back(entry);
    }
  }
  if (named != nullptr && thread_handling_given) {
    logger.log(LogLevel::kInfo,
               "SIGHUP: {}thread_handling is also given on the command line, which wins; "
               "not switching",
               file.where(*named));
    named = nullptr;
  }
  if (named == nullptr) return reload_backend(server, logger);
  std::map<std::string, std::string> values;
  try {
    LoadedScheduler chosen;
    try {
      chosen = load_scheduler(named->value, dir);
    } catch (const StartupError& e) {
      throw StartupError(file.where(*named) + e.what());
    }
    if (chosen.path == server.backend_path()) return reload_backend(server, logger);
    values = backend_values_from(file, backend_entries, app, chosen, dir);
  } catch (const StartupError& e) {
    logger.log(LogLevel::kError, "SIGHUP: {}; still serving with thread_handling '{}'", e.what(),
               server.backend_name());
    return;
  }
  for (const auto& [name, value] : command_line_flags) values[name] = value;  // CLI wins
  logger.log(LogLevel::kInfo, "SIGHUP: {}thread_handling = {}: switching from '{}'",
             file.where(*named), named->value, server.backend_name());
  // Not waited for: the switch logs its refusal, its progress and its end itself.
  server.switch_backend(named->value, /*force=*/false, std::chrono::milliseconds(0), &values);
}

// --list-options=json: exit 0 with the listing, or 2 when the backend cannot be loaded
// (the listing still names core's options and says why).
int list_options_json(const std::string& name, const CLI::App& app,
                      const std::set<std::string>& core_names, const ServerOptions& o) {
  std::string dir = o.plugin_dir.empty() ? default_plugin_dir() : o.plugin_dir;
  try {
    LoadedScheduler loaded = load_scheduler(o.thread_handling, dir);
    std::printf("%s", options_json(name, app, core_names, &loaded, "").c_str());
    return 0;
  } catch (const std::exception& e) {
    std::printf("%s", options_json(name, app, core_names, nullptr, e.what()).c_str());
    return kExitBadStart;
  }
}

}  // namespace

int run_server_main(int argc, char** argv, const ServerSpec& spec) {
  ServerOptions options;
  options.program_name = spec.name;
  // Every line this function writes has the server's prefix (time, name, level), as the
  // server's own lines do; errors before --log-level is known are errors at any level.
  Logger logger(spec.name);
  options.port = spec.default_port;
  CLI::App app(spec.description, spec.name);
  app.allow_extras();
  app.set_help_flag();  // handled below, after the backend is known
  bool help = false;
  app.add_flag("--help,-h", help, "Print this help and exit");
  std::string list_options;
  app.add_option("--list-options", list_options,
                 "Print every option (core's and the backend's) in a machine-readable form "
                 "and exit")
      ->check(CLI::IsMember({"json"}));
  std::string defaults_path;
  app.add_option("--defaults-file,--defaults_file", defaults_path,
                 "Read settings from FILE (INI or TOML): [connsched] for every server, [" +
                     spec.name +
                     "] for this one (wins over [connsched]); flags on the command line win");
  std::string token_file;
  add_core_options(app, options, token_file);
  std::set<std::string> core_names;
  for (const CLI::Option* option : app.get_options()) core_names.insert(option->get_single_name());
  if (spec.add_options) spec.add_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    logger.log(LogLevel::kError, "{} (see --help)", e.what());
    return kExitBadStart;
  }
  // Asked before the file's settings land, which count as given too (SIGHUP needs it).
  const bool thread_handling_given = app.count("--thread-handling") > 0;
  // The file's settings land before --help and the backend's loading: they may name the
  // backend (thread_handling) and its folder.
  DefaultsFile defaults;
  std::vector<DefaultsEntry> defaults_rest;
  if (app.count("--defaults-file") > 0) {
    try {
      if (defaults_path.empty()) throw StartupError("--defaults-file: an empty path");
      defaults = read_defaults_file(defaults_path, spec.name);
      defaults_rest = apply_defaults(app, defaults, {"help", "list_options", "defaults_file"});
    } catch (const StartupError& e) {
      logger.log(LogLevel::kError, "{}", e.what());
      return kExitBadStart;
    }
  }
  if (help) {
    std::printf("%s%s", app.help().c_str(), backend_help(options).c_str());
    return 0;
  }
  if (!list_options.empty()) return list_options_json(spec.name, app, core_names, options);

  // Signals go to one thread: block them everywhere before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<Server> server;
  std::string plugin_dir;
  std::map<std::string, std::string> command_line_flags;  // the backend's, for SIGHUP
  try {
    // The backend is loaded here first, so that its declarations say which of the
    // leftover flags are bools (a bare --name is on) and which are unknown.
    const std::string dir = options.plugin_dir.empty() ? default_plugin_dir() : options.plugin_dir;
    plugin_dir = dir;
    const LoadedScheduler chosen = load_scheduler(options.thread_handling, dir);
    BackendFlags flags = backend_flags(app.remaining(), chosen.options);
    command_line_flags = flags.values;
    if (!flags.unknown.empty()) {
      throw StartupError(unknown_flag_message(flags.unknown.front(), app, chosen, dir));
    }
    options.backend_options = backend_values_from(defaults, defaults_rest, app, chosen, dir);
    for (auto& [name, value] : flags.values) options.backend_options[name] = value;  // CLI wins
    // An inherited listener (--inherit-from, LISTEN_FDS) must agree with these when given.
    options.port_given = app.count("--port") > 0;
    options.bind_address_given = app.count("--bind-address") > 0;
    options.admin_port_given = app.count("--admin-port") > 0;
    options.admin_bind_address_given = app.count("--admin-bind-address") > 0;
    // Whether a flag was given, not whether its value is empty: `--admin-token-file=$UNSET`
    // must stop the start, never leave the admin port open.
    const bool token_given = app.count("--admin-token") > 0;
    const bool token_file_given = app.count("--admin-token-file") > 0;
    if (token_given && token_file_given) {
      throw StartupError("--admin-token and --admin-token-file: give one, not both");
    }
    if (token_file_given) {
      if (token_file.empty()) throw StartupError("--admin-token-file: an empty path");
      options.admin_token = read_admin_token_file(token_file);
    }
    if (token_given || token_file_given) {
      if (auto why = admin_token_problem(options.admin_token); !why.empty()) {
        throw StartupError(
            fmt::format("{}: {}", token_given ? "--admin-token" : "--admin-token-file", why));
      }
    }
    server = std::make_unique<Server>(options, spec.make_protocol());
  } catch (const StartupError& e) {
    logger.log(LogLevel::kError, "{}", e.what());
    return kExitBadStart;
  }

  if (auto level = parse_log_level(options.log_level)) logger.set_level(*level);
  // The backend's init runs here, while this is the process's only thread: the signal
  // thread starts after it (SIGTERM meanwhile stays pending, blocked above). A backend may
  // fork at init (process-pool's spawner), and a fork copies only the calling thread, so
  // a lock another thread holds at that instant stays locked in the child for ever; a
  // thread that has just started holds such locks (under ASan its start-up allocates).
  try {
    server->start();
  } catch (const StartupError& e) {
    logger.log(LogLevel::kError, "{}", e.what());
    return kExitBadStart;
  }
  std::jthread signal_thread([&, signals](std::stop_token stop) {
    int received = 0;
    while (!stop.stop_requested()) {
      timespec tick{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig <= 0) continue;
      if (sig == SIGHUP) {
        if (defaults_path.empty()) {
          reload_backend(*server, logger);
        } else {
          reread_defaults_file(*server, app, defaults_path, spec.name, plugin_dir,
                               thread_handling_given, command_line_flags, logger);
        }
        continue;
      }
      if (++received > 1) {
        logger.log(LogLevel::kWarning, "second signal: exiting at once");
        std::_Exit(1);
      }
      logger.log(LogLevel::kInfo, "{}: shutting down gracefully (send it again to stop at once)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
      server->request_shutdown(
          fmt::format("shutting down ({})", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    }
  });

  int status = 0;
  try {
    status = server->run();
  } catch (const StartupError& e) {
    logger.log(LogLevel::kError, "{}", e.what());
    status = kExitBadStart;
  }
  signal_thread.request_stop();
  signal_thread.join();
  server.reset();
  return status;
}

}  // namespace connsched
