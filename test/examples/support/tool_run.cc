// File: test/examples/support/tool_run.cc
#include "tool_run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <stdexcept>

namespace connsched::testing {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The three ends of a child's stdio, closed on every path.
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  }
  ~Pipe() {
    close_end(0);
    close_end(1);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_end(int i) {
    if (fds[i] >= 0) ::close(fds[i]);
    fds[i] = -1;
  }
};

}  // namespace

// Searches PATH as execvp would, but fails with the package to install, so a machine
// without the tool gets a clear error instead of a skipped test.
std::string find_tool(const std::string& name) {
  static const std::map<std::string, std::string> kPackages = {{"redis-cli", "redis-tools"},
                                                               {"redis-benchmark", "redis-tools"},
                                                               {"redis-server", "redis-server"},
                                                               {"curl", "curl"},
                                                               {"wrk", "wrk"},
                                                               {"haproxy", "haproxy"}};
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  auto package = kPackages.find(name);
  throw std::runtime_error(name +
                           " is not on PATH: these tests drive the servers with real clients; "
                           "install it (Debian package '" +
                           (package != kPackages.end() ? package->second : name) + "')");
}

// Feeds stdin and drains stdout/stderr from one poll loop, so a chatty tool never
// blocks on a full pipe while we wait for it.
ToolResult run_tool(const std::string& tool, const std::vector<std::string>& args,
                    std::string_view input, std::chrono::milliseconds timeout) {
  std::string program = find_tool(tool);
  Pipe in, out, err;
  std::vector<std::string> storage{program};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in.fds[0], STDIN_FILENO);
    ::dup2(out.fds[1], STDOUT_FILENO);
    ::dup2(err.fds[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  ::fcntl(in.fds[1], F_SETFL, O_NONBLOCK);
  if (input.empty()) in.close_end(1);
  ToolResult result;
  const std::int64_t deadline = now_ms() + timeout.count();
  bool timed_out = false;
  while (out.fds[0] >= 0 || err.fds[0] >= 0) {
    std::int64_t left = deadline - now_ms();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3] = {{out.fds[0], POLLIN, 0}, {err.fds[0], POLLIN, 0}, {in.fds[1], POLLOUT, 0}};
    if (::poll(fds, 3, static_cast<int>(left)) < 0 && errno != EINTR) break;
    char chunk[8192];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Pipe& p = i == 0 ? out : err;
      ssize_t n = ::read(p.fds[0], chunk, sizeof chunk);
      if (n > 0) {
        (i == 0 ? result.output : result.errors).append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        p.close_end(0);
      }
    }
    if (in.fds[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in.fds[1], input.data(), input.size());
      if (n > 0) input.remove_prefix(static_cast<std::size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) input = {};
      if (input.empty()) in.close_end(1);
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = timed_out ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace connsched::testing
