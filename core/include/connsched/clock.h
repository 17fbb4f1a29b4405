// File: connsched/clock.h
//
// The monotonic clock (CLOCK_MONOTONIC) in the two units the tree uses, in one place:
// milliseconds for deadlines (the services' now_ms) and microseconds for queueing
// times. Header-only, so a backend may use it without linking core.
#ifndef CONNSCHED_CLOCK_H_
#define CONNSCHED_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace connsched {

inline std::int64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

inline std::int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace connsched

#endif  // CONNSCHED_CLOCK_H_
