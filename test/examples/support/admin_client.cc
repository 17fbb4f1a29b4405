// File: test/examples/support/admin_client.cc
#include "admin_client.h"

#include <doctest/doctest.h>

#include <chrono>

#include "tool_run.h"

namespace connsched::testing {

// -w appends the status code on a line of its own, after the body.
HttpReply admin(std::uint16_t admin_port, const std::string& method, const std::string& path,
                const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"-sS", "--max-time", "30", "-X", method, "-w", "\n%{http_code}"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(local_url(admin_port, path));
  ToolResult r = run_tool("curl", args, {}, std::chrono::seconds(60));
  INFO("curl stderr: ", r.errors);
  REQUIRE(r.status == 0);
  auto nl = r.output.rfind('\n');
  REQUIRE(nl != std::string::npos);
  return {std::stoi(r.output.substr(nl + 1)), r.output.substr(0, nl)};
}

}  // namespace connsched::testing
