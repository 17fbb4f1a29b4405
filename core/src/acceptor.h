// File: core/src/acceptor.h
//
// The thread that accepts connections on the listening socket and hands each to core.
// Accept errors never spin it: on EMFILE/ENFILE/ENOBUFS/ENOMEM it logs and pauses
// accepting for a moment, so the CPU stays idle until fds free up.
#ifndef CONNSCHED_CORE_ACCEPTOR_H_
#define CONNSCHED_CORE_ACCEPTOR_H_

#include <chrono>
#include <functional>
#include <thread>

#include "connsched/unique_fd.h"
#include "log.h"

namespace connsched {

class Acceptor {
 public:
  using OnAccept = std::function<void(UniqueFd)>;
  using OnError = std::function<void(int error)>;

  /// Listens on `listen_fd` (non-blocking); `on_accept` runs on the acceptor thread.
  Acceptor(int listen_fd, OnAccept on_accept, OnError on_error, std::chrono::milliseconds pause);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  void start();
  /// Wakes the thread and makes it exit after the connection it is handing over.
  void request_stop();
  void join();

 private:
  void run();
  int listen_fd_;
  UniqueFd wake_fd_;
  OnAccept on_accept_;
  OnError on_error_;
  std::chrono::milliseconds pause_;
  std::atomic<bool> stop_{false};
  std::jthread thread_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_ACCEPTOR_H_
