// File: test/support/server_process.h
//
// A server executable run as a child process (for flags, exit statuses and signals):
// its stderr is collected, and the port it logs ("listening on 127.0.0.1:PORT") read.
#ifndef CONNSCHED_TEST_SUPPORT_SERVER_PROCESS_H_
#define CONNSCHED_TEST_SUPPORT_SERVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace connsched::testing {

class ServerProcess {
 public:
  /// Starts `program` (a path) with `args`. Does not wait for anything.
  ServerProcess(const std::string& program, const std::vector<std::string>& args);
  /// Kills the child (SIGKILL) if it is still running.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// Waits for the "listening on" line; nullopt if the process exits or times out first.
  std::optional<std::uint16_t> wait_listening(
      std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void signal(int sig);
  /// Waits for exit; returns the exit status (128+N for signal N), nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Everything the child wrote to stderr (and stdout) so far.
  const std::string& output();
  pid_t pid() const { return pid_; }

  /// Runs `program args...` to completion; returns {exit status, output}.
  static std::pair<int, std::string> run(
      const std::string& program, const std::vector<std::string>& args,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  void drain(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string output_;
  std::optional<int> status_;
};

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SUPPORT_SERVER_PROCESS_H_
