// File: test/core/abi_compat_test.cc
//
// Older backends in a 1.2 server. ABI 1.1 appended `reload` to the descriptor: a backend
// built against 1.0 still loads and serves, and SIGHUP is reported as ignored rather than
// read from past its table. ABI 1.2 appended `flags`: a 1.1 backend still loads and
// serves, and core enforces wait_timeout for it rather than reading flags past its table.
#include <doctest/doctest.h>
#include <signal.h>

#include <thread>

#include "custom_plugins.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE("a backend built against ABI 1.0 loads into a 1.2 server, serves, and ignores SIGHUP") {
  ServerProcess server(echo_server_path(), {"--port=0", std::string("--thread-handling=") +
                                                            CONNSCHED_TEST_ABI_1_0_BACKEND});
  auto port = server.wait_listening();
  REQUIRE_MESSAGE(port, server.output());
  CHECK(concurrent_echo(*port, 1, 5));  // it serves one connection at a time
  server.signal(SIGHUP);
  CHECK(RunningServer::eventually(
      [&] { return server.output().find("SIGHUP ignored") != std::string::npos; }, 10s));
  CHECK(concurrent_echo(*port, 1, 2));
  server.signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
}

TEST_CASE(
    "a backend built against ABI 1.1 loads into a 1.2 server, serves, and core closes its idle "
    "connections") {
  auto options = test_options(CONNSCHED_TEST_ABI_1_1_BACKEND);
  options.wait_timeout = 1;
  RunningServer server(options);
  CHECK(server.server().backend_stats().backend == "abi-1.1");
  TestClient idle(server.port());
  TestClient talker(server.port());
  CHECK(idle.request("echo first") == "first");
  CHECK(talker.request("echo also") == "also");
  // The backend has no timer: only core, reading its descriptor no further than 1.1's
  // end (where OWN_IDLE_TIMEOUT would be), closes the idle one.
  CHECK(idle.wait_closed(10s));
  CHECK(server.server().core_stats().connections_timed_out >= 1);
  CHECK(server.stop() == 0);
}
