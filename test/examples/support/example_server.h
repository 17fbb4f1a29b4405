// File: test/examples/support/example_server.h
//
// An example server (kv_server, http_server) run as a child process on an ephemeral
// loopback port with its admin port on, under one scheduler backend.
#ifndef CONNSCHED_TEST_SERVERS_EXAMPLE_SERVER_H_
#define CONNSCHED_TEST_SERVERS_EXAMPLE_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server_process.h"

namespace connsched::testing {

class ExampleServer {
 public:
  /// Starts bin/`program` with --thread-handling=`backend`; throws if it does not
  /// report both of its ports within 30 s.
  ExampleServer(const std::string& program, const std::string& backend,
                const std::vector<std::string>& extra_args = {});
  /// SIGTERM; a server that has not exited 20 s later is killed by ServerProcess.
  ~ExampleServer();
  ExampleServer(const ExampleServer&) = delete;
  ExampleServer& operator=(const ExampleServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  const std::string& backend() const { return backend_; }
  ServerProcess& process() { return *process_; }
  /// Graceful stop (SIGTERM); returns the exit status, nullopt on timeout.
  std::optional<int> stop();

 private:
  std::string backend_;
  std::unique_ptr<ServerProcess> process_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  bool stopped_ = false;
};

/// "http://127.0.0.1:PORT" + path.
std::string local_url(std::uint16_t port, const std::string& path);

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SERVERS_EXAMPLE_SERVER_H_
