// File: plugins/process_pool/process_pool.cc
//
// process-pool: the pre-forked process pool of nginx and php-fpm. The server
// process is the master: core's acceptor accepts, and add_connection passes each
// socket (SCM_RIGHTS) to one of N worker processes, each running its own epoll loop
// over its connections with the server's own protocol handler (a worker is a forked
// copy of the server, so it calls services->do_command in its copy of core, on the
// connection services->adopt_fd made there from the passed fd).
//
//   master (server process)     spawner (forked at init)     workers (forked by spawner)
//   acceptor -> add_connection  forks workers, reaps them,    epoll loop: adopt_fd,
//   manager thread: route, ack, reports exits to the master   do_command, end_connection
//   respawn, reload, drain
//
// What it suits: stateless servers (echo, http), where any process may serve any
// connection. Per-process state stays per process: a kv server's store would be one
// store PER WORKER, so two clients on different workers would not see each other's
// keys. Kill by id and per-connection stats of core cover only the master: once a
// worker adopted a socket, the connection lives in that worker's copy of core. So the
// master counts the pool's connections itself and refuses past max_connections.
//
// Signals: SIGTERM/SIGINT drain (core's graceful shutdown, then `end` makes each
// worker close its connections between requests and exit); SIGHUP replaces the
// workers one by one (nginx's reload), and each old worker hands its connections to the
// new generation between requests (SCM_RIGHTS); SIGKILL of a worker is noticed and the worker
// respawned, with a crash-loop breaker.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "connsched/backend.h"
#include "master.h"
#include "spawner.h"

namespace connsched::process_pool {
namespace {

struct Options {
  std::atomic<std::int64_t> workers{0};  // 0 until init: one per core
};

constexpr backend::OptionTable<Options, 1> kOptionTable{{{
    {"process_pool_workers",
     "Worker processes (default: the number of cores). Each worker has its own copy of the "
     "server's state: fine for stateless servers (echo, http); a kv server would keep one "
     "store per worker",
     CONNSCHED_OPTION_INT, nullptr, 1, 1024, nullptr, false, &Options::workers},
}}};
constexpr auto kOptions = kOptionTable.descriptors();

class ProcessPool {
 public:
  // Forks the spawner FIRST, before we start our own threads (core starts none before
  // init): see spawner.h for why every later fork happens in that single-threaded
  // process instead of here. Throws, with the reason, when the pool cannot start.
  explicit ProcessPool(const connsched_services* svc) {
    if (!CONNSCHED_SERVICES_HAS(svc, adopt_fd)) {
      throw std::runtime_error(
          "needs a server with scheduler ABI 1.1 services (adopt_fd); this one offers an older "
          "table");
    }
    Options options;
    kOptionTable.load(svc, options);
    ProcessPoolSettings settings;
    settings.workers = static_cast<std::size_t>(
        options.workers.load() > 0 ? options.workers.load()
                                   : std::max(1u, std::thread::hardware_concurrency()));
    settings.shutdown_timeout_ms = backend::option_int(svc, "shutdown_timeout", 10) * 1000;
    settings.max_connections = backend::option_int(svc, "max_connections", 0);
    UniqueFd control;
    pid_t spawner = fork_spawner(svc, settings.shutdown_timeout_ms, control);
    if (spawner < 0) {
      throw std::runtime_error(std::string("cannot fork the spawner process: ") +
                               std::strerror(errno));
    }
    master_ = std::make_unique<Master>(svc, settings, std::move(control), spawner);
    if (std::string why = master_->start(); !why.empty()) {
      throw std::runtime_error(why);  // ~Master drains what started and reaps the spawner
    }
  }

  // end: core's registry is empty (every socket was adopted by a worker or closed):
  // drain the workers, stop the spawner, and leave no process behind.
  ~ProcessPool() { master_->stop(); }

  // Acceptor thread: only queued; the manager thread passes it on, so a slow or dead
  // worker never delays accept.
  bool add_connection(connsched_conn* conn) {
    master_->add(conn);
    return true;
  }

  // SIGHUP, on core's signal thread: starts the one-by-one replacement and returns.
  void reload() { master_->reload(); }

  // The manager's scoreboard (PROCESS_POOL_WORKERS) and counters, under its lock.
  void stats(const connsched_stats_sink& sink) { master_->stats(&sink); }

 private:
  std::unique_ptr<Master> master_;
};

// The workers hold connections core cannot see (each worker's copy of core has them),
// so the pool enforces wait_timeout itself (OWN_IDLE_TIMEOUT). In the master the one
// thread is the manager; the workers are single-threaded.
constexpr connsched_scheduler kProcessPool = [] {
  auto d = backend::scheduler_descriptor<ProcessPool>(
      "process-pool",
      "pre-forked worker processes; the master passes each socket to one (SCM_RIGHTS)",
      kOptions.data(), 1);
  // Its workers hold the connections, out of core's sight: they enforce wait_timeout
  // themselves, and core cannot close them at request boundaries (no /drain).
  d.flags = CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT | CONNSCHED_SCHEDULER_SERVES_OUT_OF_PROCESS;
  return d;
}();

}  // namespace
}  // namespace connsched::process_pool

CONNSCHED_DEFINE_SCHEDULER(connsched::process_pool::kProcessPool)
