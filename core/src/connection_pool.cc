// File: core/src/connection_pool.cc
#include "connection_pool.h"

namespace connsched {

namespace {
// Buffers above this are freed on release: one huge request must not pin memory.
constexpr std::size_t kKeepBufferBytes = 64 * 1024;

thread_local Connection* tls_current = nullptr;
}  // namespace

Connection* current_connection() {
  return tls_current;
}

CurrentConnectionScope::CurrentConnectionScope(Connection* conn) : previous_(tls_current) {
  tls_current = conn;
}
CurrentConnectionScope::~CurrentConnectionScope() {
  tls_current = previous_;
}

std::unique_ptr<Connection> ConnectionPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++created_;
  }
  // Made outside the lock: a session's constructor may allocate.
  auto conn = std::make_unique<Connection>();
  conn->session = make_session_();
  return conn;
}

void ConnectionPool::release(std::unique_ptr<Connection> conn) {
  conn->fd.reset();
  conn->id = 0;
  conn->in.clear();
  conn->in_start = 0;
  conn->out.clear();
  if (conn->in.capacity() > kKeepBufferBytes) std::string().swap(conn->in);
  if (conn->out.capacity() > kKeepBufferBytes) std::string().swap(conn->out);
  conn->killed.store(CONNSCHED_KILL_NONE);
  conn->in_transaction.store(false);
  conn->holds_locks.store(false);
  conn->idle_deadline_ms.store(std::numeric_limits<std::int64_t>::max());
  conn->buffer_bytes.store(0);
  conn->request_started_ms.store(0);
  conn->out_soft_since_ms.store(0);
  conn->write_deadline_ms.store(0);
  conn->out_sent = 0;
  conn->close_after_output = false;
  conn->backend_data.store(nullptr);
  conn->owner.store(nullptr);
  conn->release_requested.store(false);
  conn->in_command.store(false);
  conn->close_requested = false;
  conn->need_bytes = 0;
  conn->wait_depth = 0;
  if (conn->session) conn->session->reset();
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
}

std::size_t ConnectionPool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

std::size_t ConnectionPool::created() const {
  std::lock_guard lock(mutex_);
  return created_;
}

}  // namespace connsched
