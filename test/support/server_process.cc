// File: test/support/server_process.cc
#include "server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace connsched::testing {

namespace {
std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

ServerProcess::ServerProcess(const std::string& program, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> argv_storage;
  argv_storage.push_back(program);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    // The test runner may block signals in its threads; the server must start clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  out_fd_ = pipe_fds[0];
  ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
}

ServerProcess::~ServerProcess() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

void ServerProcess::drain(int timeout_ms) {
  pollfd p{out_fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  char chunk[4096];
  while (true) {
    ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
    if (n <= 0) break;
    output_.append(chunk, static_cast<std::size_t>(n));
  }
}

const std::string& ServerProcess::output() {
  drain(0);
  return output_;
}

std::optional<std::uint16_t> ServerProcess::wait_listening(std::chrono::milliseconds timeout) {
  const std::int64_t deadline = now_ms() + timeout.count();
  while (now_ms() < deadline) {
    drain(50);
    // "listening on 127.0.0.1:PORT ": the digits after the last ':' of the address.
    auto at = output_.find("listening on ");
    if (at != std::string::npos) {
      auto end = output_.find(' ', at + 13);
      auto colon = output_.rfind(':', end);
      if (end != std::string::npos && colon != std::string::npos && colon > at) {
        return static_cast<std::uint16_t>(std::stoi(output_.substr(colon + 1, end - colon - 1)));
      }
    }
    if (wait_exit(std::chrono::milliseconds(0))) return std::nullopt;
  }
  return std::nullopt;
}

void ServerProcess::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  const std::int64_t deadline = now_ms() + timeout.count();
  while (!status_) {
    int status = 0;
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (now_ms() >= deadline) break;
    drain(20);
  }
  drain(0);
  return status_;
}

std::pair<int, std::string> ServerProcess::run(const std::string& program,
                                               const std::vector<std::string>& args,
                                               std::chrono::milliseconds timeout) {
  ServerProcess process(program, args);
  auto status = process.wait_exit(timeout);
  return {status.value_or(-1), process.output()};
}

}  // namespace connsched::testing
