// File: test/examples/support/tool_run.h
//
// Runs a real client (redis-cli, redis-benchmark, curl, wrk) found on PATH, feeding it
// stdin and collecting its output, bounded in time. A tool that is missing is an
// error that says what to install, never a silent skip.
#ifndef CONNSCHED_TEST_SERVERS_TOOL_RUN_H_
#define CONNSCHED_TEST_SERVERS_TOOL_RUN_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace connsched::testing {

struct ToolResult {
  int status = -1;     ///< exit status; 128+N for signal N; -1 when it timed out
  std::string output;  ///< stdout
  std::string errors;  ///< stderr
};

/// The tool's full path; throws std::runtime_error naming the Debian package if absent.
std::string find_tool(const std::string& name);

/// Runs `tool args...` (a name looked up on PATH) to completion or `timeout`.
ToolResult run_tool(const std::string& tool, const std::vector<std::string>& args,
                    std::string_view input = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(120));

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SERVERS_TOOL_RUN_H_
