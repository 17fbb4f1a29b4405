/*
 * File: connsched/scheduler_abi.h
 *
 * The C ABI between connsched's core and a scheduler backend: how a server maps
 * connections onto threads. It is MySQL's `scheduler_functions` table made loadable:
 * a backend is a shared object that exports ONE function, `connsched_scheduler_entry`,
 * returning a pointer to a constant `connsched_scheduler` descriptor. Core validates the
 * descriptor (magic, ABI version, size, name, required members), copies it, and calls
 * the backend only through that copy. Core passes the backend a services table
 * (`connsched_services`) so the backend never links against core (the way SQLite hands
 * extensions `sqlite3_api_routines`).
 *
 * This header is plain C99 so a backend may be written in C or built by another
 * compiler. Versioning follows `sqlite3_vfs`: members are only ever appended; each
 * minor version marks where its members end; a backend built against an older minor
 * loads (its missing members read as NULL); another major is refused.
 *
 * Example (a complete, if useless, backend):
 *
 *   static int my_init(const connsched_services* svc, void** backend, char* err, size_t n);
 *   static int my_add(void* backend, connsched_conn* conn);
 *   static void my_end(void* backend);
 *   static const connsched_scheduler kMine = {
 *       CONNSCHED_SCHEDULER_HEADER_INIT, "mine", "one line that says what it does",
 *       .init = my_init, .add_connection = my_add, .end = my_end};
 *   CONNSCHED_DEFINE_SCHEDULER(kMine)
 *
 * Threads and locks, in one place (each member repeats what applies to it):
 *   - core calls `init`, `end` and `stats` with no core lock held;
 *   - `add_connection` runs on the acceptor thread, no lock held;
 *   - `wait_begin`/`wait_end` run on the thread serving the connection, from inside
 *     `do_command`, no core lock held;
 *   - `post_kill_notification` runs on the killing thread (admin, signal, a backend's
 *     timer) WITH core's connection-registry lock held: it must not block and must not
 *     call `end_connection` or `kill_connection`;
 *   - `reload` runs on core's signal thread (SIGHUP), no lock held;
 *   - `release_connection` (1.2) runs like `post_kill_notification`, with the registry
 *     lock held; the thread holding the connection then calls `return_connection`;
 *   - a connection is served by at most one thread at a time: the backend guarantees it.
 *
 * Version history: 1.0 the MySQL members, set_option and stats; 1.1 appends the
 * descriptor's `reload` and the services' `adopt_fd`; 1.2 appends, in the order they
 * landed, the members marked "version 1.2" below: the services' conn_holds_locks,
 * refuse_connection, detach_fd, conn_client_address, adopt_fd_as, return_connection
 * (with the descriptor's release_connection and CONNSCHED_NEXT_RELEASE: a live switch
 * of thread_handling; a backend without release_connection cannot be switched away
 * from) and conn_read_capped; the descriptor's flags (OWN_IDLE_TIMEOUT: core otherwise
 * enforces wait_timeout; SERVES_OUT_OF_PROCESS: core refuses POST /drain;
 * WAITS_FOR_OUTPUT: do_command may return CONNSCHED_NEXT_WAIT_OUTPUT instead of
 * blocking on a full socket; THREAD_PER_CONNECTION: max_threads bounds its
 * connections); and it makes the per-connection slot atomic, readable from
 * post_kill_notification. Core accepts 1.0, 1.1 and 1.2 tables.
 */
#ifndef CONNSCHED_SCHEDULER_ABI_H_
#define CONNSCHED_SCHEDULER_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "CSCH" read as a little-endian FourCC. */
#define CONNSCHED_ABI_MAGIC 0x48435343u
#define CONNSCHED_ABI_MAJOR 1
#define CONNSCHED_ABI_MINOR 2

/* The one symbol a backend exports. */
#define CONNSCHED_ENTRY_SYMBOL "connsched_scheduler_entry"

#if defined(__GNUC__) || defined(__clang__)
#define CONNSCHED_EXPORT __attribute__((visibility("default")))
#else
#define CONNSCHED_EXPORT
#endif

/* A connection, owned by core. Opaque to backends: use the services to read it. */
typedef struct connsched_conn connsched_conn;

/* Wait types, numbered as MariaDB's `thd_wait_type` (plus UNKNOWN = 0). */
typedef enum connsched_wait_type {
  CONNSCHED_WAIT_UNKNOWN = 0,
  CONNSCHED_WAIT_SLEEP = 1,
  CONNSCHED_WAIT_DISKIO = 2,
  CONNSCHED_WAIT_ROW_LOCK = 3,
  CONNSCHED_WAIT_GLOBAL_LOCK = 4,
  CONNSCHED_WAIT_META_DATA_LOCK = 5,
  CONNSCHED_WAIT_TABLE_LOCK = 6,
  CONNSCHED_WAIT_USER_LOCK = 7,
  CONNSCHED_WAIT_BINLOG = 8,
  CONNSCHED_WAIT_GROUP_COMMIT = 9,
  CONNSCHED_WAIT_SYNC = 10,
  CONNSCHED_WAIT_NET = 11,
  CONNSCHED_WAIT_TYPE_COUNT = 12
} connsched_wait_type;

/* What `do_command` and `wait_for_input` tell the backend to do next. */
typedef enum connsched_next {
  CONNSCHED_NEXT_WAIT_INPUT = 0, /* idle: wait until the socket is readable again */
  CONNSCHED_NEXT_READY = 1,      /* (wait_for_input only) input is there: call do_command */
  CONNSCHED_NEXT_CLOSE = 2,      /* done: call end_connection */
  /* (do_command only, version 1.2, and only to a backend whose descriptor sets
   * CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT) a reply did not fit the socket: wait until it
   * is writable (EPOLLOUT), then call do_command again, which writes the rest and goes
   * on with the requests already received. Core enforces net_write_timeout and the
   * soft output limit meanwhile, through the kill path (see that flag). */
  CONNSCHED_NEXT_WAIT_OUTPUT = 3,
  /* (do_command and wait_for_input, version 1.2, and only to a backend whose descriptor
   * has release_connection) core asked for the connection back (a switch of
   * thread_handling) and it is at a request boundary: stop watching its fd and call
   * services->return_connection(conn) instead of end_connection. */
  CONNSCHED_NEXT_RELEASE = 4
} connsched_next;

/* Why a connection was killed (`conn_killed`, `kill_connection`). */
typedef enum connsched_kill_reason {
  CONNSCHED_KILL_NONE = 0,
  CONNSCHED_KILL_CONNECTION = 1, /* an operator's kill: close now */
  CONNSCHED_KILL_TIMEOUT = 2,    /* wait_timeout passed while idle: close now */
  CONNSCHED_KILL_SHUTDOWN = 3    /* graceful shutdown: answer what was received, then close */
} connsched_kill_reason;

typedef enum connsched_log_level {
  CONNSCHED_LOG_DEBUG = 0,
  CONNSCHED_LOG_INFO = 1,
  CONNSCHED_LOG_WARNING = 2,
  CONNSCHED_LOG_ERROR = 3
} connsched_log_level;

/* Option types a backend may declare; core validates values before the backend sees them. */
typedef enum connsched_option_type {
  CONNSCHED_OPTION_INT = 0,   /* decimal integer within [min, max] */
  CONNSCHED_OPTION_BOOL = 1,  /* on|off|true|false|1|0|yes|no */
  CONNSCHED_OPTION_ENUM = 2,  /* one of `choices`, a '|'-separated list */
  CONNSCHED_OPTION_STRING = 3 /* anything */
} connsched_option_type;

/* One option a backend takes, as `--name=value` on the command line (dashes or
 * underscores) and as `set_option(name, value)` at run time when `dynamic` is 1.
 * A backend's `options` array ends with an entry whose name is NULL. */
typedef struct connsched_option_desc {
  const char* name; /* lowercase with underscores: "thread_pool_size" */
  const char* help;
  int type;                  /* connsched_option_type */
  const char* default_value; /* as text; may be NULL for "no default" (then unset) */
  int64_t min_value;         /* INT only */
  int64_t max_value;         /* INT only */
  const char* choices;       /* ENUM only */
  int dynamic;               /* 1: may change at run time through set_option */
} connsched_option_desc;

/* One cell of a stats table. */
typedef enum connsched_stat_kind {
  CONNSCHED_STAT_INT = 0,
  CONNSCHED_STAT_STRING = 1,
  CONNSCHED_STAT_NULL = 2
} connsched_stat_kind;

typedef struct connsched_stat_value {
  int kind; /* connsched_stat_kind */
  int64_t i;
  const char* s;
} connsched_stat_value;

/* Where a backend reports its status counters and tables (MariaDB's status variables
 * and INFORMATION_SCHEMA tables). Core copies everything before the call returns.
 *
 * Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/),
 * since /metrics exports them as they are: a name ending in `_total` is a monotonic
 * counter (TYPE counter), any other a gauge (its value now); a time whose name ends in
 * `_ms`, `_us` or `_microseconds` is exported in seconds; a gauge must not end in
 * `_count`, `_sum` or `_bucket` (core would add `_value`). In a table, the first column
 * and the text columns name a row (they become labels); a table whose rows they do not
 * tell apart (a queue's entries) is a listing, shown in /stats and left out of /metrics
 * so that no series churns with every scrape. */
typedef struct connsched_stats_sink {
  void* ctx;
  /* A scalar status counter, e.g. ("threads_created", 12, "Threads created so far"). */
  void (*counter)(void* ctx, const char* name, int64_t value, const char* help);
  /* Starts a table; the rows that follow have `ncolumns` cells each. */
  void (*table)(void* ctx, const char* name, size_t ncolumns, const char* const* columns);
  void (*row)(void* ctx, const connsched_stat_value* cells);
} connsched_stats_sink;

/*
 * What core offers a backend. Handed to `init`; valid until `end` returns. Functions
 * that need no connection take the table itself first. All are thread-safe.
 */
typedef struct connsched_services {
  /* --- version 1.0 --- */
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Reads what is waiting on the socket (never blocks for input), runs every complete
   * request through the server's protocol in order, and writes the replies; a reply
   * that does not fit the socket waits inside a NET wait (wait_begin/wait_end are
   * called) bounded by the write timeout. Returns CONNSCHED_NEXT_WAIT_INPUT or
   * CONNSCHED_NEXT_CLOSE; to a backend with CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT (1.2)
   * it returns CONNSCHED_NEXT_WAIT_OUTPUT instead of waiting for a full socket. Any
   * thread; one thread per connection at a time. */
  int (*do_command)(connsched_conn* conn);

  /* Blocks the calling thread until the connection is readable (READY), or until it
   * is killed, its wait_timeout passes, or the peer hangs up (CLOSE). For backends
   * that dedicate a thread to a connection; pools poll the fd themselves. */
  int (*wait_for_input)(connsched_conn* conn);

  /* Closes the socket and gives the connection back to core. The connection must not
   * be used afterwards. Calls the backend's `end_thread` (if any) on this thread.
   * Must not be called with a backend lock held that `post_kill_notification` takes. */
  void (*end_connection)(connsched_conn* conn);

  /* Kills the connection with this id, if it still exists, and wakes it (socket shut
   * down, then the backend's post_kill_notification). For backend timers enforcing
   * wait_timeout: reason CONNSCHED_KILL_TIMEOUT. Takes core's registry lock, so call it
   * with no backend lock held that post_kill_notification takes. By id, not pointer,
   * so a connection that ended meanwhile is simply not found. Returns 1 if found. */
  int (*kill_connection)(const struct connsched_services* svc, uint64_t id, int reason);

  /* Connection properties. Cheap; any thread while the connection is alive. */
  int (*conn_fd)(const connsched_conn* conn);
  uint64_t (*conn_id)(const connsched_conn* conn);
  /* The backend's per-connection slot (NULL until set). Atomic (acquire/release) since
   * 1.2: any thread may read it while the connection is alive, post_kill_notification
   * included, so a backend needs no index of its own to find its state from the killing
   * thread. What the slot points to is the backend's to synchronise and to free: free
   * it after end_connection returns (end_connection waits for the registry lock, so no
   * post_kill_notification still reads it then), never before. */
  void* (*conn_get_data)(const connsched_conn* conn);
  void (*conn_set_data)(connsched_conn* conn, void* data);
  int (*conn_killed)(const connsched_conn* conn);         /* connsched_kill_reason */
  int (*conn_in_transaction)(const connsched_conn* conn); /* priority hint, 0 or 1 */
  /* When the connection will have been idle for wait_timeout, in now_ms()'s clock;
   * INT64_MAX when there is no timeout. Moves forward at the end of each do_command that
   * received input. Since 1.2 core itself closes connections idle past it (see
   * CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT): a backend need not scan for them. */
  int64_t (*conn_idle_deadline_ms)(const connsched_conn* conn);

  /* Environment. */
  void (*log)(const struct connsched_services* svc, int level, const char* message);
  /* The option's value as text (the declared default when not given), or NULL. */
  const char* (*get_option)(const struct connsched_services* svc, const char* name);
  int64_t (*now_ms)(void); /* CLOCK_MONOTONIC in milliseconds */
  int (*shutting_down)(const struct connsched_services* svc);
  void* host; /* core's own context: do not touch */

  /* --- version 1.1 --- (check struct_size before use: a 1.0 core does not have it) */

  /* Registers an already-connected, non-blocking socket as a new connection of this
   * process, taking ownership of `fd` (closed on failure), and returns it, or NULL
   * when max_connections are open here or shutdown began. The connection gets a fresh
   * id of this process and no greeting (the process that accepted the socket already
   * sent it); the caller then owns it as after add_connection: it must eventually call
   * end_connection. For a backend that moves sockets between processes: a pre-forked
   * worker adopts the fds its master passed it (plugins/process_pool). Any thread. */
  connsched_conn* (*adopt_fd)(const struct connsched_services* svc, int fd);

  /* --- version 1.2 --- (check with CONNSCHED_SERVICES_HAS: a 1.1 core does not have it) */

  /* 1 while the connection holds a lock between requests (the protocol said so through
   * RequestContext::set_holds_locks, e.g. kv_server's GET_LOCK), else 0. A pool should
   * run such a connection's next request even when its thread limit is reached: that
   * request may be the one that releases what its other threads wait for (MDEV-38219).
   * Cheap (an atomic read); any thread while the connection is alive; no core lock is
   * taken, so it may be called with backend locks held. */
  int (*conn_holds_locks)(const connsched_conn* conn);

  /* Refuses a connection the backend will not serve because the server is full: sends
   * the protocol's too-many-connections reply (best effort, never blocking), counts it
   * in connections_refused as core's own refusal at max_connections is counted, and
   * ends the connection as end_connection does (the connection must not be used
   * afterwards). For a backend whose connections live where core's count cannot see
   * them: a process pool's master, whose workers hold the sockets, counts the whole
   * server itself (plugins/process_pool). Any thread, no backend lock held that
   * post_kill_notification takes. NULL in a 1.1 core: end_connection instead. */
  void (*refuse_connection)(connsched_conn* conn);

  /* The reverse of adopt_fd: takes the socket out of a connection that is between
   * requests (nothing received and not yet consumed, no reply waiting to be written,
   * not inside a transaction, not killed), ends the connection as end_connection does
   * but without closing the socket, and returns the fd, now the caller's. Returns -1,
   * and leaves the connection as it was, when it is not between requests. Bytes the
   * client sent since are still in the socket, for whoever adopts it next; per-
   * connection protocol state other than a transaction is not carried. For moving an
   * idle client to another process: a pre-forked worker replaced on reload hands its
   * idle sockets back to its master (plugins/process_pool). Called by the one thread
   * that serves the connection, outside do_command. */
  int (*detach_fd)(connsched_conn* conn);

  /* The connection's client address, "1.2.3.4:5678" or "[2001:db8::1]:5678": the
   * socket's peer, or the client its PROXY header named (--proxy-protocol-networks),
   * as core's logs and the admin port show it. NUL-terminated and owned by core; it
   * does not change, and stays valid until the connection ends (end_connection,
   * refuse_connection, a successful detach_fd). Cheap; any thread while the connection
   * is alive; no lock taken. For a backend that moves sockets between processes: the
   * process that adopts one would otherwise see only the socket's peer (adopt_fd_as).
   * NULL in a 1.1 core. */
  const char* (*conn_client_address)(const connsched_conn* conn);

  /* adopt_fd (same caller, thread, ownership of `fd` and result), but the connection's
   * client address is `client_address` (copied), as conn_client_address returned it in
   * the process the socket came from, instead of the socket's peer: behind a PROXY
   * header the peer is the load balancer, not the client. NULL or "" means the peer,
   * as adopt_fd. plugins/process_pool's master and workers pass it along with the fd.
   * NULL in a 1.1 core: adopt_fd, and the connection reports its socket's peer. */
  connsched_conn* (*adopt_fd_as)(const struct connsched_services* svc, int fd,
                                 const char* client_address);

  /* Hands a connection back to core without closing it, after do_command or
   * wait_for_input returned CONNSCHED_NEXT_RELEASE (core is switching thread_handling;
   * see the descriptor's release_connection). Core gives it, socket, buffers, session
   * and transaction as they are, to the backend that serves from now on; the caller
   * must not use the connection afterwards, and frees what its slot points to after the
   * call returns (as after end_connection: core clears the slot under the registry
   * lock, so no post_kill_notification reads it then). Called by the one thread that
   * holds the connection, no backend lock held that release_connection or
   * post_kill_notification takes. Not end_connection: the backend's end_thread is not
   * called. NULL in a 1.1 core (which never returns CONNSCHED_NEXT_RELEASE). */
  void (*return_connection)(connsched_conn* conn);

  /* 1 when the connection's last do_command stopped reading at its per-call bound
   * (it reads a bounded amount, so that one streaming client cannot hold a thread)
   * rather than because the socket was empty: input may still be waiting there. A
   * level-triggered poller (epoll) sees that input by itself; an edge-style one, which
   * reports arrivals rather than states (an io_uring multishot poll), would not, and
   * calls do_command again instead of waiting. Called by the thread that ran that
   * do_command, after it returned and before the connection can be served again; no
   * lock taken. NULL in a 1.1 core or a 1.2 core before it: ask the socket (poll). */
  int (*conn_read_capped)(const connsched_conn* conn);
} connsched_services;

/* True when `svc` offers `member` (a backend built against a newer minor than the
 * server it is loaded into must check before calling an appended service). */
#define CONNSCHED_SERVICES_HAS(svc, member)                                              \
  ((svc)->struct_size >= offsetof(connsched_services, member) + sizeof((svc)->member) && \
   (svc)->member != NULL)

/*
 * The descriptor a backend exports. Required members: name, init, add_connection, end.
 * Every other function member is optional (NULL).
 */
typedef struct connsched_scheduler {
  /* --- version 1.0 --- */
  uint32_t magic;       /* CONNSCHED_ABI_MAGIC */
  uint16_t abi_major;   /* CONNSCHED_ABI_MAJOR the backend was built with */
  uint16_t abi_minor;   /* CONNSCHED_ABI_MINOR the backend was built with */
  uint32_t struct_size; /* sizeof(connsched_scheduler) the backend was built with */
  const char* name;     /* the name --thread-handling selects it by: non-empty */
  const char* description;
  /* Most threads the backend will run to serve connections, 0 = unlimited. Read at
   * load; core reports it as the backend's capacity (MySQL's max_threads): /stats'
   * backend_max_threads, /metrics' connsched_backend_max_threads, --list-options. */
  uint32_t max_threads;
  /* Options the backend takes, ended by a NULL name; NULL = none. */
  const connsched_option_desc* options;

  /* init: main thread, once, before the first connection and before any other
   * member. Validates options (services->get_option), starts threads, stores its
   * state in *backend. Returns 0, or nonzero with a message in err[0..errlen).
   * Core starts none of its threads before init returns (acceptor, timers, admin, and
   * the command line's signal thread), so a backend may fork here: the child is a copy
   * of a process with one thread (an embedding program's own threads are its own). */
  int (*init)(const connsched_services* services, void** backend, char* err, size_t errlen);

  /* init_new_connection_thread: optional. Core calls it on a thread the first time that
   * thread serves a connection (its first do_command or wait_for_input), so a backend
   * can set up per-thread state. Returns 0 on success; the value is otherwise ignored. */
  int (*init_new_connection_thread)(void* backend);

  /* add_connection: acceptor thread, no lock held (since 1.2, a connection moved to this
   * backend by a switch of thread_handling comes from core's hand-over thread instead,
   * with its session, buffers and transaction as they were). Takes ownership of `conn`: it must
   * eventually call services->end_connection(conn). Must return quickly (except in a
   * backend that serves on the acceptor thread by design). Returns 0, or nonzero if
   * it cannot take the connection (core then logs and closes it). */
  int (*add_connection)(void* backend, connsched_conn* conn);

  /* wait_begin: optional; the thread serving `conn` is about to block (`type` is a
   * connsched_wait_type). Called from inside do_command, no core lock held; calls nest
   * only if the handler nests waits, so keep a depth count. A pool uses it to wake or
   * create another thread. Must not block. */
  void (*wait_begin)(void* backend, connsched_conn* conn, int type);

  /* wait_end: optional; the blocking wait begun above is over. Same thread. */
  void (*wait_end)(void* backend, connsched_conn* conn);

  /* post_kill_notification: optional. `conn` was killed from another thread and its
   * socket already shut down for reading, so a poller sees it readable. Called WITH
   * core's registry lock held: must not block, must not call end_connection or
   * kill_connection. A pool raises the connection's priority here. */
  void (*post_kill_notification)(void* backend, connsched_conn* conn);

  /* end_thread: optional. Called by core inside end_connection, on the calling thread,
   * after the socket is closed: the thread is done with that connection.
   * `cache_thread` is 0 when the server is shutting down (the thread should exit
   * rather than wait for more work), 1 otherwise. */
  void (*end_thread)(void* backend, int cache_thread);

  /* end: main thread, once, after the acceptor stopped and every connection ended (or
   * the shutdown timeout passed). Joins the backend's threads and frees its state. */
  void (*end)(void* backend);

  /* set_option: optional; change a `dynamic` option at run time (admin thread, no
   * core lock held). Core has already checked the value against the declaration.
   * Returns 0, or nonzero with a message in err. */
  int (*set_option)(void* backend, const char* name, const char* value, char* err, size_t errlen);

  /* stats: optional; report counters and tables to `sink` (admin or any thread, no core
   * lock held). Take the backend's own locks as needed; do not call into core. */
  void (*stats)(void* backend, const connsched_stats_sink* sink);

  /* --- version 1.1 --- (core reads it as NULL from a 1.0 backend) */

  /* reload: optional. The operator asked the server to reload (SIGHUP, the nginx and
   * php-fpm convention): a backend that can, renews its resources without dropping
   * connections between requests (the process pool replaces its workers one by one).
   * Core's signal thread (or any thread through Server::reload), no core lock held;
   * must not wait for the reload to finish: start it and return. Without it core logs
   * that SIGHUP was ignored. */
  void (*reload)(void* backend);

  /* --- version 1.2 --- (core reads it as NULL from a 1.0 or 1.1 backend) */

  /* flags: CONNSCHED_SCHEDULER_* bits, read at load; 0 (a 1.0 or 1.1 backend) for none. */
  uint32_t flags;

  /* release_connection: what makes a backend switchable (POST /set?thread_handling=...).
   * Core is moving its connections to another backend and asks for `conn` back. Called
   * WITH core's registry lock held, like post_kill_notification (from the admin thread
   * that switches, or from the acceptor for a connection it was handing over as the
   * switch began): must not block and must not call end_connection, kill_connection or
   * return_connection. Before the call core marked the connection, so from now on
   * do_command and wait_for_input return CONNSCHED_NEXT_RELEASE at its next request
   * boundary (at once when it is idle: no request being served, no reply waiting for
   * the socket); the backend then stops watching its fd and calls
   * services->return_connection(conn). What the backend must do here is make sure that
   * an idle connection reaches that boundary without new input: a pool whose idle
   * connections sit in its own epoll set queues the connection for a worker as if it
   * were readable (do_command with nothing to read is harmless); a backend whose
   * threads block in services->wait_for_input needs nothing (core wakes that wait), and
   * may leave the body empty. May be called more than once for the same connection,
   * and for one the backend is serving now or that it is about to close (a killed
   * connection still closes through end_connection; a kill wins). A connection core
   * accepted just as the switch began may still come through add_connection after the
   * first call; core then asks for it back at once, with this call. Core calls `end`
   * once every connection the backend held was returned or ended, from another thread
   * and perhaps at once: a thread that `end` does not join (the acceptor, in no-threads)
   * must not touch the backend's state after its last return_connection or
   * end_connection. NULL (every 1.0 and 1.1 backend): the
   * backend cannot hand connections back, so core refuses to switch away from it with
   * that reason; it still serves as before. */
  void (*release_connection)(void* backend, connsched_conn* conn);
  /* --- end of version 1.2 --- */
} connsched_scheduler;

/* Descriptor flags (version 1.2).
 * OWN_IDLE_TIMEOUT: the backend enforces wait_timeout itself, so core's idle timer leaves
 * its connections alone. Core otherwise closes every connection idle past wait_timeout,
 * whatever the backend, through the kill path (kill_connection with
 * CONNSCHED_KILL_TIMEOUT: the socket is shut down, then post_kill_notification), so a
 * backend need not scan for idle connections. A backend whose connections live where
 * core cannot see them (a pre-forked worker process) sets it. */
#define CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT 0x1u
/* SERVES_OUT_OF_PROCESS: the backend hands its connections to other processes (a
 * pre-forked worker pool), where core's registry cannot reach them: core refuses
 * POST /drain (closing each connection at its next request boundary) with this reason
 * instead of promising what it cannot do. SIGTERM still drains through the backend's end. */
#define CONNSCHED_SCHEDULER_SERVES_OUT_OF_PROCESS 0x2u

/* WAITS_FOR_OUTPUT (version 1.2): when a reply does not fit the socket, do_command
 * returns CONNSCHED_NEXT_WAIT_OUTPUT with the unsent bytes kept in core, instead of
 * blocking the calling thread inside a NET wait for up to net_write_timeout; the
 * backend waits for writability (EPOLLOUT, no thread held) and calls do_command again,
 * by one thread at a time as always. A client that never reads is still closed after
 * net_write_timeout (and past the soft output limit after its time) by core's deadline
 * timer, through the kill path: the socket is shut down, so an EPOLLOUT registration
 * fires (EPOLLHUP), and post_kill_notification is called; the next do_command returns
 * CONNSCHED_NEXT_CLOSE. A backend without it (a 1.0 or 1.1 one, one that dedicates a
 * thread to a connection) never sees CONNSCHED_NEXT_WAIT_OUTPUT; nor does one that also
 * sets OWN_IDLE_TIMEOUT (core then runs no deadline timer to enforce the write timeout). */
#define CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT 0x4u

/* THREAD_PER_CONNECTION (version 1.2): each connection holds one of the backend's
 * threads for its whole life, so the backend holds at most `max_threads` connections at
 * once (when that is not 0). A switch of thread_handling to such a backend with more
 * connections open is refused unless the operator says force=1 (no-threads: one). */
#define CONNSCHED_SCHEDULER_THREAD_PER_CONNECTION 0x8u

/* The fixed header of a descriptor, for C99 designated or positional initialisers. */
#define CONNSCHED_SCHEDULER_HEADER_INIT                          \
  CONNSCHED_ABI_MAGIC, CONNSCHED_ABI_MAJOR, CONNSCHED_ABI_MINOR, \
      (uint32_t)sizeof(connsched_scheduler)

/* The exported entry function's type. */
typedef const connsched_scheduler* (*connsched_scheduler_entry_fn)(void);

/* Defines the one exported symbol, returning the address of a static descriptor. */
#ifdef __cplusplus
#define CONNSCHED_DEFINE_SCHEDULER(descriptor)                                             \
  extern "C" CONNSCHED_EXPORT const connsched_scheduler* connsched_scheduler_entry(void) { \
    return &(descriptor);                                                                  \
  }
#else
#define CONNSCHED_DEFINE_SCHEDULER(descriptor)                                  \
  CONNSCHED_EXPORT const connsched_scheduler* connsched_scheduler_entry(void) { \
    return &(descriptor);                                                       \
  }
#endif

#ifdef __cplusplus
} /* extern "C" */

/* C++ backends: a descriptor with the header (magic, version, size, name, description)
 * filled in and every other member NULL or 0, to set the members on. Designated
 * initializers would say the same, but g++ warns at -Wextra about every member they
 * leave out, and a descriptor leaves most out on purpose:
 *
 *   constexpr connsched_scheduler kMine = [] {
 *     auto d = connsched_scheduler_header("mine", "what it does");
 *     d.init = mine_init;
 *     d.add_connection = mine_add_connection;
 *     d.end = mine_end;
 *     return d;
 *   }();
 *   CONNSCHED_DEFINE_SCHEDULER(kMine)
 */
constexpr connsched_scheduler connsched_scheduler_header(const char* name,
                                                         const char* description) {
  connsched_scheduler d{};
  d.magic = CONNSCHED_ABI_MAGIC;
  d.abi_major = CONNSCHED_ABI_MAJOR;
  d.abi_minor = CONNSCHED_ABI_MINOR;
  d.struct_size = sizeof(connsched_scheduler);
  d.name = name;
  d.description = description;
  return d;
}
#endif

#endif /* CONNSCHED_SCHEDULER_ABI_H_ */
