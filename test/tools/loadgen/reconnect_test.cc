// File: test/tools/loadgen/reconnect_test.cc
//
// connsched_loadgen --reconnect against a real kv_server that is restarted with
// --inherit-from under the load: the connections the old process closes at its drain are
// reopened and counted as reconnects, never as errors, and the load goes on on the new
// process. Without --reconnect the same closes are errors (dropped connections), which is
// why the flag exists.
#include <doctest/doctest.h>
#include <signal.h>

#include <optional>
#include <string>
#include <thread>

#include "load_generator.h"
#include "request_class.h"
#include "running_server.h"
#include "server_process.h"
#include "temp_dir.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

namespace {

// kv_server on a fixed port with a handover socket; `inherit` takes over from the
// process serving there.
std::unique_ptr<ServerProcess> start_kv(std::uint16_t port, const std::string& socket,
                                        bool inherit) {
  std::vector<std::string> args = {"--port=" + std::to_string(port), "--admin-port=0",
                                   "--thread-handling=pool-of-threads",
                                   "--handover-socket=" + socket};
  if (inherit) args.push_back("--inherit-from=" + socket);
  auto process = std::make_unique<ServerProcess>(bin_dir() + "/kv_server", args);
  REQUIRE(process->wait_listening().has_value());
  return process;
}

// A restart 700 ms into a 2 s open-loop run of 40 connections; the run's result.
loadgen::LoadResult load_through_restart(bool reconnect) {
  TempDir dir;
  const std::string socket = (dir.path / "kv.handover").string();
  auto first = std::make_unique<ServerProcess>(
      bin_dir() + "/kv_server",
      std::vector<std::string>{"--port=0", "--admin-port=0", "--thread-handling=pool-of-threads",
                               "--handover-socket=" + socket});
  const auto port = first->wait_listening();
  REQUIRE(port.has_value());
  REQUIRE(RunningServer::eventually(
      [&] { return first->output().find("handover socket at") != std::string::npos; }));
  loadgen::LoadSpec spec;
  spec.port = *port;
  spec.connections = 40;
  spec.threads = 2;
  spec.warmup = 0ms;
  spec.duration = 2000ms;
  spec.rate = 2000;
  spec.open_loop = true;
  spec.reconnect = reconnect;
  spec.classes.push_back({.name = "ping", .request = "PING", .connections = 0});
  std::optional<loadgen::LoadResult> result;
  std::jthread load([&] { result = loadgen::run_load(spec); });
  std::this_thread::sleep_for(700ms);
  auto second = start_kv(*port, socket, /*inherit=*/true);
  CHECK(first->wait_exit(30s) == 0);
  load.join();
  REQUIRE(result.has_value());
  second->signal(SIGTERM);
  CHECK(second->wait_exit(30s) == 0);
  return *result;
}

}  // namespace

TEST_CASE(
    "loadgen --reconnect reopens the connections a restart closes and counts them apart "
    "from the errors; the load goes on on the new server") {
  const auto result = load_through_restart(/*reconnect=*/true);
  CAPTURE(result.first_error);
  CHECK(result.errors() == 0);
  CHECK(result.refused == 0);
  // Every connection was on the old process and was closed at its drain.
  CHECK(result.reconnects >= 40);
  CHECK(result.connections_opened >= 80);
  // 2 s at 2,000/s, the second half on the new process.
  CHECK(result.requests >= 3000);
}

TEST_CASE("without --reconnect the connections a restart closes are counted as dropped") {
  const auto result = load_through_restart(/*reconnect=*/false);
  CHECK(result.reconnects == 0);
  CHECK(result.dropped >= 40);
  CHECK(result.errors() >= 40);
}
