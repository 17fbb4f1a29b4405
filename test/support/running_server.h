// File: test/support/running_server.h
//
// A connsched::Server running in this process on an ephemeral loopback port, serving
// the TestProtocol (or any protocol); stopped and joined by the destructor.
#ifndef CONNSCHED_TEST_SUPPORT_RUNNING_SERVER_H_
#define CONNSCHED_TEST_SUPPORT_RUNNING_SERVER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "connsched/server.h"
#include "test_protocol.h"

namespace connsched::testing {

/// The build tree's folder of built-in backends.
std::string plugin_dir();
/// The build tree's folder of deliberately broken test backends.
std::string broken_plugin_dir();
/// The build tree's bin/ folder (servers and test helpers).
std::string bin_dir();

/// Options for a test server: loopback, ephemeral port, the build's plugin folder.
ServerOptions test_options(const std::string& thread_handling);

class RunningServer {
 public:
  explicit RunningServer(ServerOptions options,
                         std::shared_ptr<Probe> probe = std::make_shared<Probe>());
  RunningServer(ServerOptions options, std::unique_ptr<Protocol> protocol);
  ~RunningServer();

  std::uint16_t port() const { return server_->port(); }
  Server& server() { return *server_; }
  Probe& probe() { return *probe_; }
  /// Graceful shutdown; returns run()'s exit status.
  int stop();

  /// Polls `condition` every 10 ms until it holds or `timeout` passes.
  static bool eventually(const std::function<bool()>& condition,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  void start();
  std::shared_ptr<Probe> probe_;
  std::unique_ptr<Server> server_;
  std::jthread thread_;
  int status_ = -1;
  bool stopped_ = false;
};

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SUPPORT_RUNNING_SERVER_H_
