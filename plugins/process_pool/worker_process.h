// File: plugins/process_pool/worker_process.h
//
// A worker process of the pool: a single-threaded epoll loop that adopts the client
// sockets its master passes it (services->adopt_fd, in the worker's own copy of the
// server's core), serves them with services->do_command, and tells the master when it
// took a socket and when a connection ended.
#ifndef CONNSCHED_PLUGINS_PROCESS_POOL_WORKER_PROCESS_H_
#define CONNSCHED_PLUGINS_PROCESS_POOL_WORKER_PROCESS_H_

#include "channel.h"
#include "connsched/scheduler_abi.h"

namespace connsched::process_pool {

// Runs in the forked worker until it has drained (on kQuit or when the master's end of
// the channel closes), then ends the process with _exit: the worker never returns into
// the server's code, and never runs its copy of the server's exit handlers.
[[noreturn]] void run_worker_process(const connsched_services* svc, UniqueFd channel,
                                     std::int64_t shutdown_timeout_ms);

}  // namespace connsched::process_pool

#endif  // CONNSCHED_PLUGINS_PROCESS_POOL_WORKER_PROCESS_H_
