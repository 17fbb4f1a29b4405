// File: core/src/request_context.cc
//
// The stats a request may read: out of line because protocol.h only declares the types.
#include "request_context.h"

#include <fmt/format.h>

#include "connsched/server.h"
#include "server_core.h"

namespace connsched {

CoreStats RequestContext::core_stats() const {
  return {};
}
BackendStats RequestContext::backend_stats() const {
  return {};
}

// A protocol without its own timeout reply still says why the connection closes.
std::string Protocol::request_timeout_reply(std::uint32_t seconds) const {
  return internal_error_reply(
      fmt::format("request not complete within {} s (request_timeout)", seconds));
}

// What is left under max_output_buffer of the replies not yet sent.
std::size_t ConnectionContext::reply_room() const {
  const std::size_t limit = conn_.core->max_output_buffer();
  return conn_.out.size() >= limit ? 0 : limit - conn_.out.size();
}

// Without a connection there is no input buffer to wait on: nothing to remember.
void RequestContext::need_bytes(std::size_t) {}

// The server's drain, as the handler of a request sees it (protocol.h says what to do):
// sampled once per request, so the handler and core's close agree.
bool ConnectionContext::draining() const {
  return conn_.drain_sampled;
}

// The same list GET /connections shows, so kv's CLIENT LIST and the admin port agree.
std::vector<ConnectionSummary> ConnectionContext::server_connections() const {
  std::vector<ConnectionSummary> out;
  for (auto& [id, address] : conn_.core->connection_list())
    out.push_back(ConnectionSummary{id, std::move(address)});
  return out;
}

CoreStats ConnectionContext::core_stats() const {
  return conn_.core->core_stats();
}
BackendStats ConnectionContext::backend_stats() const {
  return conn_.core->backend_stats();
}

}  // namespace connsched
