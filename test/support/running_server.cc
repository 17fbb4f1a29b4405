// File: test/support/running_server.cc
#include "running_server.h"

#include <stdexcept>

namespace connsched::testing {

std::string plugin_dir() {
  return CONNSCHED_TEST_PLUGIN_DIR;
}
std::string broken_plugin_dir() {
  return CONNSCHED_TEST_BROKEN_PLUGIN_DIR;
}
std::string bin_dir() {
  return CONNSCHED_TEST_BIN_DIR;
}

ServerOptions test_options(const std::string& thread_handling) {
  ServerOptions options;
  options.thread_handling = thread_handling;
  options.plugin_dir = plugin_dir();
  options.port = 0;
  options.log_level = "warning";
  return options;
}

RunningServer::RunningServer(ServerOptions options, std::shared_ptr<Probe> probe)
    : probe_(std::move(probe)),
      server_(
          std::make_unique<Server>(std::move(options), std::make_unique<TestProtocol>(probe_))) {
  start();
}

RunningServer::RunningServer(ServerOptions options, std::unique_ptr<Protocol> protocol)
    : probe_(std::make_shared<Probe>()),
      server_(std::make_unique<Server>(std::move(options), std::move(protocol))) {
  start();
}

void RunningServer::start() {
  server_->start();  // throws StartupError here, on the test's thread
  thread_ = std::jthread([this] { status_ = server_->run(); });
}

RunningServer::~RunningServer() {
  stop();
}

int RunningServer::stop() {
  if (!stopped_) {
    stopped_ = true;
    server_->request_shutdown();
    if (thread_.joinable()) thread_.join();
  }
  return status_;
}

bool RunningServer::eventually(const std::function<bool()>& condition,
                               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace connsched::testing
