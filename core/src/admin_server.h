// File: core/src/admin_server.h
//
// The admin port (MariaDB's extra_port): its own socket and its own thread, so it
// answers while every serving thread is stalled. One request per connection; the
// thread runs its own event loop over a bounded number of connections at once, each
// with a short deadline, so a silent or slow admin client never delays another.
#ifndef CONNSCHED_CORE_ADMIN_SERVER_H_
#define CONNSCHED_CORE_ADMIN_SERVER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "admin_routes.h"
#include "connsched/unique_fd.h"
#include "log.h"

namespace connsched {

class AdminServer {
 public:
  /// Binds `bind_address:port` (0 = ephemeral); throws StartupError when it cannot.
  /// A non-empty `token` makes every request need "Authorization: Bearer <token>".
  AdminServer(const std::string& bind_address, int port, AdminActions actions, Logger& logger,
              std::string token = {});
  /// Serves on a listening socket this process was given (--inherit-from, LISTEN_FDS).
  AdminServer(UniqueFd listener, const std::string& address, std::uint16_t port,
              AdminActions actions, Logger& logger, std::string token = {});
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Most admin connections served at once; past it the oldest one that has not sent
  /// a whole request yet is closed to make room (so silent sockets cannot fill it).
  static constexpr std::size_t kMaxClients = 64;
  /// How long one admin client may take to send its request and read the reply.
  static constexpr std::int64_t kClientDeadlineMs = 2000;

  std::uint16_t port() const { return port_; }
  /// Starts the thread and logs "admin port listening on ADDRESS:PORT".
  void start();
  /// Wakes the thread, lets it finish the request in hand, and joins it.
  void stop();
  /// The listener went to another process (a handover): this one stops accepting on it
  /// and closes its descriptor, never shuts it down (the socket is shared); requests in
  /// hand are still answered. Any thread.
  void release_listener();
  /// The listening socket, for a handover (valid until release_listener).
  int listen_fd() const { return listen_fd_.get(); }
  const std::string& bind_address() const { return bind_address_; }

 private:
  // One admin connection's progress through read, answer, write, linger.
  struct Client {
    enum class Phase { kReading, kWriting, kLingering } phase = Phase::kReading;
    UniqueFd fd;
    std::int64_t accepted_ms = 0;
    std::int64_t deadline_ms = 0;
    std::string request;
    std::string wire;
    std::size_t sent = 0;
  };

  void run(std::stop_token stop);
  void accept_clients(bool& accept_failing);
  // Advances one client on readiness; false when it is done (and may be closed).
  bool on_ready(Client& client, short revents);
  std::string respond(const AdminParse& parsed);

  std::string bind_address_;
  AdminActions actions_;
  Logger& logger_;
  std::string token_;
  // Refused requests are logged at most once a second (the rest counted and reported
  // with the next line): a client without the token must not be able to flood the log.
  // Touched only by the admin thread.
  std::int64_t last_refusal_log_ms_ = 0;
  std::uint64_t refusals_unlogged_ = 0;
  std::vector<Client> clients_;  // the admin thread's own
  std::uint64_t evicted_ = 0;    // silent clients closed to make room, for the debug log
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;
  std::atomic<bool> release_listener_{false};
  std::uint16_t port_ = 0;
  std::jthread thread_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_ADMIN_SERVER_H_
