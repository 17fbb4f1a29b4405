/* File: test/plugins_custom/abi_1_1_backend.c
 *
 * A backend as an ABI 1.1 build would ship it: abi_minor 1 and a descriptor that ends
 * where 1.1 ended (after `reload`, before 1.2's `flags`). The word after it says
 * CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT, so a loader that read past struct_size would
 * leave its idle connections open; read correctly, core closes them at wait_timeout,
 * since this backend has no timer of its own. Policy: a detached thread per connection
 * that polls the socket itself (not wait_for_input, which would time out by itself). */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>

#include "connsched/scheduler_abi.h"

struct job {
  const connsched_services* svc;
  connsched_conn* conn;
};

static int v11_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  (void)err;
  (void)errlen;
  *backend = (void*)svc;
  return 0;
}

/* Serves one connection: poll, do_command, until it says close. A kill from core shuts
 * the socket down, which makes it readable, and do_command then answers CLOSE. */
static void* serve(void* arg) {
  struct job j = *(struct job*)arg;
  free(arg);
  struct pollfd p;
  p.fd = j.svc->conn_fd(j.conn);
  p.events = POLLIN;
  for (;;) {
    p.revents = 0;
    if (poll(&p, 1, -1) < 0) continue;
    if (j.svc->do_command(j.conn) == CONNSCHED_NEXT_CLOSE) break;
  }
  j.svc->end_connection(j.conn);
  return NULL;
}

static int v11_add(void* backend, connsched_conn* conn) {
  struct job* j = malloc(sizeof *j);
  if (j == NULL) return 1;
  j->svc = (const connsched_services*)backend;
  j->conn = conn;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, serve, j);
  pthread_attr_destroy(&attr);
  if (rc != 0) free(j);
  return rc == 0 ? 0 : 1;
}

/* Every connection has ended when core calls end; a detached thread may still be
 * returning from end_connection, which touches nothing of ours. */
static void v11_end(void* backend) {
  (void)backend;
}

/* The 1.1 descriptor, then the word a 1.2 loader must not read as `flags`. */
static const struct {
  connsched_scheduler table;
} kOld = {{CONNSCHED_ABI_MAGIC,
           CONNSCHED_ABI_MAJOR,
           1,
           (uint32_t)offsetof(connsched_scheduler, flags),
           "abi-1.1",
           "a backend built against ABI 1.1",
           0,
           NULL,
           v11_init,
           NULL,
           v11_add,
           NULL,
           NULL,
           NULL,
           NULL,
           v11_end,
           NULL,
           NULL,
           NULL,
           CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT}};

CONNSCHED_DEFINE_SCHEDULER(kOld.table)
