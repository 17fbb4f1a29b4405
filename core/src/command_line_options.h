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

#include "connsched/server.h"

namespace connsched {

/// Declares the flags every server shares (--thread-handling, --port, ...) on `app`,
/// each checked by CLI11 and stored into `options` when parsed; --admin-token-file's
/// path goes to `token_file`.
void add_core_options(CLI::App& app, ServerOptions& options, std::string& token_file);

/// Splits CLI11's leftovers into --name=value / --name value pairs for the backend,
/// names normalized ("thread-pool-size" -> "thread_pool_size"). Throws StartupError for
/// an argument that is not a flag or a flag without a value.
std::map<std::string, std::string> backend_flags(const std::vector<std::string>& extras);

}  // namespace connsched

#endif  // CONNSCHED_CORE_COMMAND_LINE_OPTIONS_H_
