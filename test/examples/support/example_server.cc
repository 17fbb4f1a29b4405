// File: test/examples/support/example_server.cc
#include "example_server.h"

#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "running_server.h"
#include "text_search.h"

namespace connsched::testing {

// Waits for both log lines ("listening on", then "admin port listening on"), so a test
// never talks to a port before the server owns it.
ExampleServer::ExampleServer(const std::string& program, const std::string& backend,
                             const std::vector<std::string>& extra_args)
    : backend_(backend) {
  std::vector<std::string> args = {"--port=0", "--admin-port=0", "--plugin-dir=" + plugin_dir(),
                                   "--thread-handling=" + backend};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ServerProcess>(bin_dir() + "/" + program, args);
  auto port = process_->wait_listening(std::chrono::seconds(30));
  if (!port) throw std::runtime_error(program + " did not start: " + process_->output());
  port_ = *port;
  // The admin port is logged right after the main one.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto admin = number_after(process_->output(), "admin port listening on 127.0.0.1:")) {
      admin_port_ = static_cast<std::uint16_t>(*admin);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(program + " did not report its admin port: " + process_->output());
}

ExampleServer::~ExampleServer() {
  if (!stopped_) stop();
}

std::optional<int> ExampleServer::stop() {
  stopped_ = true;
  process_->signal(SIGTERM);
  return process_->wait_exit(std::chrono::seconds(30));
}

std::string local_url(std::uint16_t port, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

}  // namespace connsched::testing
