/*
 * File: test/fixture_backends/c_thread_per_connection.c
 *
 * A complete scheduler backend written in plain C99 with pthreads, loaded by path in
 * the tests: proof that the ABI needs no C++ on the backend's side. Policy: a detached
 * thread per connection; `end` waits until the last one has finished.
 *
 * Built a second time with REFUSE_EVERY_SECOND (flaky-add.so): add_connection then
 * fails for every second connection, the misbehaving backend of the fault tests.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "connsched/scheduler_abi.h"

struct c_backend {
  const connsched_services* svc;
  pthread_mutex_t mutex;
  pthread_cond_t idle;
  int threads;
  long served;
  long added;
  long thread_inits; /* init_new_connection_thread calls: core's promise, counted */
  long thread_ends;  /* end_thread calls */
};

struct c_job {
  struct c_backend* backend;
  connsched_conn* conn;
};

static void* serve(void* arg) {
  struct c_job job = *(struct c_job*)arg;
  free(arg);
  const connsched_services* svc = job.backend->svc;
  while (svc->wait_for_input(job.conn) == CONNSCHED_NEXT_READY) {
    if (svc->do_command(job.conn) == CONNSCHED_NEXT_CLOSE) break;
  }
  svc->end_connection(job.conn);
  pthread_mutex_lock(&job.backend->mutex);
  job.backend->served++;
  if (--job.backend->threads == 0) pthread_cond_broadcast(&job.backend->idle);
  pthread_mutex_unlock(&job.backend->mutex);
  return NULL;
}

static int c_init(const connsched_services* svc, void** out, char* err, size_t errlen) {
  struct c_backend* b = calloc(1, sizeof *b);
  if (b == NULL) {
    snprintf(err, errlen, "out of memory");
    return 1;
  }
  b->svc = svc;
  pthread_mutex_init(&b->mutex, NULL);
  pthread_cond_init(&b->idle, NULL);
  *out = b;
  return 0;
}

static int c_add_connection(void* backend, connsched_conn* conn) {
  struct c_backend* b = backend;
  struct c_job* job = malloc(sizeof *job);
  if (job == NULL) return 1;
  job->backend = b;
  job->conn = conn;
  pthread_mutex_lock(&b->mutex);
#ifdef REFUSE_EVERY_SECOND
  if (b->added++ % 2 == 1) {
    pthread_mutex_unlock(&b->mutex);
    free(job);
    return 1; /* core must close it and carry on */
  }
#endif
  b->threads++;
  pthread_mutex_unlock(&b->mutex);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, serve, job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    free(job);
    pthread_mutex_lock(&b->mutex);
    if (--b->threads == 0) pthread_cond_broadcast(&b->idle);
    pthread_mutex_unlock(&b->mutex);
    return 1;
  }
  return 0;
}

/* Core calls it the first time a thread serves a connection: here every connection has
 * a new thread, so once per connection. */
static int c_init_new_connection_thread(void* backend) {
  struct c_backend* b = backend;
  pthread_mutex_lock(&b->mutex);
  b->thread_inits++;
  pthread_mutex_unlock(&b->mutex);
  return 0;
}

/* Core calls it inside end_connection, on the thread that served the connection. */
static void c_end_thread(void* backend, int cache_thread) {
  struct c_backend* b = backend;
  (void)cache_thread;
  pthread_mutex_lock(&b->mutex);
  b->thread_ends++;
  pthread_mutex_unlock(&b->mutex);
}

static void c_end(void* backend) {
  struct c_backend* b = backend;
  pthread_mutex_lock(&b->mutex);
  while (b->threads > 0) pthread_cond_wait(&b->idle, &b->mutex);
  pthread_mutex_unlock(&b->mutex);
  pthread_cond_destroy(&b->idle);
  pthread_mutex_destroy(&b->mutex);
  free(b);
}

static void c_stats(void* backend, const connsched_stats_sink* sink) {
  struct c_backend* b = backend;
  pthread_mutex_lock(&b->mutex);
  long served = b->served;
  int threads = b->threads;
  long inits = b->thread_inits;
  long ends = b->thread_ends;
  pthread_mutex_unlock(&b->mutex);
  sink->counter(sink->ctx, "connections_served_total", served, "Connections served to their end");
  sink->counter(sink->ctx, "threads", threads, "Threads serving a connection now");
  sink->counter(sink->ctx, "thread_inits_total", inits, "init_new_connection_thread calls");
  sink->counter(sink->ctx, "thread_ends_total", ends, "end_thread calls");
}

static const connsched_scheduler kCBackend = {CONNSCHED_SCHEDULER_HEADER_INIT,
                                              "c-thread-per-connection",
                                              "a detached pthread per connection, written in C",
                                              0,
                                              NULL,
                                              c_init,
                                              c_init_new_connection_thread,
                                              c_add_connection,
                                              NULL,
                                              NULL,
                                              NULL,
                                              c_end_thread,
                                              c_end,
                                              NULL,
                                              c_stats};

CONNSCHED_DEFINE_SCHEDULER(kCBackend)
