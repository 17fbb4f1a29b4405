// File: examples/compare/upstream_probe.h
//
// What the proxy scenario asks of its upstream kv_server after a run: the most client
// connections it had open at once (core's connections_peak, MySQL's
// Max_used_connections), which is what a connection pool in front of it is meant to
// bound. It is read from the admin port's /stats: the admin port is not a client
// connection, so asking does not change the answer (an INFO over RESP would count
// itself).
#ifndef CONNSCHED_COMPARE_UPSTREAM_PROBE_H_
#define CONNSCHED_COMPARE_UPSTREAM_PROBE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace compare_tool {

/// GETs /stats from the admin port on loopback `admin_port` and returns the core
/// counter `name`; nullopt (with `error` set) if it cannot be had within `timeout`.
std::optional<std::uint64_t> read_admin_counter(std::uint16_t admin_port, std::string_view name,
                                                std::chrono::milliseconds timeout,
                                                std::string& error);

/// The unsigned integer value of `"name": N` in a /stats JSON text. Pure, for tests.
std::optional<std::uint64_t> json_counter(std::string_view json, std::string_view name);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_UPSTREAM_PROBE_H_
