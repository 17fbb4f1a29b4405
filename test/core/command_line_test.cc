// File: test/core/command_line_test.cc
//
// The command line as an operator meets it in a server process: mysqld's bool flags, an
// unknown flag named as such with the nearest known one, and the one prefix (time,
// server, level) on every line the server writes, the signal lines included.
#include <doctest/doctest.h>
#include <signal.h>

#include <cctype>
#include <sstream>
#include <string>
#include <vector>

#include "running_server.h"
#include "server_process.h"
#include "test_client.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

std::string echo_server() {
  return bin_dir() + "/echo_server";
}

std::vector<std::string> lines(const std::string& output) {
  std::vector<std::string> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The one refusal line, without its prefix; checks there is exactly one and it is an error.
std::string refusal(const std::vector<std::string>& args) {
  auto [status, output] = ServerProcess::run(echo_server(), args);
  CAPTURE(output);
  CHECK(status == 2);
  auto printed = lines(output);
  REQUIRE(printed.size() == 1);
  const std::string marker = " echo_server [error] ";
  const auto at = printed[0].find(marker);
  REQUIRE(at != std::string::npos);
  return printed[0].substr(at + marker.size());
}

// "2026-12-01 18:00:00.123 echo_server [info] text": the time, the name, a level, a text.
// (By hand, not std::regex: GCC 12 warns inside <regex> at -O1 under the sanitizers.)
bool has_log_prefix(const std::string& line) {
  const std::string shape = "dddd-dd-dd dd:dd:dd.ddd";
  if (line.size() < shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(line[i])) != 0;
    if (shape[i] == 'd' ? !digit : line[i] != shape[i]) return false;
  }
  for (const std::string level : {"debug", "info", "warning", "error"}) {
    const std::string middle = " echo_server [" + level + "] ";
    if (line.compare(shape.size(), middle.size(), middle) == 0) {
      return line.size() > shape.size() + middle.size();
    }
  }
  return false;
}

}  // namespace

TEST_CASE("an unknown flag is reported as unknown, with the closest known flag") {
  CHECK(refusal({"--prot=7000"}) ==
        "unknown option --prot; did you mean --port? (--help lists every option)");
  CHECK(refusal({"--prot"}) ==
        "unknown option --prot; did you mean --port? (--help lists every option)");
  CHECK(refusal({"--thread-handling=pool-of-threads", "--thread-pool-sise=4"}) ==
        "unknown option --thread-pool-sise; did you mean --thread-pool-size? (--help lists every "
        "option)");
  CHECK(refusal({"--no-such-flag"}) == "unknown option --no-such-flag (--help lists every option)");
}

TEST_CASE(
    "an option another backend declares is blamed on the chosen backend, naming who takes it") {
  CHECK(refusal({"--thread-handling=no-threads", "--thread-cache-size=3"}) ==
        "backend 'no-threads' does not take --thread-cache-size; one-thread-per-connection does");
  CHECK(refusal({"--thread-handling=no-threads", "--thread-pool-dedicated-listener"}) ==
        "backend 'no-threads' does not take --thread-pool-dedicated-listener; pool-of-threads "
        "does");
}

TEST_CASE("mysqld's bool flags: bare means on, --skip- and --disable- mean off") {
  for (const std::string flag :
       {"--thread-pool-dedicated-listener", "--skip-thread-pool-dedicated-listener",
        "--disable-thread-pool-dedicated-listener", "--thread-pool-dedicated-listener=on"}) {
    CAPTURE(flag);
    ServerProcess server(echo_server(), {"--port=0", "--thread-handling=pool-of-threads", flag});
    auto port = server.wait_listening();
    REQUIRE(port.has_value());
    TestClient client(*port);
    CHECK(client.request("bool flags") == "bool flags");
    server.signal(SIGTERM);
    CHECK(server.wait_exit(20s) == 0);
  }
  // A flag that is not a bool still needs its value.
  CHECK(refusal({"--thread-handling=pool-of-threads", "--thread-pool-size"}) ==
        "option --thread-pool-size needs a value (--thread-pool-size=VALUE)");
}

TEST_CASE("every line a server writes has the same time, name and level prefix, SIGTERM's too") {
  ServerProcess server(echo_server(), {"--port=0", "--thread-handling=one-thread-per-connection"});
  REQUIRE(server.wait_listening().has_value());
  server.signal(SIGTERM);
  REQUIRE(server.wait_exit(20s) == 0);
  const auto printed = lines(server.output());
  CAPTURE(server.output());
  REQUIRE(printed.size() >= 3);  // listening, SIGTERM, shut down
  bool saw_sigterm = false;
  for (const auto& line : printed) {
    CAPTURE(line);
    CHECK(has_log_prefix(line));
    saw_sigterm =
        saw_sigterm || line.find("[info] SIGTERM: shutting down gracefully") != std::string::npos;
  }
  CHECK(saw_sigterm);
}
