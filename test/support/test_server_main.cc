// File: test/support/test_server_main.cc
//
// cs_test_server: the TestProtocol as a server executable, for tests that need a
// separate process (signals, exit statuses, fd limits).
#include <memory>

#include "connsched/server.h"
#include "test_protocol.h"

int main(int argc, char** argv) {
  connsched::ServerSpec spec;
  spec.name = "cs_test_server";
  spec.description = "connsched test server (echo, burn, sleep, begin, commit, quit, throw).";
  spec.default_port = 0;
  spec.make_protocol = [] { return std::make_unique<connsched::testing::TestProtocol>(); };
  return connsched::run_server_main(argc, argv, spec);
}
