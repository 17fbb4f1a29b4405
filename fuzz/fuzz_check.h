// File: fuzz/fuzz_check.h
//
// FUZZ_CHECK(cond): an invariant of a fuzz target. A false one prints where and aborts,
// which libFuzzer reports as a crash and saves the input (a plain assert would vanish
// under NDEBUG).
#ifndef CONNSCHED_FUZZ_FUZZ_CHECK_H_
#define CONNSCHED_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)

#endif  // CONNSCHED_FUZZ_FUZZ_CHECK_H_
