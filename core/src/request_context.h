// File: core/src/request_context.h
//
// RequestContext as seen by a protocol handler: a view of its connection.
#ifndef CONNSCHED_CORE_REQUEST_CONTEXT_H_
#define CONNSCHED_CORE_REQUEST_CONTEXT_H_

#include "connection.h"
#include "connsched/protocol.h"

namespace connsched {

class ConnectionContext final : public RequestContext {
 public:
  explicit ConnectionContext(Connection& conn) : conn_(conn) {}
  std::uint64_t connection_id() const override { return conn_.id; }
  std::string client_address() const override { return conn_.client_address; }
  std::vector<ConnectionSummary> server_connections() const override;
  void set_in_transaction(bool value) override {
    conn_.in_transaction.store(value, std::memory_order_relaxed);
  }
  bool in_transaction() const override {
    return conn_.in_transaction.load(std::memory_order_relaxed);
  }
  void set_holds_locks(bool value) override {
    conn_.holds_locks.store(value, std::memory_order_relaxed);
  }
  bool holds_locks() const override { return conn_.holds_locks.load(std::memory_order_relaxed); }
  void close_after_reply() override { conn_.close_requested = true; }
  bool killed() const override { return conn_.killed.load() != CONNSCHED_KILL_NONE; }
  bool draining() const override;
  std::size_t reply_room() const override;
  void need_bytes(std::size_t total) override { conn_.need_bytes = total; }
  CoreStats core_stats() const override;
  BackendStats backend_stats() const override;

 private:
  Connection& conn_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_REQUEST_CONTEXT_H_
