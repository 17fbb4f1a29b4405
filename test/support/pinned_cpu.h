// File: test/support/pinned_cpu.h
//
// Runs a test on one CPU, as `taskset -c N` would: the calling thread, and every thread
// it creates while pinned, may use only the first CPU of its affinity mask. The mask
// is restored when the guard goes, whether the test passed or threw.
#ifndef CONNSCHED_TEST_PINNED_CPU_H_
#define CONNSCHED_TEST_PINNED_CPU_H_

#include <sched.h>

#include <stdexcept>

namespace connsched::testing {

class PinnedToOneCpu {
 public:
  PinnedToOneCpu() {
    CPU_ZERO(&saved_);
    if (::sched_getaffinity(0, sizeof saved_, &saved_) != 0) {
      throw std::runtime_error("sched_getaffinity failed");
    }
    int first = 0;
    while (!CPU_ISSET(first, &saved_)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) {
      throw std::runtime_error("sched_setaffinity failed");
    }
  }
  ~PinnedToOneCpu() { ::sched_setaffinity(0, sizeof saved_, &saved_); }
  PinnedToOneCpu(const PinnedToOneCpu&) = delete;
  PinnedToOneCpu& operator=(const PinnedToOneCpu&) = delete;

  /// How many CPUs the thread could use before it was pinned.
  int cpus_before() const { return CPU_COUNT(&saved_); }

 private:
  cpu_set_t saved_;
};

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_PINNED_CPU_H_
