// File: tools/loadgen/unique_fd.h
//
// The load generator owns its sockets with core's RAII fd holder.
#ifndef CONNSCHED_LOADGEN_UNIQUE_FD_H_
#define CONNSCHED_LOADGEN_UNIQUE_FD_H_

#include "connsched/unique_fd.h"

namespace loadgen {
using connsched::UniqueFd;
}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_UNIQUE_FD_H_
