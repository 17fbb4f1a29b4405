// File: core/src/server_core.cc
//
// Start-up (options, backend, socket), accept, kill, shutdown, stats.
#include "server_core.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstring>

#include "admin_json.h"
#include "inherited_listeners.h"
#include "listen_socket.h"
#include "option_values.h"
#include "proxy_header.h"
#include "request_context.h"
#include "systemd_activation.h"

namespace connsched {

namespace {
constexpr std::size_t kMaxIdleConnectionObjects = 4096;
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr std::int64_t kAcceptErrorLogIntervalMs = 5000;

std::string errno_text(int error) {
  return std::strerror(error);
}
}  // namespace

// "ADDRESS:PORT" of the socket's peer, for a connection adopted from elsewhere.
std::string peer_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown peer";
  return format_socket_address(addr);
}

ServerCore::ServerCore(ServerOptions options, std::unique_ptr<Protocol> protocol)
    : options_(std::move(options)),
      logger_(options_.program_name),
      protocol_(std::move(protocol)),
      pool_([this] { return protocol_->new_session(); }, kMaxIdleConnectionObjects) {
  auto level = parse_log_level(options_.log_level);
  if (!level) {
    throw StartupError(fmt::format("--log-level: '{}' is not one of debug|info|warning|error",
                                   options_.log_level));
  }
  logger_.set_level(*level);
  if (options_.max_connections == 0) throw StartupError("--max-connections: must be at least 1");
  if (options_.max_request_size < 16) throw StartupError("--max-request-size: must be at least 16");
  if (options_.wait_timeout == 0) throw StartupError("--wait-timeout: must be at least 1 second");
  if (options_.request_timeout == 0) {
    throw StartupError("--request-timeout: must be at least 1 second");
  }
  if (options_.max_output_buffer < 1024) {
    throw StartupError("--max-output-buffer: must be at least 1024");
  }
  if (options_.output_buffer_soft_seconds == 0) {
    throw StartupError("--output-buffer-soft-seconds: must be at least 1 second");
  }
  if (options_.max_connection_memory < (1u << 20)) {
    throw StartupError("--max-connection-memory: must be at least 1048576");
  }
  if (options_.net_write_timeout == 0) {
    throw StartupError("--net-write-timeout: must be at least 1 second");
  }
  if (options_.connect_timeout == 0) {
    throw StartupError("--connect-timeout: must be at least 1 second");
  }
  proxy_networks_ = ProxyNetworks::parse(options_.proxy_protocol_networks);
  backends_.push_back(load_instance(options_.thread_handling, /*at_startup=*/true));
  current_.store(backends_.back().get());
  make_idle_timer();
  bind_listener();
  make_admin_server();
  make_handover_server();
}

ServerCore::~ServerCore() {
  handover_.reset();                     // its thread calls into this object too
  admin_.reset();                        // its thread calls into this object: it goes first
  if (idle_timer_) idle_timer_->stop();  // so does the idle timer's (it kills through the registry)
  if (acceptor_) {
    acceptor_->request_stop();
    acceptor_->join();
  }
  if (backend_started_) {
    // run() was never reached or did not finish: close what is left, then stop.
    registry_.begin_shutdown([&](Connection& c) {
      c.killed.store(CONNSCHED_KILL_CONNECTION);
      ::shutdown(c.fd.get(), SHUT_RDWR);
    });
    registry_.wait_empty(std::chrono::steady_clock::now() +
                         std::chrono::seconds(options_.shutdown_timeout));
  }
  end_backends();
}

// The listeners come from systemd (LISTEN_FDS), from the server this process replaces
// (--inherit-from), or are bound here; a handed-over one is checked against the flags the
// operator gave, so a restart with another --port is refused rather than silently ignored.
void ServerCore::bind_listener() {
  if (options_.port < 0 || options_.port > 65535) {
    throw StartupError(fmt::format("--port: {} is out of range [0, 65535]", options_.port));
  }
  std::optional<InheritedListeners> inherited = systemd_listeners();
  if (!options_.inherit_from.empty()) {
    if (inherited) {
      throw StartupError(fmt::format(
          "--inherit-from={}: systemd passed this process its listeners too (LISTEN_FDS); "
          "give one or the other",
          options_.inherit_from));
    }
    handover_client_ = std::make_unique<HandoverClient>(options_.inherit_from);
    inherited = handover_client_->take();
  }
  if (inherited) {
    check_inherited_against_flags(*inherited, options_);
    listen_fd_ = std::move(inherited->main);
    port_ = inherited->main_address.port;
    listen_host_ = inherited->main_address.host;
    logger_.log(LogLevel::kInfo, "took the listener {}{} from {}", inherited->main_address.text(),
                inherited->admin
                    ? fmt::format(" and the admin listener {}", inherited->admin_address.text())
                    : std::string(),
                inherited->source);
    inherited_admin_ = std::move(inherited->admin);
    inherited_admin_address_ = inherited->admin_address;
    return;
  }
  ListenSocket socket =
      listen_tcp(options_.bind_address, options_.port, "--bind-address", options_.reuse_port);
  listen_fd_ = std::move(socket.fd);
  port_ = socket.port;
  listen_host_ = options_.bind_address;
}

// The admin port binds with the main port, so a taken port fails start-up the same way.
// An inherited admin listener is served even without --admin-port: the admin port moves
// with the main one, so a balancer's health check on it keeps working across a restart.
void ServerCore::make_admin_server() {
  if (options_.admin_port < 0 && !inherited_admin_) return;
  AdminActions actions;
  actions.core_stats = [this] { return core_stats(); };
  actions.backend_stats = [this] { return backend_stats(); };
  actions.kill = [this](std::uint64_t id) { return kill(id, CONNSCHED_KILL_CONNECTION); };
  actions.set_option = [this](const std::string& name, const std::string& value) {
    return set_option(name, value);
  };
  actions.shutdown = [this] { request_shutdown("shutting down (POST /shutdown)"); };
  actions.drain = [this] { return drain(); };
  actions.health = [this] { return health(); };
  actions.connections = [this] { return connection_list(); };
  actions.switch_backend = [this](const std::string& target, bool force) {
    return switch_backend(target, force, std::chrono::milliseconds(200));
  };
  if (inherited_admin_) {
    admin_ = std::make_unique<AdminServer>(
        std::move(inherited_admin_), inherited_admin_address_.host, inherited_admin_address_.port,
        std::move(actions), logger_, options_.admin_token);
    return;
  }
  admin_ = std::make_unique<AdminServer>(options_.admin_bind_address, options_.admin_port,
                                         std::move(actions), logger_, options_.admin_token);
}

// --handover-socket: bound now (a taken path fails start-up), answering once start()
// serves. A process that inherits from the same path replaces the old server's socket file.
void ServerCore::make_handover_server() {
  if (options_.handover_socket.empty()) return;
  HandoverServer::Hooks hooks;
  hooks.share = [this] { return share_listeners(); };
  hooks.listeners = [this] {
    std::vector<HandoverServer::Listener> out;
    out.push_back({"main", listen_fd_.get(), host_port(listen_host_, port_)});
    if (admin_) {
      out.push_back(
          {"admin", admin_->listen_fd(), host_port(admin_->bind_address(), admin_->port())});
    }
    return out;
  };
  hooks.handed_over = [this](pid_t pid) { on_handed_over(pid); };
  handover_ = std::make_unique<HandoverServer>(options_.handover_socket,
                                               options_.inherit_from == options_.handover_socket,
                                               std::move(hooks), logger_);
}

// Refused where the drain that follows could not keep its promise (the same reasons as
// POST /drain's), or while one already runs; otherwise, under the same lock a stop takes,
// the listeners become shared, so stop_accepting never shuts them down from here on.
std::string ServerCore::share_listeners() {
  if (current_.load()->table().flags & CONNSCHED_SCHEDULER_SERVES_OUT_OF_PROCESS) {
    return fmt::format(
        "backend '{}' serves connections in other processes, which core cannot drain at their "
        "request boundaries",
        backend_name());
  }
  std::lock_guard lock(shutdown_mutex_);
  if (shutdown_requested_ || drain_requested_) return stop_reason_;
  listener_shared_.store(true);
  return {};
}

// The new process serves on the listeners: this one stops accepting (its acceptor and
// admin thread close their descriptors, the sockets live on in the new process) and
// drains exactly as POST /drain does.
void ServerCore::on_handed_over(pid_t pid) {
  {
    std::lock_guard lock(shutdown_mutex_);
    handed_over_ = true;
    stop_accepting();
    if (admin_) admin_->release_listener();
    if (!shutdown_requested_ && !drain_requested_) {
      drain_requested_ = true;
      drain_started_ms_ = monotonic_ms();
      drain_open_ = registry_.size();
      stop_reason_ = fmt::format("draining (handed the listeners over to pid {})", pid);
      draining_.store(true);
      shutdown_cv_.notify_all();
    }
  }
  logger_.log(LogLevel::kInfo, "handed the listeners over to pid {}; draining", pid);
}

// Core closes idle connections (wait_timeout) and slow requests (request_timeout) for
// every backend, unless the backend says it does (CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT,
// ABI 1.2; a 1.0 or 1.1 table reads as 0).
// The same timer holds the deadlines of replies waiting for a full socket without a
// thread, so a backend can wait for output (CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT) only
// when it is there.
void ServerCore::make_idle_timer() {
  BackendInstance& first = *current_.load();
  if (first.table().flags & CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT) return;
  idle_timer_ = std::make_unique<IdleTimer>(
      [this](std::uint64_t id, std::int64_t now, std::int64_t* later) {
        return check_idle(id, now, later);
      },
      [this](std::uint64_t id) { kill(id, CONNSCHED_KILL_TIMEOUT); },
      [this](std::uint64_t id, std::int64_t now, std::int64_t* later) {
        return check_output(id, now, later);
      },
      [this](std::uint64_t id) { expire_output(id); });
  first.waits_for_output = (first.table().flags & CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT) != 0;
}

// A connection's entry came due. Two deadlines share it: wait_timeout since the end of
// the last request, and request_timeout since the first byte of a request still arriving
// (nginx's client_header_timeout: a client sending one byte at a time would otherwise
// push wait_timeout back for ever). The connection may have ended (gone); a request being
// served is never cut; an idle connection with bytes its backend has not read yet is
// looked at again shortly. The entry is never re-armed later than request_timeout from
// now, so a request that starts meanwhile is seen at its own deadline.
// A new connection's first check: its idle deadline, or sooner, when a request that
// starts now would pass request_timeout.
std::int64_t ServerCore::first_check_ms(const Connection& c) const {
  return std::min(c.idle_deadline_ms.load(),
                  monotonic_ms() + static_cast<std::int64_t>(options_.request_timeout) * 1000);
}

IdleDeadlines::Verdict ServerCore::check_idle(std::uint64_t id, std::int64_t now_ms,
                                              std::int64_t* later_ms) {
  constexpr std::int64_t kRecheckMs = 1000;
  const std::int64_t request_ms = static_cast<std::int64_t>(options_.request_timeout) * 1000;
  auto verdict = IdleDeadlines::Verdict::kGone;
  registry_.with_connection(id, [&](Connection& c) {
    if (c.killed.load() != CONNSCHED_KILL_NONE) return;
    verdict = IdleDeadlines::Verdict::kLater;
    if (c.in_command.load(std::memory_order_relaxed)) {
      *later_ms = now_ms + kRecheckMs;
      return;
    }
    // A reply waiting for the socket: neither idle nor a request arriving; its own
    // deadline (check_output) applies.
    if (c.write_deadline_ms.load() != 0) {
      *later_ms = now_ms + request_ms;
      return;
    }
    const std::int64_t started = c.request_started_ms.load(std::memory_order_relaxed);
    if (started != 0 && started + request_ms <= now_ms) {
      verdict = IdleDeadlines::Verdict::kExpired;
      return;
    }
    const std::int64_t idle = c.idle_deadline_ms.load(std::memory_order_relaxed);
    if (idle <= now_ms) {
      pollfd p{c.fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        *later_ms = now_ms + kRecheckMs;
      } else {
        verdict = IdleDeadlines::Verdict::kExpired;
      }
      return;
    }
    *later_ms = std::min(idle, started != 0 ? started + request_ms : now_ms + request_ms);
  });
  return verdict;
}

// When a reply waiting for the socket without a thread must be closed: at its
// net_write_timeout deadline, or sooner when its unsent bytes passed the soft limit's
// time. Gone once the reply is written (or the connection is killed or ended).
IdleDeadlines::Verdict ServerCore::check_output(std::uint64_t id, std::int64_t now_ms,
                                                std::int64_t* later_ms) {
  constexpr std::int64_t kRecheckMs = 1000;
  const std::int64_t soft_ms =
      static_cast<std::int64_t>(options_.output_buffer_soft_seconds) * 1000;
  auto verdict = IdleDeadlines::Verdict::kGone;
  registry_.with_connection(id, [&](Connection& c) {
    const int killed = c.killed.load();
    if (killed == CONNSCHED_KILL_CONNECTION || killed == CONNSCHED_KILL_TIMEOUT) return;
    const std::int64_t write = c.write_deadline_ms.load();
    if (write == 0) return;
    verdict = IdleDeadlines::Verdict::kLater;
    if (c.in_command.load(std::memory_order_relaxed)) {  // being written now
      *later_ms = now_ms + kRecheckMs;
      return;
    }
    const std::int64_t since = c.out_soft_since_ms.load();
    const std::int64_t due = since != 0 ? std::min(write, since + soft_ms) : write;
    if (due <= now_ms) {
      verdict = IdleDeadlines::Verdict::kExpired;
    } else {
      *later_ms = due;
    }
  });
  return verdict;
}

// The kill for a reply the client did not read in time, counted as the blocking write
// counts it (write_timeouts, or output_limit_closes for the soft limit) and logged at
// most once per interval: any client can cause it.
void ServerCore::expire_output(std::uint64_t id) {
  const std::int64_t now = monotonic_ms();
  const std::int64_t soft_ms =
      static_cast<std::int64_t>(options_.output_buffer_soft_seconds) * 1000;
  bool due = false;
  bool soft = false;
  registry_.with_connection(id, [&](Connection& c) {
    const std::int64_t write = c.write_deadline_ms.load();
    if (write == 0 || c.in_command.load(std::memory_order_relaxed)) return;
    const std::int64_t since = c.out_soft_since_ms.load();
    soft = since != 0 && since + soft_ms <= now;
    due = soft || write <= now;
  });
  if (!due) return;
  std::string peer = peer_name(id);  // before the kill: a shut-down socket has none
  if (!kill_counted(id, CONNSCHED_KILL_TIMEOUT,
                    soft ? &counters_.output_limit_closes : &counters_.write_timeouts)) {
    return;
  }
  LogRateLimit& limit = soft ? output_log_ : write_log_;
  auto skipped = limit.admit(now);
  if (!skipped) return;
  std::string more = *skipped ? fmt::format(" ({} more since the last line)", *skipped) : "";
  if (soft) {
    logger_.log(LogLevel::kWarning,
                "connection {} ({}): replies over output_buffer_soft_limit ({}) unsent for {} s; "
                "closing{}",
                id, peer, options_.output_buffer_soft_limit, options_.output_buffer_soft_seconds,
                more);
  } else {
    logger_.log(LogLevel::kWarning,
                "connection {} ({}): peer did not read a reply for {} s (net_write_timeout); "
                "closing{}",
                id, peer, options_.net_write_timeout, more);
  }
}

void ServerCore::start_backend() {
  init_instance(*current_.load());
  backend_started_ = true;
}

void ServerCore::start() {
  if (acceptor_) return;
  start_backend();
  if (!proxy_networks_.empty()) {
    proxy_waits_ = std::make_unique<ProxyHeaderWaits>(
        std::chrono::seconds(options_.connect_timeout), options_.max_connections,
        [this](UniqueFd fd, const sockaddr_storage& peer, const ProxyHeader& header) {
          on_proxy_header(std::move(fd), peer, header);
        },
        [this](const sockaddr_storage& peer, ProxyHeaderWaits::Failure failure,
               std::string_view why) { on_proxy_failure(peer, failure, why); });
  }
  acceptor_ = std::make_unique<Acceptor>(
      listen_fd_.get(),
      [this](UniqueFd fd, const sockaddr_storage& peer) { on_accept(std::move(fd), peer); },
      [this](int error) { on_accept_error(error); }, kAcceptPause, proxy_waits_.get());
  acceptor_->start();
  if (idle_timer_) idle_timer_->start();
  logger_.log(
      LogLevel::kInfo, "listening on {} with thread handling '{}'{}{}",
      host_port(listen_host_, port_), backend_name(), options_.reuse_port ? " (SO_REUSEPORT)" : "",
      proxy_networks_.empty()
          ? std::string()
          : fmt::format("; PROXY protocol required from {}", options_.proxy_protocol_networks));
  if (admin_) admin_->start();  // logged after the main port, which tests look for first
  // Serving on the inherited listeners now: the old server may stop accepting.
  if (handover_client_) {
    handover_client_->acknowledge(logger_);
    handover_client_.reset();
  }
  if (handover_) handover_->publish();
  notify_systemd(fmt::format("READY=1\nMAINPID={}\nSTATUS=serving on {}", ::getpid(),
                             host_port(listen_host_, port_)));
}

// SIGTERM, POST /shutdown and POST /drain share this path. A shutdown closes idle
// connections at once (the systemd and pgbouncer convention); a drain first lets each
// connection end at its own next request boundary, so a client behind a balancer loses
// nothing, and becomes a shutdown when a signal or POST /shutdown arrives meanwhile.
// Both end at --shutdown-timeout, with exit status 0.
int ServerCore::run() {
  start();
  const StopCause cause = wait_for_stop_request();
  {
    // After a handover the service goes on in the new process: systemd hears only why.
    std::lock_guard lock(shutdown_mutex_);
    notify_systemd(handed_over_ ? fmt::format("STATUS={}", stop_reason_)
                                : fmt::format("STOPPING=1\nSTATUS={}", stop_reason_));
  }
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(options_.shutdown_timeout);
  stop_accepting();
  bool escalate = true;  // idle connections still need closing
  if (cause == StopCause::kDrain) escalate = drain_connections(deadline);
  shutting_down_.store(true);
  std::size_t draining = 0;
  // Every idle connection is woken to close; busy ones answer what they received first.
  registry_.begin_shutdown([&](Connection& c) {
    ++draining;
    if (!escalate) return;
    int expected = CONNSCHED_KILL_NONE;
    c.killed.compare_exchange_strong(expected, CONNSCHED_KILL_SHUTDOWN);
    ::shutdown(c.fd.get(), SHUT_RD);
    if (BackendInstance* b = c.owner.load(); b && b->table().post_kill_notification)
      b->table().post_kill_notification(b->state, &c);
  });
  if (escalate) {
    logger_.log(LogLevel::kInfo, "shutting down: stopped accepting, draining {} connection(s)",
                draining);
  }
  if (!escalate) {
    close_remaining_connections(/*logged=*/true);  // the drain said why
  } else if (!registry_.wait_empty(deadline)) {
    close_remaining_connections(/*logged=*/false);
  }
  acceptor_->join();  // no-threads: the acceptor thread served the last connection
  if (proxy_waits_) proxy_waits_->close_all();  // its thread is gone: no header is served now
  // The handover thread answered (refusals) during the drain; it reads listen_fd_, so it
  // ends before the descriptor is closed.
  if (handover_) handover_->stop();
  listen_fd_.reset();
  if (admin_) admin_->stop();  // it answered during the drain; now nothing is left to see
  if (idle_timer_) idle_timer_->stop();
  end_backends();
  auto stats = counters_.snapshot(0, registry_.peak());
  logger_.log(LogLevel::kInfo, "shut down cleanly after {} connection(s) and {} request(s)",
              stats.connections_accepted, stats.requests);
  return 0;
}

ServerCore::StopCause ServerCore::wait_for_stop_request() {
  std::unique_lock lock(shutdown_mutex_);
  shutdown_cv_.wait(lock, [&] { return shutdown_requested_ || drain_requested_; });
  return shutdown_requested_ ? StopCause::kShutdown : StopCause::kDrain;
}

// New connections are refused from here on: the listener is shut down, not closed, so
// its descriptor cannot be reused under the acceptor (no-threads may still be serving on
// that thread). A listener handed to another process is never shut down: the socket is
// one, shared, and shutdown(2) would stop the new process accepting too; the acceptor
// only stops, and run() closes this process's descriptor after joining it. Any thread;
// twice is harmless.
void ServerCore::stop_accepting() {
  if (acceptor_) acceptor_->request_stop();
  if (!listener_shared_.load()) ::shutdown(listen_fd_.get(), SHUT_RDWR);
}

// Waits for the connections to end at their request boundaries (process_input closes
// them). True when a shutdown was requested meanwhile (the idle ones must be closed
// now); false when none is left or the deadline passed (close_remaining_connections).
bool ServerCore::drain_connections(std::chrono::steady_clock::time_point deadline) {
  std::int64_t started = 0;
  std::size_t open = 0;
  {
    std::lock_guard lock(shutdown_mutex_);
    started = drain_started_ms_;
    open = drain_open_;
  }
  logger_.log(LogLevel::kInfo,
              "draining: stopped accepting; {} connection(s) close at their next request "
              "boundary (at most {} s)",
              open, options_.shutdown_timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(shutdown_mutex_);
      if (shutdown_requested_) {
        logger_.log(LogLevel::kInfo, "drain: {}; closing idle connections now", stop_reason_);
        return true;
      }
    }
    auto step = std::min(deadline, std::chrono::steady_clock::now() + kAcceptPause);
    if (registry_.wait_empty(step)) {
      logger_.log(LogLevel::kInfo, "drained: the last connection ended {} ms after the drain began",
                  monotonic_ms() - started);
      return false;
    }
  }
  logger_.log(LogLevel::kWarning,
              "drain: {} connection(s) still open after {} s (shutdown_timeout); closing them",
              registry_.size(), options_.shutdown_timeout);
  return false;
}

// The deadline passed: every connection left is closed, busy or not; a handler that does
// not return within 2 s more makes the process exit at once.
void ServerCore::close_remaining_connections(bool logged) {
  if (registry_.size() == 0) return;
  if (!logged) {
    logger_.log(LogLevel::kWarning,
                "shutdown: {} connection(s) still busy after {} s; closing them", registry_.size(),
                options_.shutdown_timeout);
  }
  registry_.for_each([&](Connection& c) {
    c.killed.store(CONNSCHED_KILL_CONNECTION);
    ::shutdown(c.fd.get(), SHUT_RDWR);
    if (BackendInstance* b = c.owner.load(); b && b->table().post_kill_notification)
      b->table().post_kill_notification(b->state, &c);
  });
  if (!registry_.wait_empty(std::chrono::steady_clock::now() + std::chrono::seconds(2))) {
    logger_.log(LogLevel::kError, "shutdown: {} connection(s) stuck in a handler; exiting now",
                registry_.size());
    std::_Exit(1);
  }
}

void ServerCore::request_shutdown(std::string reason) {
  std::lock_guard lock(shutdown_mutex_);
  if (!shutdown_requested_) stop_reason_ = std::move(reason);
  shutdown_requested_ = true;
  shutdown_cv_.notify_all();
}

// Refused, with the reason, where a drain could not keep its promise: a backend whose
// connections are served in other processes (core cannot reach them to close each at its
// boundary), or a shutdown already under way. A second drain is not an error.
std::string ServerCore::drain() {
  if (current_.load()->table().flags & CONNSCHED_SCHEDULER_SERVES_OUT_OF_PROCESS) {
    return fmt::format(
        "backend '{}' serves connections in other processes, which core cannot close at their "
        "request boundaries; use SIGTERM or POST /shutdown",
        backend_name());
  }
  std::lock_guard lock(shutdown_mutex_);
  if (shutdown_requested_) return fmt::format("already shutting down ({})", stop_reason_);
  if (drain_requested_) return {};
  // Before the reply: a client that connects after it is refused, never served.
  stop_accepting();
  drain_requested_ = true;
  stop_reason_ = "draining (POST /drain)";
  drain_started_ms_ = monotonic_ms();
  drain_open_ = registry_.size();
  draining_.store(true);
  shutdown_cv_.notify_all();
  return {};
}

// What a balancer's health check reads (HAProxy's option httpchk): the status alone
// decides; the body says why, for the operator.
AdminResponse ServerCore::health() const {
  std::string status = "serving";
  std::string reason;
  {
    std::lock_guard lock(shutdown_mutex_);
    if (shutdown_requested_) {
      status = "shutting down";
      reason = stop_reason_;
    } else if (drain_requested_) {
      status = "draining";
      reason = stop_reason_;
    }
  }
  const std::size_t open = registry_.size();
  if (reason.empty()) {
    return AdminResponse{200,
                         "application/json",
                         fmt::format("{{\"status\": \"serving\", \"connections\": {}}}\n", open),
                         {},
                         {}};
  }
  return AdminResponse{503,
                       "application/json",
                       fmt::format("{{\"status\": {}, \"reason\": {}, \"connections\": {}}}\n",
                                   json_quote(status), json_quote(reason), open),
                       {},
                       {}};
}

std::int64_t ServerCore::idle_deadline_from_now() const {
  return monotonic_ms() + static_cast<std::int64_t>(options_.wait_timeout) * 1000;
}

void ServerCore::send_best_effort(int fd, std::string_view bytes) {
  ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) CoreCounters::bump(counters_.bytes_sent, static_cast<std::uint64_t>(n));
}

// A peer in --proxy-protocol-networks waits for its header first (off the backend's
// threads); any other is served at once, screened for a PROXY signature it may not send
// when the PROXY protocol is on.
void ServerCore::on_accept(UniqueFd fd, const sockaddr_storage& peer) {
  if (proxy_waits_ && proxy_networks_.allows(peer)) {
    proxy_waits_->add(std::move(fd), peer);
    return;
  }
  serve_accepted(std::move(fd), format_socket_address(peer), proxy_waits_ != nullptr);
}

// The header's source is the client from now on; LOCAL (a health check), v1 UNKNOWN and
// v2 UNSPEC keep the socket's own peer, as the specification says.
void ServerCore::on_proxy_header(UniqueFd fd, const sockaddr_storage& peer,
                                 const ProxyHeader& header) {
  CoreCounters::bump(counters_.proxy_headers);
  serve_accepted(std::move(fd), format_socket_address(header.has_addresses ? header.source : peer),
                 false);
}

// A connection closed before it was anyone's: counted and, rate-limited, logged.
void ServerCore::on_proxy_failure(const sockaddr_storage& peer, ProxyHeaderWaits::Failure failure,
                                  std::string_view why) {
  if (failure == ProxyHeaderWaits::Failure::kTooMany) {
    CoreCounters::bump(counters_.refused);
  } else {
    CoreCounters::bump(counters_.proxy_header_errors);
  }
  if (auto skipped = proxy_log_.admit(monotonic_ms())) {
    logger_.log(LogLevel::kWarning, "connection from {}: {}; closed{}", format_socket_address(peer),
                why, *skipped ? fmt::format(" ({} more since the last line)", *skipped) : "");
  }
}

void ServerCore::serve_accepted(UniqueFd fd, std::string client_address,
                                bool screen_proxy_signature) {
  CoreCounters::bump(counters_.accepted);
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto conn = pool_.acquire();
  conn->core = this;
  conn->id = next_id_.fetch_add(1);
  conn->idle_deadline_ms.store(idle_deadline_from_now());
  conn->client_address = std::move(client_address);
  conn->screen_proxy_signature = screen_proxy_signature;
  int raw_fd = fd.get();
  conn->fd = std::move(fd);
  Connection* raw = conn.get();
  // Counted as the backend's before it is registered, so a switch that begins now waits
  // for it; handed over below, or released at once if the switch already began.
  BackendInstance* backend = claim_current();
  conn->owner.store(backend);
  const auto added = registry_.add(conn, options_.max_connections);
  if (added != ConnectionRegistry::AddResult::kAdded) {
    conn->owner.store(nullptr);
    backend->held.fetch_sub(1);
    if (backend->held.load() == 0) switch_done_cv_.notify_all();
  }
  switch (added) {
    case ConnectionRegistry::AddResult::kAdded:
      break;
    case ConnectionRegistry::AddResult::kFull:
      CoreCounters::bump(counters_.refused);
      send_best_effort(raw_fd, protocol_->too_many_connections_reply());
      logger_.log(LogLevel::kDebug, "refused a connection: max_connections ({}) reached",
                  options_.max_connections);
      pool_.release(std::move(conn));
      return;
    case ConnectionRegistry::AddResult::kShuttingDown:
      pool_.release(std::move(conn));
      return;
  }
  if (idle_timer_) idle_timer_->watch(raw->id, first_check_ms(*raw));
  // The greeting goes out before the backend sees the connection; what does not fit the
  // socket stays in `out` and leaves with the first reply.
  {
    CurrentConnectionScope scope(raw);
    ConnectionContext ctx(*raw);
    Reply out(raw->out);
    raw->session->on_connect(out, ctx);
    if (!raw->out.empty()) {
      ssize_t n = ::send(raw_fd, raw->out.data(), raw->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        CoreCounters::bump(counters_.bytes_sent, static_cast<std::uint64_t>(n));
        raw->out.erase(0, static_cast<std::size_t>(n));
      }
    }
  }
  const std::uint64_t id = raw->id;
  if (backend->table().add_connection(backend->state, raw) != 0) {
    logger_.log(LogLevel::kWarning, "backend '{}' refused connection {}; closing it", backend->name,
                id);
    end_connection(*raw);
    return;
  }
  release_if_switched_away(id, backend);
}

// The backend new connections go to, counted as holding one more before anyone can see
// the connection. Loading `current_` and counting are two steps: a switch can commit
// between them, find the old backend holding none and end it; so the count is taken
// first and `current_` read again after it (both sequentially consistent, so either the
// switch sees this count or this thread sees the switch), and taken back on a change.
BackendInstance* ServerCore::claim_current() {
  while (true) {
    BackendInstance* backend = current_.load();
    backend->held.fetch_add(1);
    if (current_.load() == backend) return backend;
    if (backend->held.fetch_sub(1) == 1) switch_done_cv_.notify_all();
  }
}

// A switch that began while connection `id` was on its way into `backend` (accepted, or
// moved by the last switch) may not have seen it, or asked a backend that did not know
// it yet: ask for it back now that the backend has it (by id: it may have ended, or
// moved on; a second request for the same connection is harmless by the ABI).
void ServerCore::release_if_switched_away(std::uint64_t id, BackendInstance* backend) {
  if (backend == current_.load()) return;
  registry_.with_connection(id, [&](Connection& c) {
    if (c.owner.load() == backend) request_release_locked(c);
  });
}

void ServerCore::on_accept_error(int error) {
  CoreCounters::bump(counters_.accept_errors);
  std::lock_guard lock(accept_error_mutex_);
  std::int64_t now = monotonic_ms();
  if (accept_error_logged_ms_ != 0 && now - accept_error_logged_ms_ < kAcceptErrorLogIntervalMs) {
    ++accept_errors_unlogged_;
    return;
  }
  logger_.log(
      LogLevel::kWarning, "accept failed: {} ({} connection(s) open{}); pausing accept for {} ms",
      errno_text(error), registry_.size(),
      accept_errors_unlogged_
          ? fmt::format(", {} more failure(s) since the last report", accept_errors_unlogged_)
          : std::string(),
      kAcceptPause.count());
  accept_error_logged_ms_ = now;
  accept_errors_unlogged_ = 0;
}

bool ServerCore::kill(std::uint64_t id, int reason) {
  return kill_counted(id, reason, nullptr);
}

// A kill counted under `counter` (nullptr: the reason's own). A timeout that finds a
// request still arriving is request_timeout's, not wait_timeout's: the client gets the
// protocol's error first (best effort: the socket is shut down right after).
bool ServerCore::kill_counted(std::uint64_t id, int reason, CoreCounters::Counter* counter) {
  bool done = false;
  bool found = registry_.with_connection(id, [&](Connection& c) {
    int previous = c.killed.load();
    // A hard kill overrides a graceful one; nothing downgrades a hard kill.
    if (previous == CONNSCHED_KILL_CONNECTION || previous == CONNSCHED_KILL_TIMEOUT) return;
    if (previous == CONNSCHED_KILL_SHUTDOWN && reason == CONNSCHED_KILL_SHUTDOWN) return;
    c.killed.store(reason);
    done = true;
    if (counter == nullptr && reason == CONNSCHED_KILL_TIMEOUT &&
        c.request_started_ms.load() != 0) {
      counter = &counters_.requests_timed_out;
      send_best_effort(c.fd.get(), protocol_->request_timeout_reply(options_.request_timeout));
      if (auto skipped = timeout_log_.admit(monotonic_ms())) {
        logger_.log(LogLevel::kInfo,
                    "connection {} ({}): request not complete within {} s (request_timeout); "
                    "closing{}",
                    c.id, c.client_address, options_.request_timeout,
                    *skipped ? fmt::format(" ({} more since the last line)", *skipped) : "");
      }
    }
    if (counter == nullptr)
      counter = reason == CONNSCHED_KILL_TIMEOUT ? &counters_.timed_out : &counters_.killed;
    CoreCounters::bump(*counter);
    ::shutdown(c.fd.get(), reason == CONNSCHED_KILL_SHUTDOWN ? SHUT_RD : SHUT_RDWR);
    if (BackendInstance* b = c.owner.load(); b && b->table().post_kill_notification)
      b->table().post_kill_notification(b->state, &c);
  });
  return found && done;
}

// For GET /connections: a copy taken under the registry lock, sorted by id.
std::vector<std::pair<std::uint64_t, std::string>> ServerCore::connection_list() {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  registry_.for_each([&](Connection& c) { out.emplace_back(c.id, c.client_address); });
  std::sort(out.begin(), out.end());
  return out;
}

std::string ServerCore::peer_name(std::uint64_t id) {
  std::string name = "gone";
  registry_.with_connection(id, [&](Connection& c) { name = c.client_address; });
  return name;
}

// A socket accepted elsewhere (a process pool's master) becomes a connection of this
// process: registered like an accepted one, minus the greeting its acceptor already sent.
// The accepting process may name the client (its PROXY header's address): the socket's
// peer here would be the load balancer.
Connection* ServerCore::adopt(UniqueFd fd, std::string_view client_address) {
  auto conn = pool_.acquire();
  conn->core = this;
  conn->id = next_id_.fetch_add(1);
  conn->idle_deadline_ms.store(idle_deadline_from_now());
  conn->client_address =
      client_address.empty() ? peer_address(fd.get()) : std::string(client_address);
  conn->screen_proxy_signature = false;
  conn->fd = std::move(fd);
  Connection* raw = conn.get();
  BackendInstance* backend = claim_current();
  conn->owner.store(backend);
  if (registry_.add(conn, options_.max_connections) != ConnectionRegistry::AddResult::kAdded) {
    conn->owner.store(nullptr);
    backend->held.fetch_sub(1);
    pool_.release(std::move(conn));  // closes the fd
    return nullptr;
  }
  if (idle_timer_) idle_timer_->watch(raw->id, first_check_ms(*raw));
  CoreCounters::bump(counters_.accepted);
  return raw;
}

// The same reply and count as the acceptor's own refusal at max_connections, for a
// backend that counts connections core cannot see (a process pool's workers hold them).
// The connection ends even when the reply cannot be built (out of memory).
void ServerCore::refuse_connection(Connection& conn) {
  CoreCounters::bump(counters_.refused);
  try {
    send_best_effort(conn.fd.get(), protocol_->too_many_connections_reply());
    logger_.log(LogLevel::kDebug, "refused connection {}: max_connections ({}) reached", conn.id,
                options_.max_connections);
  } catch (...) {
  }
  end_connection(conn);
}

// Only at a request boundary: what core buffered (a partial request, an unwritten
// reply) or a transaction would be lost with the connection; the socket's own unread
// bytes travel with it.
int ServerCore::detach_fd(Connection& conn) {
  if (conn.in_start < conn.in.size() || !conn.out.empty() || conn.in_transaction.load() ||
      conn.killed.load() != CONNSCHED_KILL_NONE || conn.close_requested || conn.wait_depth != 0) {
    return -1;
  }
  // Under the registry's lock, which kill() holds while it reads the fd and shuts it.
  int fd = -1;
  registry_.with_connection(conn.id, [&](Connection& c) {
    if (c.killed.load() == CONNSCHED_KILL_NONE) fd = c.fd.release();
  });
  if (fd < 0) return -1;
  end_connection(conn);
  return fd;
}

// SIGHUP reaches the backend only if it can reload; the lifetime lock keeps `end` away.
bool ServerCore::reload() {
  std::shared_lock lifetime(backend_lifetime_);
  BackendInstance& b = *current_.load();
  if (b.table().reload == nullptr || !b.started || b.ended) return false;
  b.table().reload(b.state);
  return true;
}

void ServerCore::end_connection(Connection& conn) {
  std::uint64_t id = conn.id;
  auto owned = registry_.remove(id);
  if (!owned) {
    logger_.log(LogLevel::kError, "end_connection called twice for connection {}", id);
    return;
  }
  owned->fd.reset();
  buffer_total_.fetch_sub(owned->buffer_bytes.exchange(0), std::memory_order_relaxed);
  // The thread that ended it holds it, so its owner cannot change meanwhile.
  BackendInstance* b = owned->owner.load();
  if (b != nullptr && b->table().end_thread)
    b->table().end_thread(b->state, shutting_down() ? 0 : 1);
  pool_.release(std::move(owned));
  if (b != nullptr && b->held.fetch_sub(1) == 1 && switching_.load()) {
    std::lock_guard lock(handoff_mutex_);  // the switch thread waits for the count to reach 0
    switch_done_cv_.notify_all();
  }
}

const char* ServerCore::get_option(const BackendInstance& b, const char* name) const {
  auto it = b.option_values.find(normalize_option_name(name));
  return it == b.option_values.end() ? nullptr : it->second.c_str();
}

std::string ServerCore::set_option(const std::string& raw_name, const std::string& value) {
  std::string name = normalize_option_name(raw_name);
  // Shared: a switch ends the old backend only after current_ moved past it.
  std::shared_lock lifetime(backend_lifetime_);
  BackendInstance& b = *current_.load();
  const connsched_option_desc* option = find_option(b.scheduler.options, name);
  if (option == nullptr) {
    return fmt::format("unknown option '{}' for backend '{}'", raw_name, b.name);
  }
  if (!option->dynamic || b.table().set_option == nullptr) {
    return fmt::format("option '{}' cannot change at run time", name);
  }
  std::string canonical;
  if (std::string why = check_option_value(*option, value, &canonical); !why.empty()) return why;
  char err[512] = {};
  if (b.table().set_option(b.state, name.c_str(), canonical.c_str(), err, sizeof err - 1) != 0) {
    return fmt::format("{}: {}", name, err[0] ? err : "refused by the backend");
  }
  logger_.log(LogLevel::kInfo, "set {} = {}", name, canonical);
  return {};
}

namespace {
void sink_counter(void* ctx, const char* name, std::int64_t value, const char* help) {
  static_cast<BackendStats*>(ctx)->counters.push_back({name ? name : "", value, help ? help : ""});
}
void sink_table(void* ctx, const char* name, std::size_t ncolumns, const char* const* columns) {
  StatsTable table;
  table.name = name ? name : "";
  for (std::size_t i = 0; i < ncolumns; ++i)
    table.columns.emplace_back(columns[i] ? columns[i] : "");
  static_cast<BackendStats*>(ctx)->tables.push_back(std::move(table));
}
void sink_row(void* ctx, const connsched_stat_value* cells) {
  auto& stats = *static_cast<BackendStats*>(ctx);
  if (stats.tables.empty()) return;
  StatsTable& table = stats.tables.back();
  std::vector<StatValue> row;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    switch (cells[i].kind) {
      case CONNSCHED_STAT_INT:
        row.emplace_back(cells[i].i);
        break;
      case CONNSCHED_STAT_STRING:
        row.emplace_back(std::string(cells[i].s ? cells[i].s : ""));
        break;
      default:
        row.emplace_back(std::monostate{});
        break;
    }
  }
  table.rows.push_back(std::move(row));
}
}  // namespace

BackendStats ServerCore::backend_stats() const {
  BackendStats stats;
  std::shared_lock lifetime(backend_lifetime_);
  const BackendInstance& b = *current_.load();
  stats.backend = b.name;
  stats.max_threads = b.table().max_threads;
  if (b.table().stats != nullptr && b.started && !b.ended) {
    connsched_stats_sink sink{&stats, sink_counter, sink_table, sink_row};
    b.table().stats(b.state, &sink);
  }
  return stats;
}

}  // namespace connsched
