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
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "connsched/scheduler_abi.h"
#include "master.h"
#include "spawner.h"

namespace {

using connsched_plugins::Fd;
using connsched_plugins::Master;
using connsched_plugins::PoolSettings;

// A declared option without a default reads as NULL when not given.
long long option_or(const connsched_services* svc, const char* name, long long fallback) {
  const char* value = svc->get_option(svc, name);
  return value ? std::atoll(value) : fallback;
}

// Forks the spawner FIRST, while the server has no thread but core's signal thread
// (in sigtimedwait, holding no lock) and before we start our own: see spawner.h for
// why every later fork happens in that single-threaded process instead of here.
int init_pool(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  if (!CONNSCHED_SERVICES_HAS(svc, adopt_fd)) {
    std::snprintf(err, errlen,
                  "needs a server with scheduler ABI 1.1 services (adopt_fd); this "
                  "one offers an older table");
    return 1;
  }
  PoolSettings settings;
  unsigned cores = std::thread::hardware_concurrency();
  settings.workers =
      static_cast<std::size_t>(option_or(svc, "process_pool_workers", cores ? cores : 1));
  settings.shutdown_timeout_ms = option_or(svc, "shutdown_timeout", 10) * 1000;
  settings.max_connections = option_or(svc, "max_connections", 0);
  Fd control;
  pid_t spawner = connsched_plugins::fork_spawner(svc, settings.shutdown_timeout_ms, control);
  if (spawner < 0) {
    std::snprintf(err, errlen, "cannot fork the spawner process: %s", std::strerror(errno));
    return 1;
  }
  auto master = std::make_unique<Master>(svc, settings, std::move(control), spawner);
  if (std::string why = master->start(); !why.empty()) {
    std::snprintf(err, errlen, "%s", why.c_str());
    return 1;  // ~Master drains what started and reaps the spawner
  }
  *backend = master.release();
  return 0;
}

// No C++ exception may cross into core (a thread or an allocation can fail).
int process_pool_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  try {
    return init_pool(svc, backend, err, errlen);
  } catch (const std::exception& e) {
    std::snprintf(err, errlen, "%s", e.what());
    return 1;
  }
}

// Acceptor thread: only queued; the manager thread passes it on, so a slow or dead
// worker never delays accept.
int process_pool_add_connection(void* backend, connsched_conn* conn) {
  try {
    static_cast<Master*>(backend)->add(conn);
    return 0;
  } catch (const std::exception&) {
    return 1;  // out of memory: core logs and closes it
  }
}

// Core's registry is empty (every socket was adopted by a worker or closed): drain the
// workers, stop the spawner, and leave no process behind.
void process_pool_end(void* backend) {
  std::unique_ptr<Master> master(static_cast<Master*>(backend));
  master->stop();
}

// SIGHUP, on core's signal thread: starts the one-by-one replacement and returns.
void process_pool_reload(void* backend) {
  try {
    static_cast<Master*>(backend)->reload();
  } catch (const std::exception&) {
    // out of memory: no reload; the workers keep serving
  }
}

// The manager's scoreboard (PROCESS_POOL_WORKERS) and counters, under its lock.
void process_pool_stats(void* backend, const connsched_stats_sink* sink) {
  static_cast<Master*>(backend)->stats(sink);
}

constexpr connsched_option_desc kOptions[] = {
    {"process_pool_workers",
     "Worker processes (default: the number of cores). Each worker has its own copy of the "
     "server's state: fine for stateless servers (echo, http); a kv server would keep one "
     "store per worker",
     CONNSCHED_OPTION_INT, nullptr, 1, 1024, nullptr, 0},
    {nullptr, nullptr, 0, nullptr, 0, 0, nullptr, 0},
};

constexpr connsched_scheduler kProcessPool = [] {
  auto d = connsched_scheduler_header(
      "process-pool",
      "pre-forked worker processes; the master passes each socket to one (SCM_RIGHTS)");
  d.max_threads = 1;  // in the master: the manager thread; workers are single-threaded
  d.options = kOptions;
  d.init = process_pool_init;
  d.add_connection = process_pool_add_connection;
  d.end = process_pool_end;
  d.stats = process_pool_stats;
  d.reload = process_pool_reload;
  // Its workers hold the connections: core cannot close them at request boundaries.
  d.flags = CONNSCHED_SCHEDULER_SERVES_OUT_OF_PROCESS;
  return d;
}();

}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kProcessPool)
