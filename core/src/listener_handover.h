// File: core/src/listener_handover.h
//
// A restart that refuses no connection (HAProxy's `-x` with `expose-fd listeners`,
// https://docs.haproxy.org/2.6/management.html#4, and Envoy's hot restart): the running
// server listens on an AF_UNIX socket (--handover-socket); a new process of it connects
// (--inherit-from), receives the listening sockets over SCM_RIGHTS (unix(7)), serves on
// them, and acknowledges; only then does the old one stop accepting and drain. Both
// processes hold the same listening sockets meanwhile, so a connection waiting in the
// accept queue is accepted by one of them, never refused.
//
// The exchange, one line each way (the fds travel with the old server's first line):
//   new -> old  "CONNSCHED-HANDOVER 1\n"
//   old -> new  "CONNSCHED-LISTENERS 1 main=HOST:PORT[ admin=HOST:PORT]\n" + the fds,
//               in that order; or "CONNSCHED-REFUSED <why>\n" (draining, shutting down)
//   new -> old  "READY\n" once it serves on them
//   old -> new  "DRAINING\n"
// Only a peer with this process's user id (or root) is answered (SO_PEERCRED).
#ifndef CONNSCHED_CORE_LISTENER_HANDOVER_H_
#define CONNSCHED_CORE_LISTENER_HANDOVER_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "connsched/unique_fd.h"
#include "inherited_listeners.h"
#include "log.h"

namespace connsched {

/// The new process's side: connects and takes the listeners (throws StartupError, one
/// line: nobody listening, a peer that is no connsched server, a refusal, fds that are
/// not listening TCP sockets), then acknowledges once it serves on them.
class HandoverClient {
 public:
  explicit HandoverClient(std::string path);
  InheritedListeners take();
  /// Says READY and waits (a few seconds at most) for the old server's DRAINING; logs
  /// what came of it. The listeners are this process's either way.
  void acknowledge(Logger& logger);
  pid_t peer_pid() const { return peer_pid_; }

 private:
  std::string path_;
  UniqueFd fd_;
  pid_t peer_pid_ = 0;
};

/// The running server's side: its socket and the thread that answers on it.
class HandoverServer {
 public:
  struct Listener {
    std::string role;  ///< "main" or "admin"
    int fd;
    std::string address;  ///< HOST:PORT
  };
  struct Hooks {
    /// Called once a request arrived, before the fds leave: why a handover cannot happen
    /// now (draining, shutting down), or empty, and then the listeners are shared with
    /// another process from here on (never to be shut down, only closed). Atomic with
    /// respect to the server's own stop, so a stop either comes first and refuses, or
    /// comes later and finds the listeners shared.
    std::function<std::string()> share;
    /// What to hand over.
    std::function<std::vector<Listener>()> listeners;
    /// The new process (pid) serves on them: stop accepting and drain.
    std::function<void(pid_t)> handed_over;
  };

  /// Binds `path` under a temporary name (refused when a server already answers on
  /// `path`, unless `replacing`: this process is taking over from it); publish() puts it
  /// in place.
  HandoverServer(std::string path, bool replacing, Hooks hooks, Logger& logger);
  ~HandoverServer();
  HandoverServer(const HandoverServer&) = delete;
  HandoverServer& operator=(const HandoverServer&) = delete;

  /// Renames the socket to its path (atomically replacing the old server's) and starts
  /// the thread that answers on it. A failure is logged: this process serves on, only
  /// without a handover socket.
  void publish();
  void stop();

 private:
  void run(std::stop_token stop);
  void serve(UniqueFd client);

  std::string path_;
  std::string temp_path_;
  Hooks hooks_;
  Logger& logger_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;
  bool published_ = false;
  dev_t dev_ = 0;  // the socket file's identity: unlinked at exit only while still ours
  ino_t ino_ = 0;
  std::jthread thread_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_LISTENER_HANDOVER_H_
