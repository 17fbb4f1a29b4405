// File: plugins/process_pool/spawner.h
//
// The spawner (a "zygote", as Android and Chromium call it): a single-threaded process
// forked from the master at init, while the server has no thread that could hold a
// lock, and that forks every worker from then on, respawns and reloads included.
//
// Why not fork workers from the master? After init the master runs the acceptor, the
// admin thread and our own manager thread. fork() copies only the calling thread, so
// a lock another thread held at that instant (core's connection registry, its
// connection pool, malloc's arenas in a less careful libc) stays locked forever in the
// child, and the worker would hang the first time it adopts a socket. POSIX allows
// only async-signal-safe calls in such a child. The spawner has one thread, so its
// children are clean copies of a process that held no locks.
//
// Constraints on the fork at init (process_pool.cc): it happens before our own threads
// start, and core runs init before it starts any thread (scheduler_abi.h, `init`), so
// the process then has one thread. Even a thread that looks idle is not safe to fork
// beside: under gcc 12's AddressSanitizer a thread's start-up allocates
// (pthread_getattr_np's realloc) under the allocator's size-class lock, which has no
// fork handler there; a spawner forked at that instant gave every worker that lock held,
// and a worker hung for ever at its first allocation of that size, its sockets unacked.
// fork_spawner warns when another thread runs (an embedding program's). The spawner and
// workers never start threads (ThreadSanitizer could not follow them), never return into
// the server's code, and leave with _exit.
#ifndef CONNSCHED_PLUGINS_PROCESS_POOL_SPAWNER_H_
#define CONNSCHED_PLUGINS_PROCESS_POOL_SPAWNER_H_

#include <sys/types.h>

#include "channel.h"
#include "connsched/scheduler_abi.h"

namespace connsched::process_pool {

// Forks the spawner. In the parent: returns the spawner's pid and sets `control` to
// the master's end of the control channel; -1 with errno on failure. The child never
// returns.
pid_t fork_spawner(const connsched_services* svc, std::int64_t shutdown_timeout_ms,
                   UniqueFd& control);

}  // namespace connsched::process_pool

#endif  // CONNSCHED_PLUGINS_PROCESS_POOL_SPAWNER_H_
