// File: examples/soak/admin_stats.h
//
// The server's own view during a soak, from its admin port: the admin port's number
// (from the server's log) and the connections it counts as open (GET /stats).
#ifndef CONNSCHED_SOAK_ADMIN_STATS_H_
#define CONNSCHED_SOAK_ADMIN_STATS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace soak {

/// The port of the "admin port listening on ADDRESS:PORT" line in a server's log.
std::optional<std::uint16_t> parse_admin_port(const std::string& log_text);

/// The integer after "\"NAME\":" in a JSON text (the first occurrence).
std::optional<std::int64_t> json_integer(const std::string& json, const std::string& name);

/// The body of GET `path` on 127.0.0.1:`port`; nullopt on any failure or timeout.
std::optional<std::string> http_get(std::uint16_t port, const std::string& path,
                                    std::chrono::milliseconds timeout);

}  // namespace soak

#endif  // CONNSCHED_SOAK_ADMIN_STATS_H_
