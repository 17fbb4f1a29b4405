// File: core/src/command_line_options.h
//
// The command line every server shares, without the running of a server: core's flags
// declared on a CLI11 app, and the leftovers split into the backend's --name=value
// pairs. Apart from run_server_main so that tests and a fuzzer can parse a command
// line without starting anything.
#ifndef CONNSCHED_CORE_COMMAND_LINE_OPTIONS_H_
#define CONNSCHED_CORE_COMMAND_LINE_OPTIONS_H_

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "connsched/scheduler_abi.h"
#include "connsched/server.h"

namespace connsched {

/// Declares the flags every server shares (--thread-handling, --port, ...) on `app`,
/// each checked by CLI11 and stored into `options` when parsed; --admin-token-file's
/// path goes to `token_file`.
void add_core_options(CLI::App& app, ServerOptions& options, std::string& token_file);

/// CLI11's leftovers, read against what the chosen backend declares.
struct BackendFlags {
  /// By normalized name ("thread-pool-size" -> "thread_pool_size"), for the backend.
  std::map<std::string, std::string> values;
  /// Flags the backend does not declare, dashed and without '--' or a value, in order.
  std::vector<std::string> unknown;
};

/// Reads the backend's flags as mysqld reads its command line: --name=value; --name value
/// (not for a bool); a bare --name for a bool means on; --skip-name and --disable-name
/// mean off. Throws StartupError for an argument that is not a flag, a non-bool flag
/// without a value, or a value given to --skip-name.
BackendFlags backend_flags(const std::vector<std::string>& extras,
                           const std::vector<connsched_option_desc>& declared);

/// The name in `known` nearest to `name` (edit distance, a swap of two neighbours
/// counting as one edit), or empty when none is near enough to be a likely typo.
std::string closest_name(std::string_view name, const std::vector<std::string>& known);

}  // namespace connsched

#endif  // CONNSCHED_CORE_COMMAND_LINE_OPTIONS_H_
