// File: tools/loadgen/fd_limit.h
//
// Raising this process's open-file limit to its hard limit: thousands of connections
// need thousands of descriptors.
#ifndef CONNSCHED_LOADGEN_FD_LIMIT_H_
#define CONNSCHED_LOADGEN_FD_LIMIT_H_

#include <sys/resource.h>

namespace loadgen {

/// Sets the soft RLIMIT_NOFILE to the hard one; returns the new soft limit.
inline rlim_t raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_FD_LIMIT_H_
