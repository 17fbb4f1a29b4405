// File: examples/kv/kv_info.h
//
// The INFO reply: Redis's "# Section\r\nfield:value\r\n" text with the server, clients,
// stats, keyspace sections and the scheduler backend's counters and tables.
#ifndef CONNSCHED_EXAMPLES_KV_KV_INFO_H_
#define CONNSCHED_EXAMPLES_KV_KV_INFO_H_

#include <string>
#include <string_view>

#include "connsched/server.h"
#include "kv_shared.h"

namespace kv {

/// The INFO text for `section` ("", "default", "all", "everything", "server",
/// "clients", "stats", "keyspace", "backend"); an unknown section gives an empty text,
/// as in Redis.
std::string info_text(std::string_view section, const connsched::CoreStats& core,
                      const connsched::BackendStats& backend, KvShared& shared);

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_KV_INFO_H_
