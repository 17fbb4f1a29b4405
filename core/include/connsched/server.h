// File: connsched/server.h
//
// A connsched server: a Protocol served on a TCP port, with connections mapped onto
// threads by the scheduler backend the operator picks (--thread-handling).
//
// Example (a whole server):
//
//   int main(int argc, char** argv) {
//     connsched::ServerSpec spec;
//     spec.name = "echo_server";
//     spec.description = "Echoes each line back.";
//     spec.default_port = 7000;
//     spec.make_protocol = [] { return std::make_unique<EchoProtocol>(); };
//     return connsched::run_server_main(argc, argv, spec);
//   }
#ifndef CONNSCHED_SERVER_H_
#define CONNSCHED_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "connsched/protocol.h"

namespace CLI {
class App;
}

namespace connsched {

/// The flags every connsched server shares (mysqld-style names).
struct ServerOptions {
  std::string program_name = "connsched";  ///< names the server in its log lines
  std::string thread_handling = "one-thread-per-connection";
  std::string plugin_dir;                  ///< empty: the build's or install's scheduler folder
  std::string bind_address = "127.0.0.1";  ///< IPv4 or IPv6 ("::" also takes IPv4)
  int port = 0;                            ///< 0: an ephemeral port (logged at start)
  /// SO_REUSEPORT on the main listener: several processes bind one port and the kernel
  /// spreads connections over them.
  bool reuse_port = false;
  /// Peers that must begin each connection with a PROXY protocol v1 or v2 header (MariaDB's
  /// proxy_protocol_networks): comma-separated IPv4/IPv6 addresses or CIDR networks,
  /// "localhost", or "*"; empty: none (the PROXY protocol is off).
  std::string proxy_protocol_networks;
  /// Seconds a connection from those networks may take to send its PROXY header.
  std::uint32_t connect_timeout = 10;
  std::uint32_t max_connections = 1000;
  std::uint32_t wait_timeout = 28800;    ///< seconds a connection may sit idle
  std::uint32_t net_write_timeout = 60;  ///< seconds a reply may wait for a full socket
  /// Bytes of unconsumed input a connection may hold (one request, or the unfinished
  /// rest of a pipeline), at most; more gets request_too_large_reply and a close.
  std::uint64_t max_request_size = 1 << 20;
  /// Seconds a request may take to arrive in full, from its first byte (nginx's
  /// client_header_timeout/client_body_timeout); then request_timeout_reply and a close.
  std::uint32_t request_timeout = 30;
  /// Bytes of replies a connection may hold unsent: one request's reply that makes the
  /// output buffer larger closes the connection (Redis' client-output-buffer-limit hard).
  std::uint64_t max_output_buffer = std::uint64_t{32} << 20;
  /// Unsent replies above this many bytes for output_buffer_soft_seconds close the
  /// connection (Redis' soft limit and its time); 0: no soft limit.
  std::uint64_t output_buffer_soft_limit = std::uint64_t{8} << 20;
  std::uint32_t output_buffer_soft_seconds = 10;
  /// Bytes all connections' input and output buffers may hold together (Redis'
  /// maxmemory-clients); past it the connections holding most are closed first.
  std::uint64_t max_connection_memory = std::uint64_t{1} << 30;
  std::uint32_t shutdown_timeout = 10;  ///< seconds a graceful shutdown may take
  std::string log_level = "info";
  int admin_port = -1;  ///< the admin port (HTTP: /stats, /metrics, ...); 0: ephemeral, -1: off
  std::string admin_bind_address = "127.0.0.1";
  /// When not empty, every admin request needs "Authorization: Bearer <admin_token>".
  std::string admin_token;
  /// An AF_UNIX socket path this server listens on for a new process of it that asks for
  /// its listeners (the new one's --inherit-from); empty: none.
  std::string handover_socket;
  /// Take the listening sockets from the server on this AF_UNIX path (its
  /// --handover-socket) instead of binding; it drains once this one serves. Empty: bind.
  std::string inherit_from;
  /// Whether --port, --bind-address, --admin-port, --admin-bind-address were given (on the
  /// command line or in --defaults-file): an inherited listener must then match them.
  bool port_given = false;
  bool bind_address_given = false;
  bool admin_port_given = false;
  bool admin_bind_address_given = false;
  /// The backend's own options (`--name=value` the backend declares), by
  /// underscore name; validated against the backend's declarations at start.
  std::map<std::string, std::string> backend_options;
};

/// A failure to start: the message is one line naming what and why. Exit status 2.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Core's own counters.
struct CoreStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  ///< max_connections reached
  std::uint64_t connections_current = 0;
  std::uint64_t connections_peak = 0;  ///< most open at once since start
  std::uint64_t connections_killed = 0;
  std::uint64_t connections_timed_out = 0;
  std::uint64_t requests = 0;
  std::uint64_t requests_too_large = 0;
  std::uint64_t handler_errors = 0;
  std::uint64_t write_timeouts = 0;
  std::uint64_t requests_timed_out = 0;       ///< not complete within request_timeout
  std::uint64_t output_limit_closes = 0;      ///< unsent replies over a hard or soft limit
  std::uint64_t connections_over_memory = 0;  ///< closed for max_connection_memory
  std::uint64_t connection_buffer_bytes = 0;  ///< all connections' buffers now (a gauge)
  std::uint64_t accept_errors = 0;
  std::uint64_t proxy_headers = 0;          ///< PROXY headers accepted (LOCAL included)
  std::uint64_t proxy_header_errors = 0;    ///< malformed, truncated or late: closed
  std::uint64_t proxy_headers_refused = 0;  ///< sent from a network not allowed: closed
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t backend_switches = 0;            ///< thread_handling switches completed
  std::uint64_t backend_switches_refused = 0;    ///< POST /set?thread_handling= refused
  std::uint64_t connections_moved = 0;           ///< connections moved by those switches
  std::uint64_t backend_switch_in_progress = 0;  ///< 1 while a switch moves connections (gauge)
  std::uint64_t last_switch_ms = 0;  ///< how long the last completed switch took (gauge)
  std::vector<std::uint64_t> waits;  ///< per connsched_wait_type
};

/// One cell of a backend's stats table.
using StatValue = std::variant<std::monostate, std::int64_t, std::string>;

struct StatsTable {
  std::string name;
  std::vector<std::string> columns;
  std::vector<std::vector<StatValue>> rows;
};

struct StatsCounter {
  std::string name;
  std::int64_t value = 0;
  std::string help;
};

/// What the backend reported through its stats callback.
struct BackendStats {
  std::string backend;
  /// The descriptor's max_threads: most threads the backend will run (0: unlimited).
  std::uint32_t max_threads = 0;
  std::vector<StatsCounter> counters;
  std::vector<StatsTable> tables;
  /// The counter's value, or `fallback` when the backend does not report it.
  std::int64_t counter(const std::string& name, std::int64_t fallback = -1) const;
  const StatsTable* table(const std::string& name) const;
};

/// What a switch of thread_handling came to (Server::switch_backend, POST
/// /set?thread_handling=NAME_OR_PATH).
struct BackendSwitch {
  /// 200: done (every connection moved); 202: the new backend serves and the old one's
  /// connections move at their request boundaries; 409: another switch, or a shutdown,
  /// is under way; 422: refused (`error` says why), the old backend still serves.
  int status = 0;
  std::string error;
  std::string from;
  std::string to;
  std::uint64_t connections = 0;  ///< open when it began: what moves
  std::uint64_t moved = 0;        ///< moved so far
  std::int64_t elapsed_ms = 0;    ///< so far, or in all when done
};

class ServerCore;

/// A running server. Construction loads the backend and binds the port (throws
/// StartupError); `run` blocks until shutdown.
class Server {
 public:
  Server(ServerOptions options, std::unique_ptr<Protocol> protocol);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The bound port (the ephemeral one when options.port was 0).
  std::uint16_t port() const;
  /// The loaded backend's name.
  std::string backend_name() const;
  /// The path of the loaded backend's shared object.
  std::string backend_path() const;
  /// The admin port's bound port, 0 when there is no admin port.
  std::uint16_t admin_port() const;

  /// Starts the backend (its init) and the acceptor; throws StartupError when the
  /// backend's init fails. Called by run() if not called before.
  void start();
  /// Serves until shutdown is requested and completes; returns the exit status.
  int run();
  /// Starts a graceful shutdown (any thread; also SIGTERM/SIGINT under run_server_main).
  /// `reason` is what GET /health says meanwhile (empty: "shutdown requested").
  void request_shutdown(const std::string& reason = {});
  /// Starts a drain (POST /drain): stop accepting, close each connection at its next
  /// request boundary (see RequestContext::draining), and let run() return 0 once none is
  /// left or after shutdown_timeout. Returns why it cannot (a backend serving connections
  /// in other processes, a shutdown under way), empty when it began or already had.
  std::string drain();

  CoreStats core_stats() const;
  BackendStats backend_stats() const;
  /// Kills the connection with this id; false when there is none.
  bool kill(std::uint64_t connection_id);
  /// Asks the backend to reload (what SIGHUP does under run_server_main); false when
  /// the backend has no `reload`.
  bool reload();
  /// Changes a backend option at run time; returns an error message, empty on success.
  std::string set_option(const std::string& name, const std::string& value);
  /// Switches thread_handling at run time (a name in the plugin folder, or a path): the
  /// new backend is loaded and initialised with the checks of start-up, serves every new
  /// connection, and takes each open one at its next request boundary; the old one is
  /// then ended. Refused (422) when the old backend cannot hand connections back (no
  /// release_connection: ABI 1.0/1.1), or the new one cannot hold the open connections
  /// (its max_threads) unless `force`. Waits up to `wait` for the move to finish.
  /// `backend_options` (name -> value), when given, are the new backend's options and the
  /// server's from then on; otherwise those of the server's that it declares.
  BackendSwitch switch_backend(const std::string& name_or_path, bool force = false,
                               std::chrono::milliseconds wait = std::chrono::milliseconds(200),
                               const std::map<std::string, std::string>* backend_options = nullptr);
  /// True once no switch is moving connections, waiting up to `timeout`.
  bool wait_for_switch(std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<ServerCore> core_;
};

/// What a server executable declares about itself.
struct ServerSpec {
  std::string name;
  std::string description;
  int default_port = 0;
  /// Server-specific flags, added to the shared ones.
  std::function<void(CLI::App&)> add_options;
  /// Makes the protocol, after the command line was parsed.
  std::function<std::unique_ptr<Protocol>()> make_protocol;
};

/// Parses the command line, loads the backend, serves until SIGTERM/SIGINT. Returns the
/// process exit status: 0 after a clean shutdown, 2 for bad flags or a bad backend.
int run_server_main(int argc, char** argv, const ServerSpec& spec);

}  // namespace connsched

#endif  // CONNSCHED_SERVER_H_
