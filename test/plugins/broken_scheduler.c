/*
 * File: test/plugins/broken_scheduler.c
 *
 * One deliberately broken scheduler backend per build: BROKEN_<defect> selects what is
 * wrong with it, so the loader's tests can prove each refusal on a real .so file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "connsched/scheduler_abi.h"

static int ok_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  (void)svc;
  (void)err;
  (void)errlen;
  *backend = NULL;
#ifdef BROKEN_INIT_FAILS
  snprintf(err, errlen, "cannot reach the scheduling oracle");
  return 1;
#else
  return 0;
#endif
}

static int refuse_add(void* backend, connsched_conn* conn) {
  (void)backend;
  (void)conn;
  return 1; /* core must close it */
}

static void ok_end(void* backend) {
  (void)backend;
}

static const connsched_scheduler kBroken = {
#if defined(BROKEN_BAD_MAGIC)
    0x12345678u,
    CONNSCHED_ABI_MAJOR,
    CONNSCHED_ABI_MINOR,
    (uint32_t)sizeof(connsched_scheduler),
#elif defined(BROKEN_ABI_MAJOR)
    CONNSCHED_ABI_MAGIC,
    CONNSCHED_ABI_MAJOR + 1,
    0,
    (uint32_t)sizeof(connsched_scheduler),
#elif defined(BROKEN_TOO_SMALL)
    CONNSCHED_ABI_MAGIC,
    CONNSCHED_ABI_MAJOR,
    CONNSCHED_ABI_MINOR,
    24,
#else
    CONNSCHED_SCHEDULER_HEADER_INIT,
#endif
#if defined(BROKEN_EMPTY_NAME)
    "",
#else
    "broken",
#endif
    "a scheduler that is wrong on purpose",
    0,    /* max_threads */
    NULL, /* options */
    ok_init,
    NULL, /* init_new_connection_thread */
#if defined(BROKEN_NULL_MEMBER)
    NULL,
#else
    refuse_add,
#endif
    NULL,
    NULL,
    NULL,
    NULL,
    ok_end,
    NULL,
    NULL};

#if defined(BROKEN_NO_ENTRY)
CONNSCHED_EXPORT const connsched_scheduler* some_other_symbol(void) {
  return &kBroken;
}
#elif defined(BROKEN_NULL_ENTRY)
CONNSCHED_EXPORT const connsched_scheduler* connsched_scheduler_entry(void) {
  return NULL;
}
#else
CONNSCHED_DEFINE_SCHEDULER(kBroken)
#endif
