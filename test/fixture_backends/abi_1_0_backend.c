/* File: test/fixture_backends/abi_1_0_backend.c
 *
 * A backend as an ABI 1.0 build would ship it: abi_minor 0 and a descriptor that ends
 * where 1.0 ended (before `reload`). The bytes after it hold a `reload` that aborts, so
 * a loader that read past struct_size would crash on SIGHUP instead of ignoring it. */
#include <stdlib.h>

#include "connsched/scheduler_abi.h"

/* The backend's state is just the services table; there is nothing to start. */
static int old_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  (void)err;
  (void)errlen;
  *backend = (void*)svc;
  return 0;
}

/* Serves the connection to its end on the acceptor thread (no-threads' policy): the
 * smallest correct 1.0 backend, with no thread of its own to outlive `end`. */
static int old_add(void* backend, connsched_conn* conn) {
  const connsched_services* svc = (const connsched_services*)backend;
  while (svc->wait_for_input(conn) == CONNSCHED_NEXT_READY) {
    if (svc->do_command(conn) == CONNSCHED_NEXT_CLOSE) break;
  }
  svc->end_connection(conn);
  return 0;
}

/* Every connection has ended when core calls end. */
static void old_end(void* backend) {
  (void)backend;
}

/* Must never be called: it lies beyond the descriptor's struct_size. */
static void trap_reload(void* backend) {
  (void)backend;
  abort();
}

static const connsched_scheduler kOld = {CONNSCHED_ABI_MAGIC,
                                         CONNSCHED_ABI_MAJOR,
                                         0,
                                         (uint32_t)offsetof(connsched_scheduler, reload),
                                         "abi-1.0",
                                         "a backend built against ABI 1.0",
                                         0,
                                         NULL,
                                         old_init,
                                         NULL,
                                         old_add,
                                         NULL,
                                         NULL,
                                         NULL,
                                         NULL,
                                         old_end,
                                         NULL,
                                         NULL,
                                         trap_reload};

CONNSCHED_DEFINE_SCHEDULER(kOld)
