// File: examples/kv/kv_info.cc
#include "kv_info.h"

#include <fmt/format.h>
#include <unistd.h>

#include <variant>

#include "connsched/scoped_wait.h"

namespace kv {

namespace {

// Field names and values in INFO must not break its line format.
std::string field(std::string_view text) {
  std::string out;
  for (char c : text) out.push_back(c == '\r' || c == '\n' || c == ':' || c == ',' ? '_' : c);
  return out;
}

std::string cell(const connsched::StatValue& value) {
  if (std::holds_alternative<std::int64_t>(value))
    return std::to_string(std::get<std::int64_t>(value));
  if (std::holds_alternative<std::string>(value)) return field(std::get<std::string>(value));
  return "null";
}

void server_section(std::string& out, const connsched::BackendStats& backend, KvShared& shared) {
  std::int64_t uptime_ms = steady_now_ms() - shared.started_ms;
  out += fmt::format(
      "# Server\r\nredis_version:7.0.0\r\nconnsched_server:kv_server\r\nredis_mode:standalone\r\n"
      "thread_handling:{}\r\nprocess_id:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\n",
      field(backend.backend), ::getpid(), uptime_ms / 1000, uptime_ms / 86400000);
}

void clients_section(std::string& out, const connsched::CoreStats& core, KvShared& shared) {
  out += fmt::format(
      "# Clients\r\nconnected_clients:{}\r\nconnected_clients_peak:{}\r\nnamed_locks_held:{}\r\n",
      core.connections_current, core.connections_peak, shared.locks.held_count());
}

void stats_section(std::string& out, const connsched::CoreStats& core) {
  out += fmt::format(
      "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n"
      "total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\n"
      "killed_connections:{}\r\ntimed_out_connections:{}\r\nrequests_too_large:{}\r\n",
      core.connections_accepted, core.requests, core.bytes_received, core.bytes_sent,
      core.connections_refused, core.connections_killed, core.connections_timed_out,
      core.requests_too_large);
  for (std::size_t i = 0; i < core.waits.size(); ++i) {
    out += fmt::format("waits_{}:{}\r\n", connsched::wait_type_name(static_cast<int>(i)),
                       core.waits[i]);
  }
}

void keyspace_section(std::string& out, KvShared& shared) {
  out += "# Keyspace\r\n";
  std::size_t keys = shared.store.size();
  if (keys > 0) {
    out +=
        fmt::format("db0:keys={},expires={},avg_ttl=0\r\n", keys, shared.store.keys_with_expiry());
  }
}

// Counters as "name:value"; a table's rows as "table_row<N>:column=value,...", the way
// Redis prints its per-database and per-command lines.
void backend_section(std::string& out, const connsched::BackendStats& backend) {
  out += fmt::format("# Backend\r\nbackend:{}\r\n", field(backend.backend));
  for (const auto& c : backend.counters) out += fmt::format("{}:{}\r\n", field(c.name), c.value);
  for (const auto& table : backend.tables) {
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      out += fmt::format("{}_row{}:", field(table.name), r);
      for (std::size_t c = 0; c < table.rows[r].size() && c < table.columns.size(); ++c) {
        out +=
            fmt::format("{}{}={}", c ? "," : "", field(table.columns[c]), cell(table.rows[r][c]));
      }
      out += "\r\n";
    }
  }
}

}  // namespace

// Sections in Redis's order, separated by a blank line; the stats are a snapshot taken
// by the caller, so one INFO reads core and backend once.
std::string info_text(std::string_view section, const connsched::CoreStats& core,
                      const connsched::BackendStats& backend, KvShared& shared) {
  bool all = section.empty() || section == "default" || section == "all" || section == "everything";
  std::string out;
  auto separate = [&] {
    if (!out.empty()) out += "\r\n";
  };
  if (all || section == "server") {
    separate();
    server_section(out, backend, shared);
  }
  if (all || section == "clients") {
    separate();
    clients_section(out, core, shared);
  }
  if (all || section == "stats") {
    separate();
    stats_section(out, core);
  }
  if (all || section == "keyspace") {
    separate();
    keyspace_section(out, shared);
  }
  if (all || section == "backend") {
    separate();
    backend_section(out, backend);
  }
  return out;
}

}  // namespace kv
