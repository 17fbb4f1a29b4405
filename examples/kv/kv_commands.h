// File: examples/kv/kv_commands.h
//
// The commands kv_server answers, each executed against the shared store with its
// reply appended in RESP2. Connection-state commands (MULTI, EXEC, DISCARD, QUIT) live
// in the session; everything else is here.
#ifndef CONNSCHED_EXAMPLES_KV_KV_COMMANDS_H_
#define CONNSCHED_EXAMPLES_KV_KV_COMMANDS_H_

#include <optional>
#include <string>
#include <vector>

#include "connsched/protocol.h"
#include "kv_shared.h"

namespace kv {

/// Why `args` cannot run — "ERR unknown command ..." or "ERR wrong number of arguments
/// ..." worded as Redis does — or nullopt when the command exists and its arity fits.
std::optional<std::string> check_command(const std::vector<std::string>& args);

/// Executes a command that passed check_command, appending its reply to `out`.
void execute_command(const std::vector<std::string>& args, std::string& out, KvShared& shared,
                     connsched::RequestContext& ctx);

/// `name` in ASCII upper case.
std::string upper(std::string_view name);

/// The error a command gets when its reply would exceed --max-reply-size.
void reply_too_large(std::string& out, std::size_t limit);

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_KV_COMMANDS_H_
