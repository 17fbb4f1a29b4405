// File: core/src/connection_pool.h
//
// Connection objects, with their buffers and protocol session, are reused rather than
// allocated per connection: a released object keeps its session (reset)
// and its buffers (trimmed when a large request grew them).
#ifndef CONNSCHED_CORE_CONNECTION_POOL_H_
#define CONNSCHED_CORE_CONNECTION_POOL_H_

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "connection.h"

namespace connsched {

class ConnectionPool {
 public:
  using SessionFactory = std::function<std::unique_ptr<Session>()>;
  ConnectionPool(SessionFactory make_session, std::size_t max_idle)
      : make_session_(std::move(make_session)), max_idle_(max_idle) {}

  /// A clean connection object: reused when one is idle, else made.
  std::unique_ptr<Connection> acquire();
  /// Returns an ended connection (its fd already closed) for reuse.
  void release(std::unique_ptr<Connection> conn);

  std::size_t idle() const;
  std::size_t created() const;

 private:
  SessionFactory make_session_;
  std::size_t max_idle_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t created_ = 0;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_CONNECTION_POOL_H_
