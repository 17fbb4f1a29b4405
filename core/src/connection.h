// File: core/src/connection.h
//
// A connection as core sees it. The C ABI declares `connsched_conn` opaque; this is its
// definition, so backends hold a pointer they can only pass back to the services.
//
// Who touches what: `in`, `out`, `session`, `close_requested`, `drain_sampled`, `need_bytes` and
// `wait_depth` belong
// to the one thread serving the connection (the backend guarantees there is one at a
// time), as do `out_sent` and `close_after_output`. `killed`, `in_transaction`, `holds_locks` and
// `idle_deadline_ms` are read from other threads (timers, admin) and are atomic, as are
// `in_command` (set while do_command runs, read by core's idle timer), `buffer_bytes` (read by the
// memory budget's scan), `request_started_ms`, `write_deadline_ms` and `out_soft_since_ms` (read by
// the deadline timer). `owner` and `release_requested` are atomic (a switch of backends
// writes them under the registry lock; the serving thread reads them). `backend_data` is atomic so
// that a backend may read its slot from the killing thread (post_kill_notification); what it points
// to is the backend's to synchronise.
#ifndef CONNSCHED_CORE_CONNECTION_H_
#define CONNSCHED_CORE_CONNECTION_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "connsched/protocol.h"
#include "connsched/scheduler_abi.h"
#include "connsched/unique_fd.h"

namespace connsched {
class ServerCore;
struct BackendInstance;
}  // namespace connsched

struct connsched_conn {
  connsched::ServerCore* core = nullptr;
  std::uint64_t id = 0;
  connsched::UniqueFd fd;
  std::string in;  // received, not yet consumed from in_start on
  std::size_t in_start = 0;
  std::string out;  // replies not yet written
  std::unique_ptr<connsched::Session> session;
  std::atomic<int> killed{CONNSCHED_KILL_NONE};
  std::atomic<bool> in_transaction{false};
  std::atomic<bool> holds_locks{false};  // between requests (RequestContext::set_holds_locks)
  std::atomic<std::int64_t> idle_deadline_ms{std::numeric_limits<std::int64_t>::max()};
  // What `in` and `out` hold (their capacity) as last accounted in the server's total.
  std::atomic<std::size_t> buffer_bytes{0};
  // When the first byte of the request not yet complete arrived; 0 when none is pending.
  std::atomic<std::int64_t> request_started_ms{0};
  // Since when unsent replies have been above the soft output limit; 0 when they are not.
  // Atomic: core's deadline timer reads it while the connection waits for output.
  std::atomic<std::int64_t> out_soft_since_ms{0};
  // While a reply waits for the socket without a thread (CONNSCHED_NEXT_WAIT_OUTPUT):
  // when net_write_timeout closes it; 0 when no reply waits. Read by the deadline timer.
  std::atomic<std::int64_t> write_deadline_ms{0};
  std::size_t out_sent = 0;         // bytes of `out` already written (while a reply waits)
  bool close_after_output = false;  // the connection ends once `out` is written
  std::atomic<bool> in_command{false};
  std::atomic<void*> backend_data{nullptr};
  // The backend that holds the connection; nullptr while core moves it between two
  // (a switch of thread_handling). Changed only under the registry lock, read by kill.
  std::atomic<connsched::BackendInstance*> owner{nullptr};
  // Core asked the owner for the connection back: do_command and wait_for_input return
  // CONNSCHED_NEXT_RELEASE at its next request boundary.
  std::atomic<bool> release_requested{false};
  // The client's "ADDRESS:PORT": the socket's peer, or the one its PROXY header carried.
  // Written before the connection is registered, then only read.
  std::string client_address;
  // A peer outside --proxy-protocol-networks while the PROXY protocol is on: its first
  // bytes are looked at for a PROXY signature before the protocol sees them.
  bool screen_proxy_signature = false;
  bool close_requested = false;
  // The server's drain as sampled before the current request: what its handler reads
  // (ConnectionContext::draining) and what decides the close at its boundary, so a reply
  // built before the drain began is never followed by a close it did not announce.
  bool drain_sampled = false;
  std::size_t need_bytes = 0;  // handle()'s hint: pending input it needs before progress
  int wait_depth = 0;
  // The last do_command stopped reading at its bound (kMaxReadRounds full reads): the
  // socket may hold more (conn_read_capped). Written and read by the serving thread.
  bool read_capped = false;
};

namespace connsched {
using Connection = ::connsched_conn;

/// The connection the calling thread is serving (set inside do_command), or nullptr.
/// This thread-local is core's one piece of process-wide mutable state; ScopedWait
/// reads it to find which connection is about to block.
Connection* current_connection();

/// Sets the current connection for the lifetime of the guard.
class CurrentConnectionScope {
 public:
  explicit CurrentConnectionScope(Connection* conn);
  ~CurrentConnectionScope();
  CurrentConnectionScope(const CurrentConnectionScope&) = delete;
  CurrentConnectionScope& operator=(const CurrentConnectionScope&) = delete;

 private:
  Connection* previous_;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_CONNECTION_H_
