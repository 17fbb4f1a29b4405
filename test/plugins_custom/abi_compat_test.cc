// File: test/plugins_custom/abi_compat_test.cc
//
// ABI 1.1 appended `reload` to the descriptor: a backend built against 1.0 still loads
// and serves, and SIGHUP is reported as ignored rather than read from past its table.
#include <doctest/doctest.h>
#include <signal.h>

#include <thread>

#include "custom_plugins.h"

using namespace connsched::testing;
using namespace std::chrono_literals;

TEST_CASE("a backend built against ABI 1.0 loads into a 1.1 server, serves, and ignores SIGHUP") {
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
