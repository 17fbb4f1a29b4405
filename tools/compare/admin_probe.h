// File: tools/compare/admin_probe.h
//
// A connsched server's own counters, read from its admin port's /stats while it runs:
// the proxy scenario's upstream peak connections (core's connections_peak, MySQL's
// Max_used_connections) and the soak's connections_current. The admin port is not a
// client connection, so asking does not change the answer (an INFO over RESP would
// count itself).
#ifndef CONNSCHED_COMPARE_ADMIN_PROBE_H_
#define CONNSCHED_COMPARE_ADMIN_PROBE_H_

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

/// An admin port's answer: the HTTP status and the body.
struct AdminReply {
  int status = 0;
  std::string body;
};

/// Sends `method` `target` ("POST", "/set?thread_handling=pool-of-threads") to the admin
/// port on loopback `admin_port` and reads the whole answer; nullopt (with `error` set)
/// if it cannot be had within `timeout`.
std::optional<AdminReply> admin_request(std::uint16_t admin_port, std::string_view method,
                                        std::string_view target, std::chrono::milliseconds timeout,
                                        std::string& error);

/// The unsigned integer value of `"name": N` in a /stats JSON text. Pure, for tests.
std::optional<std::uint64_t> json_counter(std::string_view json, std::string_view name);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_ADMIN_PROBE_H_
