// File: tools/compare/child_process.h
//
// A server run as a child process for one measurement: its output goes to a log file,
// its open-file limit is raised to the hard limit before exec (idle scenarios hold
// 10,000 connections), and it is killed if still running when the owner goes away.
#ifndef CONNSCHED_COMPARE_CHILD_PROCESS_H_
#define CONNSCHED_COMPARE_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace compare_tool {

class ChildProcess {
 public:
  /// Starts `program` (a path, or a name looked up in PATH) with `args`, writing its
  /// full command line (shell-quoted, after "command: ") and then its stdout and stderr
  /// to `log_path`, on `cpus` only when that is not empty. Throws
  /// std::runtime_error if fork fails.
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::string& log_path, const std::vector<int>& cpus = {});
  /// SIGKILLs and reaps the child if it has not exited.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  /// Waits for exit; the exit status (128+N for signal N), nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  /// Whether the child has exited (reaping it if so).
  bool exited() { return wait_exit(std::chrono::milliseconds(0)).has_value(); }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

/// Runs `program args...` to completion (at most `timeout`), returning its output.
std::string run_and_capture(const std::string& program, const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_CHILD_PROCESS_H_
