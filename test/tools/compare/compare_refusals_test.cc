// File: test/tools/compare/compare_refusals_test.cc
//
// connsched_compare refuses what it cannot run, before running anything: an unknown
// scenario or backend name gets the list of valid ones and exit status 2; a run in which
// measurements fail says which and exits 1; every server log starts with the command line
// the server was started with.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "running_server.h"
#include "server_process.h"
#include "temp_dir.h"
#include "text_file.h"

using namespace connsched::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::pair<int, std::string> compare(std::vector<std::string> args, const TempDir& out) {
  args.push_back("--out=" + out.path.string());
  args.push_back("--no-reference");
  return ServerProcess::run(bin_dir() + "/connsched_compare", args, 300s);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("connsched_compare refuses an unknown scenario, alone or beside valid ones") {
  TempDir out("compare_refusals");
  for (const std::string list : {"bogus", "ping,bogus"}) {
    CAPTURE(list);
    auto [status, output] = compare({"--scenarios=" + list}, out);
    CAPTURE(output);
    CHECK(status == 2);
    CHECK(
        has(output,
            "unknown scenario 'bogus' (valid: ping, cpu, blocking, mixed, unreported, locks, idle, "
            "churn, http-ping, http-cpu, proxy, switch;"));
    CHECK_FALSE(has(output, "== ping"));  // nothing ran
  }
}

TEST_CASE("connsched_compare refuses an unknown backend name beside a valid one") {
  TempDir out("compare_refusals");
  auto [status, output] =
      compare({"--scenarios=ping", "--backends=one-thread-per-connection,pool-of-dreams"}, out);
  CAPTURE(output);
  CHECK(status == 2);
  CHECK(has(output, "unknown backend 'pool-of-dreams'"));
  CHECK(has(output, "available: one-thread-per-connection, pool-of-threads"));
  CHECK_FALSE(has(output, "== ping"));
}

TEST_CASE("connsched_compare --help lists every scenario, proxy included") {
  auto [status, output] = ServerProcess::run(bin_dir() + "/connsched_compare", {"--help"}, 60s);
  CAPTURE(output);
  CHECK(status == 0);
  CHECK(has(
      output,
      "ping, cpu, blocking, mixed, unreported, locks, idle, churn, http-ping, http-cpu, proxy"));
}

TEST_CASE(
    "a comparison whose measurements all fail exits 1 and names them; each server log starts "
    "with its command line") {
  TempDir out("compare_refusals");
  // init_fails.so: a backend whose init refuses, so kv_server exits at start every time.
  auto [status, output] =
      compare({"--scenarios=ping", "--connections=2", "--duration=0.2", "--warmup=0",
               "--plugin-dir=" CONNSCHED_TEST_BROKEN_PLUGIN_DIR, "--backends=init_fails"},
              out);
  CAPTURE(output);
  CHECK(status == 1);
  CHECK(has(output, "FAILED ping with 2 connections under init_fails"));
  CHECK(has(output, "1 of 1 measurements failed"));

  std::vector<fs::path> logs;
  for (const auto& entry : fs::directory_iterator(out.path / "logs")) logs.push_back(entry.path());
  REQUIRE(logs.size() == 1);
  const std::string log = read_file(logs[0]);
  CAPTURE(log);
  CHECK(log.starts_with("command: " + bin_dir() +
                        "/kv_server --port=0 --thread-handling=" CONNSCHED_TEST_BROKEN_PLUGIN_DIR
                        "/init_fails.so"));
  CHECK(has(log.substr(0, log.find('\n')), "--max-connections="));
}
