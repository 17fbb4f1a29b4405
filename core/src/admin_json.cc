// File: core/src/admin_json.cc
#include "admin_json.h"

#include <fmt/format.h>

#include <variant>

#include "connsched/scoped_wait.h"

namespace connsched {

namespace {

// Length of the well-formed UTF-8 sequence at the front of `s`, 0 if it is not one.
// Follows RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
std::size_t utf8_sequence_length(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b0 = byte(0);
  auto continuation = [&](std::size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return continuation(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (b0 == 0xED && byte(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && byte(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// A stats cell as JSON: null, a number, or a string.
std::string cell_json(const StatValue& value) {
  if (std::holds_alternative<std::int64_t>(value))
    return std::to_string(std::get<std::int64_t>(value));
  if (std::holds_alternative<std::string>(value)) return json_quote(std::get<std::string>(value));
  return "null";
}

}  // namespace

// Escapes by the JSON grammar (RFC 8259 §7); bad UTF-8 is replaced rather than passed on,
// because one stray byte from a backend would otherwise make the whole document invalid.
std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  while (!text.empty()) {
    unsigned char c = static_cast<unsigned char>(text.front());
    std::size_t len = 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else if (c < 0x80) {
          out.push_back(static_cast<char>(c));
        } else if ((len = utf8_sequence_length(text)) != 0) {
          out.append(text.substr(0, len));
        } else {
          out += "\\ufffd";
          len = 1;
        }
    }
    text.remove_prefix(len);
  }
  out.push_back('"');
  return out;
}

std::string json_error(std::string_view message) {
  return fmt::format("{{\"error\": {}}}\n", json_quote(message));
}

// Counters are an object by name (easy to read with jq); tables keep their column
// order and rows as arrays, the shape of an INFORMATION_SCHEMA table.
std::string stats_json(const CoreStats& core, const BackendStats& backend) {
  std::string out =
      fmt::format("{{\n  \"backend\": {},\n  \"backend_max_threads\": {},\n  \"core\": {{\n",
                  json_quote(backend.backend), backend.max_threads);
  const std::pair<const char*, std::uint64_t> fields[] = {
      {"connections_accepted", core.connections_accepted},
      {"connections_refused", core.connections_refused},
      {"connections_current", core.connections_current},
      {"connections_peak", core.connections_peak},
      {"connections_killed", core.connections_killed},
      {"connections_timed_out", core.connections_timed_out},
      {"requests", core.requests},
      {"requests_too_large", core.requests_too_large},
      {"handler_errors", core.handler_errors},
      {"write_timeouts", core.write_timeouts},
      {"requests_timed_out", core.requests_timed_out},
      {"output_limit_closes", core.output_limit_closes},
      {"connections_over_memory", core.connections_over_memory},
      {"connection_buffer_bytes", core.connection_buffer_bytes},
      {"accept_errors", core.accept_errors},
      {"proxy_headers", core.proxy_headers},
      {"proxy_header_errors", core.proxy_header_errors},
      {"proxy_headers_refused", core.proxy_headers_refused},
      {"bytes_received", core.bytes_received},
      {"bytes_sent", core.bytes_sent},
      {"backend_switches", core.backend_switches},
      {"backend_switches_refused", core.backend_switches_refused},
      {"connections_moved", core.connections_moved},
      {"backend_switch_in_progress", core.backend_switch_in_progress},
      {"last_switch_ms", core.last_switch_ms}};
  for (const auto& [name, value] : fields) out += fmt::format("    \"{}\": {},\n", name, value);
  out += "    \"waits\": {";
  for (std::size_t i = 0; i < core.waits.size(); ++i) {
    out += fmt::format("{}{}: {}", i ? ", " : "", json_quote(wait_type_name(static_cast<int>(i))),
                       core.waits[i]);
  }
  out += "}\n  },\n  \"backend_stats\": {\n    \"counters\": {";
  for (std::size_t i = 0; i < backend.counters.size(); ++i) {
    out += fmt::format("{}\n      {}: {}", i ? "," : "", json_quote(backend.counters[i].name),
                       backend.counters[i].value);
  }
  out += backend.counters.empty() ? "},\n    \"tables\": {" : "\n    },\n    \"tables\": {";
  for (std::size_t t = 0; t < backend.tables.size(); ++t) {
    const StatsTable& table = backend.tables[t];
    out += fmt::format("{}\n      {}: {{\"columns\": [", t ? "," : "", json_quote(table.name));
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      out += fmt::format("{}{}", c ? ", " : "", json_quote(table.columns[c]));
    }
    out += "], \"rows\": [";
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      out += r ? ", [" : "[";
      for (std::size_t c = 0; c < table.rows[r].size(); ++c) {
        out += fmt::format("{}{}", c ? ", " : "", cell_json(table.rows[r][c]));
      }
      out += "]";
    }
    out += "]}";
  }
  out += backend.tables.empty() ? "}\n  }\n}\n" : "\n    }\n  }\n}\n";
  return out;
}

}  // namespace connsched
