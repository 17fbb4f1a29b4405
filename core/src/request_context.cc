// File: core/src/request_context.cc
//
// The stats a request may read: out of line because protocol.h only declares the types.
#include "request_context.h"

#include "connsched/server.h"
#include "server_core.h"

namespace connsched {

CoreStats RequestContext::core_stats() const {
  return {};
}
BackendStats RequestContext::backend_stats() const {
  return {};
}

// Without a connection there is no input buffer to wait on: nothing to remember.
void RequestContext::need_bytes(std::size_t) {}

CoreStats ConnectionContext::core_stats() const {
  return conn_.core->core_stats();
}
BackendStats ConnectionContext::backend_stats() const {
  return conn_.core->backend_stats();
}

}  // namespace connsched
