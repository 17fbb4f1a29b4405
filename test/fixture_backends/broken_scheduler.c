/*
 * File: test/fixture_backends/broken_scheduler.c
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

static void noop_wait_begin(void* backend, connsched_conn* conn, int type) {
  (void)backend;
  (void)conn;
  (void)type;
}

#if defined(BROKEN_OPTION_TYPE)
static const connsched_option_desc kOptions[] = {
    {"broken_level", "an option of a type that does not exist", 42, "1", 0, 9, NULL, 0},
    {NULL, NULL, 0, NULL, 0, 0, NULL, 0}};
#elif defined(BROKEN_OPTION_CHOICES)
static const connsched_option_desc kOptions[] = {
    {"broken_mode", "an enum that lists no choices", CONNSCHED_OPTION_ENUM, "a", 0, 0, "", 0},
    {NULL, NULL, 0, NULL, 0, 0, NULL, 0}};
#elif defined(BROKEN_OPTION_EMPTY_NAME)
static const connsched_option_desc kOptions[] = {
    {"", "an option without a name", CONNSCHED_OPTION_INT, "1", 0, 9, NULL, 0},
    {NULL, NULL, 0, NULL, 0, 0, NULL, 0}};
#endif

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
    0, /* max_threads */
#if defined(BROKEN_OPTION_TYPE) || defined(BROKEN_OPTION_CHOICES) || \
    defined(BROKEN_OPTION_EMPTY_NAME)
    kOptions,
#else
    NULL, /* options */
#endif
#if defined(BROKEN_NULL_INIT)
    NULL,
#else
    ok_init,
#endif
    NULL, /* init_new_connection_thread */
#if defined(BROKEN_NULL_MEMBER)
    NULL,
#else
    refuse_add,
#endif
#if defined(BROKEN_WAIT_BEGIN_ONLY)
    noop_wait_begin, /* wait_begin without its wait_end */
#else
    NULL,
#endif
    NULL,
    NULL,
    NULL,
#if defined(BROKEN_NULL_END)
    NULL,
#else
    ok_end,
#endif
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
