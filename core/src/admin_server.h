// File: core/src/admin_server.h
//
// The admin port (MariaDB's extra_port): its own socket and its own thread, so it
// answers while every serving thread is stalled. One request per connection, served
// in turn; each bounded in size and time so a silent admin client cannot hold it.
#ifndef CONNSCHED_CORE_ADMIN_SERVER_H_
#define CONNSCHED_CORE_ADMIN_SERVER_H_

#include <cstdint>
#include <string>
#include <thread>

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
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  std::uint16_t port() const { return port_; }
  /// Starts the thread and logs "admin port listening on ADDRESS:PORT".
  void start();
  /// Wakes the thread, lets it finish the request in hand, and joins it.
  void stop();

 private:
  void run(std::stop_token stop);
  void serve(UniqueFd client, const std::stop_token& stop);

  std::string bind_address_;
  AdminActions actions_;
  Logger& logger_;
  std::string token_;
  // Refused requests are logged at most once a second (the rest counted and reported
  // with the next line): a client without the token must not be able to flood the log.
  // Touched only by the admin thread.
  std::int64_t last_refusal_log_ms_ = 0;
  std::uint64_t refusals_unlogged_ = 0;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;
  std::uint16_t port_ = 0;
  std::jthread thread_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_ADMIN_SERVER_H_
