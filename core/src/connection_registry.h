// File: core/src/connection_registry.h
//
// Every live connection by id: owns the objects between accept and end, applies
// max_connections, and is the lock under which a connection is killed, so that a kill
// can never touch a connection that has ended (post_kill_notification runs under it).
#ifndef CONNSCHED_CORE_CONNECTION_REGISTRY_H_
#define CONNSCHED_CORE_CONNECTION_REGISTRY_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "connection.h"

namespace connsched {

class ConnectionRegistry {
 public:
  enum class AddResult { kAdded, kFull, kShuttingDown };

  /// Registers `conn` unless `max_connections` are open or shutdown began; on
  /// refusal the object is handed back through `conn`.
  AddResult add(std::unique_ptr<Connection>& conn, std::size_t max_connections);
  /// Unregisters and returns the connection's object.
  std::unique_ptr<Connection> remove(std::uint64_t id);

  /// Runs `fn` on the connection under the registry lock; false if there is none.
  bool with_connection(std::uint64_t id, const std::function<void(Connection&)>& fn);
  /// Refuses further connections and runs `fn` on every live one, under the lock.
  void begin_shutdown(const std::function<void(Connection&)>& fn);
  /// Runs `fn` on every live connection under the lock.
  void for_each(const std::function<void(Connection&)>& fn);
  /// Waits until no connection is left or the deadline passes; true when empty.
  bool wait_empty(std::chrono::steady_clock::time_point deadline);

  std::size_t size() const;
  /// The most connections open at once since start (MySQL's Max_used_connections).
  std::size_t peak() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable empty_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> live_;
  std::size_t peak_ = 0;
  bool shutting_down_ = false;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_CONNECTION_REGISTRY_H_
