/* File: test/plugins_custom/abi_1_0_backend.c
 *
 * A backend as an ABI 1.0 build would ship it: abi_minor 0 and a descriptor that ends
 * where 1.0 ended (before `reload`). The bytes after it hold a `reload` that aborts, so
 * a loader that read past struct_size would crash on SIGHUP instead of ignoring it. */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>

#include "connsched/scheduler_abi.h"

struct work {
  const connsched_services* svc;
  connsched_conn* conn;
};

/* Serves one connection on its own thread: the simplest correct 1.0 policy. */
static void* serve(void* arg) {
  struct work w = *(struct work*)arg;
  free(arg);
  while (w.svc->wait_for_input(w.conn) == CONNSCHED_NEXT_READY) {
    if (w.svc->do_command(w.conn) == CONNSCHED_NEXT_CLOSE) break;
  }
  w.svc->end_connection(w.conn);
  return NULL;
}

/* The backend's state is just the services table; there is nothing to start. */
static int old_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  (void)err;
  (void)errlen;
  *backend = (void*)svc;
  return 0;
}

/* A detached thread per connection (the test's connections are few and short). */
static int old_add(void* backend, connsched_conn* conn) {
  pthread_t thread;
  struct work* w = malloc(sizeof *w);
  if (w == NULL) return 1;
  w->svc = (const connsched_services*)backend;
  w->conn = conn;
  if (pthread_create(&thread, NULL, serve, w) != 0) {
    free(w);
    return 1;
  }
  pthread_detach(thread);
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
