/* File: test/fixture_backends/abi_1_1_backend.c
 *
 * A backend as an ABI 1.1 build would ship it: abi_minor 1 and a descriptor that ends
 * where 1.1 ended (after `reload`, before 1.2's `flags`). The word after it says
 * CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT, so a loader that read past struct_size would
 * leave its idle connections open; read correctly, core closes them at wait_timeout,
 * since this backend has no timer of its own. Policy: a detached thread per connection
 * that polls the socket itself (not wait_for_input, which would time out by itself). */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "connsched/scheduler_abi.h"

struct state {
  const connsched_services* svc;
  pthread_mutex_t mutex;
  pthread_cond_t idle;
  int threads; /* serving threads not yet past end_connection */
};

struct job {
  struct state* state;
  connsched_conn* conn;
};

static int v11_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  struct state* st = calloc(1, sizeof *st);
  if (st == NULL) {
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  st->svc = svc;
  pthread_mutex_init(&st->mutex, NULL);
  pthread_cond_init(&st->idle, NULL);
  *backend = st;
  return 0;
}

/* Serves one connection: poll, do_command, until it says close. A kill from core shuts
 * the socket down, which makes it readable, and do_command then answers CLOSE. The
 * thread counts itself out only after end_connection has returned, so `end` (which core
 * may call as soon as the last connection is unregistered) never frees what it uses. */
static void* serve(void* arg) {
  struct job j = *(struct job*)arg;
  free(arg);
  const connsched_services* svc = j.state->svc;
  struct pollfd p;
  p.fd = svc->conn_fd(j.conn);
  p.events = POLLIN;
  for (;;) {
    p.revents = 0;
    if (poll(&p, 1, -1) < 0) continue;
    if (svc->do_command(j.conn) == CONNSCHED_NEXT_CLOSE) break;
  }
  svc->end_connection(j.conn);
  pthread_mutex_lock(&j.state->mutex);
  if (--j.state->threads == 0) pthread_cond_broadcast(&j.state->idle);
  pthread_mutex_unlock(&j.state->mutex);
  return NULL;
}

static int v11_add(void* backend, connsched_conn* conn) {
  struct state* st = backend;
  struct job* j = malloc(sizeof *j);
  if (j == NULL) return 1;
  j->state = st;
  j->conn = conn;
  pthread_mutex_lock(&st->mutex);
  st->threads++;
  pthread_mutex_unlock(&st->mutex);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, serve, j);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    free(j);
    pthread_mutex_lock(&st->mutex);
    if (--st->threads == 0) pthread_cond_broadcast(&st->idle);
    pthread_mutex_unlock(&st->mutex);
    return 1;
  }
  return 0;
}

/* Every connection has ended when core calls end: wait for their threads to be done
 * with core, then free the state. */
static void v11_end(void* backend) {
  struct state* st = backend;
  pthread_mutex_lock(&st->mutex);
  while (st->threads > 0) pthread_cond_wait(&st->idle, &st->mutex);
  pthread_mutex_unlock(&st->mutex);
  pthread_cond_destroy(&st->idle);
  pthread_mutex_destroy(&st->mutex);
  free(st);
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
