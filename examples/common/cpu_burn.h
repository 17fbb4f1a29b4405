// File: examples/common/cpu_burn.h
//
// The example servers' compute-heavy request (kv BURN, http /burn): spins until the
// calling thread has used the given CPU time. CPU time, not wall time: a burn that is
// preempted halfway must still cost its full amount, or a backend that runs more threads
// than cores would finish "200 us" requests with less work and look faster for it.
#ifndef CONNSCHED_EXAMPLES_CPU_BURN_H_
#define CONNSCHED_EXAMPLES_CPU_BURN_H_

#include <time.h>

#include <chrono>
#include <cstdint>

namespace connsched_examples {

/// The calling thread's CPU time so far (CLOCK_THREAD_CPUTIME_ID).
inline std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

/// Spins until this thread has used `amount` more CPU time; returns the work's result so
/// the compiler cannot drop it.
inline std::uint64_t burn_cpu(std::chrono::microseconds amount) {
  const auto until = thread_cpu_time() + amount;
  std::uint64_t x = 88172645463325252ull;
  while (thread_cpu_time() < until) {
    for (int i = 0; i < 64; ++i) x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift: real work
  }
  return x;
}

}  // namespace connsched_examples

#endif  // CONNSCHED_EXAMPLES_CPU_BURN_H_
