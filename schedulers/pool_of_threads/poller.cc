// File: schedulers/pool_of_threads/poller.cc
//
// What the pollers share: the operator's explanation of an io_uring set-up failure,
// and, in a build without liburing, the io_uring poller's refusal.
#include <fmt/format.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <system_error>

#include "poller.h"

namespace connsched::pool_of_threads {

// The causes an operator meets (https://docs.kernel.org/admin-guide/sysctl/kernel.html,
// io_uring_disabled; Docker's default seccomp profile blocks io_uring_setup since 25.0),
// each said so that the fix is obvious; anything else is the kernel's own word.
std::string io_uring_failure_cause(int error) {
  const std::string what = std::system_category().message(error);
  switch (error) {
    case EPERM: {
      std::string disabled;
      std::ifstream sysctl("/proc/sys/kernel/io_uring_disabled");
      if (sysctl >> disabled && disabled != "0") {
        return fmt::format(
            "io_uring_setup: {}: io_uring is disabled by sysctl kernel.io_uring_disabled={}", what,
            disabled);
      }
      return fmt::format(
          "io_uring_setup: {}: io_uring is not allowed for this process (a seccomp profile "
          "such as Docker's default, or kernel.io_uring_group)",
          what);
    }
    case ENOSYS:
      return fmt::format(
          "io_uring_setup: {}: this kernel has no io_uring (older than Linux 5.1, built "
          "without CONFIG_IO_URING, or a seccomp profile answers ENOSYS)",
          what);
    case EINVAL:
      return fmt::format(
          "io_uring_setup: {}: this kernel lacks what the poller needs (multishot poll, "
          "Linux 5.17 or later)",
          what);
    case ENOMEM:
      return fmt::format(
          "io_uring_setup: {}: no memory for the ring (before Linux 5.12 rings count "
          "against RLIMIT_MEMLOCK: raise ulimit -l)",
          what);
    default:
      return fmt::format("io_uring_setup: {}", what);
  }
}

#ifndef CONNSCHED_HAVE_LIBURING
std::unique_ptr<Poller> make_uring_poller() {
  throw PollerUnavailable("this build has no io_uring poller (built without liburing-dev)");
}
#endif

}  // namespace connsched::pool_of_threads
