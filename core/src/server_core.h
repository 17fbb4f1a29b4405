// File: core/src/server_core.h
//
// The server behind connsched::Server: the loaded backend, the listening socket and
// acceptor, the connection registry and pool, and the services the backend calls.
#ifndef CONNSCHED_CORE_SERVER_CORE_H_
#define CONNSCHED_CORE_SERVER_CORE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>

#include "acceptor.h"
#include "admin_server.h"
#include "backend_instance.h"
#include "connection.h"
#include "connection_pool.h"
#include "connection_registry.h"
#include "connsched/server.h"
#include "core_counters.h"
#include "idle_timer.h"
#include "listener_handover.h"
#include "log.h"
#include "plugin_loader.h"
#include "proxy_header_waits.h"
#include "proxy_networks.h"

namespace connsched {

class ServerCore {
 public:
  ServerCore(ServerOptions options, std::unique_ptr<Protocol> protocol);
  ~ServerCore();

  std::uint16_t port() const { return port_; }
  std::uint16_t admin_port() const { return admin_ ? admin_->port() : 0; }
  const std::string& backend_name() const { return current_.load()->name; }
  const std::string& backend_path() const { return current_.load()->scheduler.path; }
  void start();
  int run();
  /// `reason` is what GET /health reports while the shutdown runs.
  void request_shutdown(std::string reason = "shutdown requested");
  /// Starts a drain (POST /drain): an error message when it cannot, empty when it began
  /// or was already under way.
  std::string drain();
  /// GET /health: 200 while serving, 503 with the reason while draining or shutting down.
  AdminResponse health() const;
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

  CoreStats core_stats() const {
    CoreStats s = counters_.snapshot(registry_.size(), registry_.peak());
    s.connection_buffer_bytes = buffer_total_.load(std::memory_order_relaxed);
    s.backend_switch_in_progress = switching_.load() ? 1 : 0;
    s.last_switch_ms = last_switch_ms_.load(std::memory_order_relaxed);
    return s;
  }
  // A live switch of thread_handling (backend_switch.cc).
  BackendSwitch switch_backend(const std::string& name_or_path, bool force,
                               std::chrono::milliseconds wait,
                               const std::map<std::string, std::string>* backend_options = nullptr);
  bool wait_for_switch(std::chrono::milliseconds timeout);
  std::int64_t since_switch_us() const;
  void return_connection(Connection& conn);
  BackendStats backend_stats() const;
  bool kill(std::uint64_t id, int reason);
  bool reload();
  std::string set_option(const std::string& name, const std::string& value);
  Logger& logger() { return logger_; }
  std::size_t max_output_buffer() const { return options_.max_output_buffer; }

  // The services (services.cc); each documented in scheduler_abi.h.
  int do_command(Connection& conn);
  int wait_for_input(Connection& conn);
  void end_connection(Connection& conn);
  Connection* adopt(UniqueFd fd, std::string_view client_address = {});
  // Open connections (id, client address) sorted by id: GET /connections and
  // RequestContext::server_connections.
  std::vector<std::pair<std::uint64_t, std::string>> connection_list();
  void refuse_connection(Connection& conn);
  int detach_fd(Connection& conn);
  void wait_begin(Connection& conn, int type);
  void wait_end(Connection& conn);
  const char* get_option(const BackendInstance& backend, const char* name) const;
  bool shutting_down() const { return shutting_down_.load(); }

 private:
  void bind_listener();
  enum class StopCause { kShutdown, kDrain };
  StopCause wait_for_stop_request();
  void stop_accepting();
  bool drain_connections(std::chrono::steady_clock::time_point deadline);
  void close_remaining_connections(bool logged);
  void make_admin_server();
  void make_handover_server();
  std::string share_listeners();
  void on_handed_over(pid_t pid);
  void start_backend();
  // backend_switch.cc
  std::unique_ptr<BackendInstance> load_instance(
      const std::string& name_or_path, bool at_startup,
      const std::map<std::string, std::string>* backend_options = nullptr);
  void init_instance(BackendInstance& b);
  std::string switch_refusal(const BackendInstance& from, const BackendInstance& to,
                             bool force) const;
  void request_release_locked(Connection& c);
  BackendInstance* claim_current();
  void release_if_switched_away(std::uint64_t id, BackendInstance* backend);
  void run_switch(std::stop_token stop, BackendInstance* from, BackendInstance* to,
                  std::uint64_t open);
  void hand_over(std::stop_token stop);
  BackendSwitch switch_status() const;
  void finish_switch();
  void end_backends();
  bool owner_releases(const Connection& c) const;
  void on_accept(UniqueFd fd, const sockaddr_storage& peer);
  void serve_accepted(UniqueFd fd, std::string client_address, bool screen_proxy_signature);
  void on_proxy_header(UniqueFd fd, const sockaddr_storage& peer, const ProxyHeader& header);
  void on_proxy_failure(const sockaddr_storage& peer, ProxyHeaderWaits::Failure failure,
                        std::string_view why);
  bool screen_first_bytes(Connection& conn);
  void on_accept_error(int error);
  // What writing the pending replies came to; kBlocked only when the backend waits for
  // output itself (CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT).
  enum class Flush { kDone, kBlocked, kFailed };
  enum class Processed { kWaitInput, kWaitOutput, kClose };
  Processed process_input(Connection& conn);
  Flush flush(Connection& conn);
  bool soft_limit_passed(Connection& conn, std::size_t unsent, std::int64_t now_ms,
                         std::int64_t* left_ms);
  void wait_for_output(Connection& conn, std::int64_t deadline_ms);
  int resume_output(Connection& conn);
  IdleDeadlines::Verdict check_output(std::uint64_t id, std::int64_t now_ms,
                                      std::int64_t* later_ms);
  void expire_output(std::uint64_t id);
  bool over_output_limit(Connection& conn);
  void release_spare_buffers(Connection& conn);
  void account_buffers(Connection& conn);
  void enforce_memory_budget();
  bool kill_counted(std::uint64_t id, int reason, CoreCounters::Counter* counter);
  std::string peer_name(std::uint64_t id);
  void send_best_effort(int fd, std::string_view bytes);
  void ensure_thread_initialized(Connection& c);
  int do_command_once(Connection& conn);
  std::int64_t idle_deadline_from_now() const;
  void make_idle_timer();
  std::int64_t first_check_ms(const Connection& c) const;
  IdleDeadlines::Verdict check_idle(std::uint64_t id, std::int64_t now_ms, std::int64_t* later_ms);

  ServerOptions options_;
  Logger logger_;
  std::unique_ptr<Protocol> protocol_;
  // Every backend this server loaded (one, or more after switches), in load order;
  // appended under switch_mutex_, never removed before the server goes.
  std::vector<std::unique_ptr<BackendInstance>> backends_;
  // The one new connections go to.
  std::atomic<BackendInstance*> current_{nullptr};
  std::atomic<bool> backend_started_{false};
  mutable std::shared_mutex backend_lifetime_;  // stats, set_option (shared) vs end (exclusive)

  // A switch of thread_handling: one at a time (switch_mutex_), its thread moving the
  // returned connections to the new backend and ending the old one.
  mutable std::mutex switch_mutex_;
  std::atomic<bool> switching_{false};
  std::string switch_from_, switch_to_;  // under switch_mutex_
  std::int64_t switch_started_ms_ = 0;   // under switch_mutex_
  std::uint64_t switch_open_ = 0;        // under switch_mutex_
  std::atomic<std::uint64_t> switch_moved_{0};
  std::atomic<std::uint64_t> last_switch_ms_{0};
  // Where a switch's time goes (its log line): steady-clock µs since its start of the
  // last connection returned by the old backend, and the hand-over thread's time inside
  // the new backend's add_connection, summed.
  std::atomic<std::int64_t> switch_started_us_{0};  // steady clock, µs since its epoch
  std::atomic<std::int64_t> switch_last_return_us_{0};
  std::atomic<std::int64_t> switch_adding_us_{0};
  // Readable while a switch runs: wakes every thread blocked in wait_for_input.
  UniqueFd switch_wake_;
  std::mutex handoff_mutex_;
  std::condition_variable handoff_cv_;  // the hand-over threads: a connection was returned
  // The switch's thread: the old backend's count reached 0, or the queue emptied. Apart
  // from handoff_cv_, so 500 returns do not wake it 500 times.
  std::condition_variable switch_done_cv_;
  // Returned, not yet given to the new backend (and which one: the switch's target).
  std::deque<std::pair<Connection*, BackendInstance*>> handoff_;
  std::jthread switch_thread_;  // waits for the old backend to hold none, then ends it
  // Each switch's hand-over thread calls the new backend's add_connection. Joined at a
  // later switch once it has left (a thread never joined keeps its stack mapped: 100
  // switches kept 100 stacks, +4 MB of RSS), never waited for before shutdown: one may
  // be serving inside no-threads' add_connection.
  struct HandOverThread {
    std::atomic<bool> done{false};
    std::jthread thread;  // last: it sets `done`, so it is joined before `done` goes
  };
  std::vector<std::unique_ptr<HandOverThread>> handover_threads_;  // under switch_mutex_

  UniqueFd listen_fd_;
  std::uint16_t port_ = 0;
  std::string listen_host_;  // the address listened on, as logs write it
  // Set once the listeners went to another process (--handover-socket): from then on
  // they are only closed, never shut down (that would stop the other process's too).
  std::atomic<bool> listener_shared_{false};
  // --inherit-from: the old server's connection, until this one serves and says so.
  std::unique_ptr<HandoverClient> handover_client_;
  // An admin listener taken from elsewhere (--inherit-from, LISTEN_FDS), for the admin server.
  UniqueFd inherited_admin_;
  ListenerAddress inherited_admin_address_;
  std::unique_ptr<HandoverServer> handover_;       // null without --handover-socket
  ProxyNetworks proxy_networks_;                   // immutable after construction
  std::unique_ptr<ProxyHeaderWaits> proxy_waits_;  // the acceptor thread's; null: PROXY off
  std::unique_ptr<Acceptor> acceptor_;
  ConnectionPool pool_;
  ConnectionRegistry registry_;
  mutable CoreCounters counters_;
  std::atomic<std::uint64_t> next_id_{1};
  std::unique_ptr<AdminServer> admin_;     // null when --admin-port is not given
  std::unique_ptr<IdleTimer> idle_timer_;  // null when the backend owns wait_timeout
  // The backend takes CONNSCHED_NEXT_WAIT_OUTPUT (its flag, and core's timer is there).

  // The memory budget: what every connection's buffers hold together, and the one
  // enforcer at a time (others skip: the running one closes enough for all).
  std::atomic<std::uint64_t> buffer_total_{0};
  std::mutex budget_mutex_;
  // Lines any client can cause, one per interval each.
  LogRateLimit memory_log_{5000};
  LogRateLimit output_log_{5000};
  LogRateLimit timeout_log_{5000};
  LogRateLimit proxy_log_{5000};
  LogRateLimit write_log_{5000};

  mutable std::mutex shutdown_mutex_;
  std::condition_variable shutdown_cv_;
  bool shutdown_requested_ = false;  // under shutdown_mutex_, as are the two below
  bool drain_requested_ = false;
  // When the drain began and the connections open then (under shutdown_mutex_): the
  // fast ones may be gone before the run thread logs.
  std::int64_t drain_started_ms_ = 0;
  std::size_t drain_open_ = 0;
  std::string stop_reason_;   // what /health says once a drain or shutdown began
  bool handed_over_ = false;  // the drain is a handover's: systemd's service is not stopping
  std::atomic<bool> shutting_down_{false};
  // POST /drain: connections close at their next request boundary (protocol.h).
  std::atomic<bool> draining_{false};

  // Accept-error reporting: the first error logs at once, repeats are summarised.
  std::mutex accept_error_mutex_;
  std::int64_t accept_error_logged_ms_ = 0;
  std::uint64_t accept_errors_unlogged_ = 0;
};

/// "ADDRESS:PORT" of a connected socket's peer, for log lines.
std::string peer_address(int fd);

/// CLOCK_MONOTONIC in milliseconds.
std::int64_t monotonic_ms();

/// Fills the services table of `backend` (its host), which points back at its server.
void fill_services(connsched_services& services, BackendInstance* backend);

}  // namespace connsched

#endif  // CONNSCHED_CORE_SERVER_CORE_H_
