// File: core/src/acceptor.h
//
// The thread that accepts connections on the listening socket and hands each to core.
// Accept errors never spin it: on EMFILE/ENFILE/ENOBUFS/ENOMEM it logs and pauses
// accepting for a moment, so the CPU stays idle until fds free up.
#ifndef CONNSCHED_CORE_ACCEPTOR_H_
#define CONNSCHED_CORE_ACCEPTOR_H_

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "connsched/unique_fd.h"
#include "log.h"

namespace connsched {

/// Work the acceptor thread does besides accepting, without blocking (the PROXY header
/// waits): an fd to poll with the listener, how long it may sleep, and what to run on
/// each wake. Only ever called from the acceptor thread.
class AcceptorSideWork {
 public:
  virtual ~AcceptorSideWork() = default;
  virtual int poll_fd() const = 0;
  /// Milliseconds until it must run even with nothing ready; -1: no deadline.
  virtual int timeout_ms() const = 0;
  virtual void run() = 0;
};

class Acceptor {
 public:
  /// The accepted socket and its peer's address, as accept returned it.
  using OnAccept = std::function<void(UniqueFd, const sockaddr_storage&)>;
  using OnError = std::function<void(int error)>;

  /// Listens on `listen_fd` (non-blocking); `on_accept` runs on the acceptor thread, as
  /// does `side` (may be null), which must outlive the acceptor's thread.
  Acceptor(int listen_fd, OnAccept on_accept, OnError on_error, std::chrono::milliseconds pause,
           AcceptorSideWork* side = nullptr);
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
  AcceptorSideWork* side_;
  std::atomic<bool> stop_{false};
  std::jthread thread_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_ACCEPTOR_H_
