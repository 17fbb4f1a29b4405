// File: core/src/admin_metrics.cc
#include "admin_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <variant>
#include <vector>

#include "connsched/scoped_wait.h"

namespace connsched {

namespace {

// HELP text escapes only backslash and newline (format 0.0.4).
std::string help_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void family(std::string& out, const std::string& name, std::string_view type,
            std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help_text(help), name, type);
}

std::string cell_label(const StatValue& value) {
  if (std::holds_alternative<std::int64_t>(value))
    return std::to_string(std::get<std::int64_t>(value));
  if (std::holds_alternative<std::string>(value)) return std::get<std::string>(value);
  return "";
}

// Labels that name a row: the first column and every text column. Empty when two rows
// share them: such a table lists transient things (a queue's entries), whose series
// would churn with every scrape, so it stays in /stats and out of /metrics.
std::vector<std::string> row_labels(const StatsTable& table, const std::string& backend_label) {
  std::vector<std::string> labels;
  for (const auto& row : table.rows) {
    std::string text = backend_label;
    for (std::size_t c = 0; c < row.size() && c < table.columns.size(); ++c) {
      if (c != 0 && !std::holds_alternative<std::string>(row[c])) continue;
      text += fmt::format(",{}=\"{}\"", prometheus_name(table.columns[c]),
                          prometheus_label_value(cell_label(row[c])));
    }
    labels.push_back(std::move(text));
  }
  std::set<std::string> distinct(labels.begin(), labels.end());
  if (distinct.size() != labels.size()) labels.clear();
  return labels;
}

constexpr std::string_view kHistogramSuffix = "_SECONDS_HISTOGRAM";

std::size_t column_index(const StatsTable& table, std::string_view name) {
  return static_cast<std::size_t>(std::find(table.columns.begin(), table.columns.end(), name) -
                                  table.columns.begin());
}

// A backend table named "..._SECONDS_HISTOGRAM" with columns LE (an upper bound in
// seconds, as text, "+Inf" last), COUNT (values at or below it) and SUM_MICROSECONDS is a
// Prometheus histogram: its other columns label the series, each "+Inf" row also gives
// the series' _sum (in seconds) and _count. Returns false if the table is not one.
bool histogram_family(std::string& out, const StatsTable& table, const std::string& backend_label,
                      std::set<std::string>& seen) {
  const std::string& tname = table.name;
  if (tname.size() <= kHistogramSuffix.size() ||
      tname.compare(tname.size() - kHistogramSuffix.size(), kHistogramSuffix.size(),
                    kHistogramSuffix) != 0) {
    return false;
  }
  const std::size_t le = column_index(table, "LE"), count = column_index(table, "COUNT"),
                    sum = column_index(table, "SUM_MICROSECONDS");
  if (le >= table.columns.size() || count >= table.columns.size() || sum >= table.columns.size())
    return false;
  std::string name =
      "connsched_backend_" +
      prometheus_name(tname.substr(0, tname.size() - std::string_view("_HISTOGRAM").size()));
  if (!seen.insert(name).second) return true;
  family(out, name, "histogram", fmt::format("The backend's {} table.", tname));
  for (const auto& row : table.rows) {
    if (row.size() < table.columns.size()) continue;
    std::string labels = backend_label;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c == le || c == count || c == sum) continue;
      labels += fmt::format(",{}=\"{}\"", prometheus_name(table.columns[c]),
                            prometheus_label_value(cell_label(row[c])));
    }
    const std::string bound = cell_label(row[le]);
    const std::int64_t n =
        std::holds_alternative<std::int64_t>(row[count]) ? std::get<std::int64_t>(row[count]) : 0;
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels,
                       prometheus_label_value(bound), n);
    if (bound == "+Inf") {
      const std::int64_t micros =
          std::holds_alternative<std::int64_t>(row[sum]) ? std::get<std::int64_t>(row[sum]) : 0;
      out += fmt::format("{}_sum{{{}}} {}\n", name, labels, static_cast<double>(micros) / 1e6);
      out += fmt::format("{}_count{{{}}} {}\n", name, labels, n);
    }
  }
  return true;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// How a backend's number is exported, by the Prometheus naming conventions the stats
// sink documents: a name ending in _total is a monotonic counter, anything else a gauge;
// a time in _ms or _us becomes _seconds; a gauge may not end in a suffix Prometheus
// keeps for histograms and summaries (_count, _sum, _bucket), so it gains _value.
struct Family {
  std::string name;
  const char* type;
  double scale = 1.0;
};

Family family_of(const std::string& raw) {
  std::string name = raw;
  const bool monotonic = ends_with(name, "_total");
  if (monotonic) name.resize(name.size() - 6);
  double scale = 1.0;
  if (ends_with(name, "_ms")) {
    name.resize(name.size() - 3);
    name += "_seconds";
    scale = 1e-3;
  } else if (ends_with(name, "_us") || ends_with(name, "_microseconds")) {
    name.resize(name.size() - (ends_with(name, "_us") ? 3 : 13));
    name += "_seconds";
    scale = 1e-6;
  }
  if (monotonic) {
    name += "_total";
  } else if (ends_with(name, "_count") || ends_with(name, "_sum") || ends_with(name, "_bucket")) {
    name += "_value";
  }
  return Family{name, monotonic ? "counter" : "gauge", scale};
}

std::string sample(std::int64_t value, double scale) {
  if (scale == 1.0) return std::to_string(value);
  return fmt::format("{}", static_cast<double>(value) * scale);
}

}  // namespace

std::string prometheus_name(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(ok ? c : '_');
    }
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
  return out;
}

std::string prometheus_label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// One family per value, in a fixed order, so scrapes diff cleanly.
std::string stats_prometheus(const CoreStats& core, const BackendStats& backend) {
  std::string out;
  struct Counter {
    const char* name;
    std::uint64_t value;
    const char* help;
  };
  const Counter counters[] = {
      {"connections_accepted", core.connections_accepted, "Connections accepted."},
      {"connections_refused", core.connections_refused, "Connections refused at max_connections."},
      {"connections_killed", core.connections_killed, "Connections killed by an operator."},
      {"connections_timed_out", core.connections_timed_out,
       "Connections closed after wait_timeout."},
      {"requests", core.requests, "Requests handled."},
      {"requests_too_large", core.requests_too_large,
       "Requests refused for exceeding max_request_size."},
      {"handler_errors", core.handler_errors, "Requests whose handler threw."},
      {"write_timeouts", core.write_timeouts, "Replies abandoned after net_write_timeout."},
      {"requests_timed_out", core.requests_timed_out,
       "Requests not complete within request_timeout; their connections closed."},
      {"output_limit_closes", core.output_limit_closes,
       "Connections closed for unsent replies over max_output_buffer or the soft limit."},
      {"connections_over_memory", core.connections_over_memory,
       "Connections closed, largest first, when buffers reached max_connection_memory."},
      {"accept_errors", core.accept_errors, "Failed accept calls."},
      {"proxy_headers", core.proxy_headers,
       "PROXY protocol headers accepted from --proxy-protocol-networks (LOCAL included)."},
      {"proxy_header_errors", core.proxy_header_errors,
       "Connections closed for a malformed, truncated or late (--connect-timeout) PROXY "
       "header."},
      {"proxy_headers_refused", core.proxy_headers_refused,
       "Connections closed for sending a PROXY header from a network not allowed."},
      {"received_bytes", core.bytes_received, "Bytes received from clients."},
      {"sent_bytes", core.bytes_sent, "Bytes sent to clients."},
      {"backend_switches", core.backend_switches,
       "Switches of thread_handling completed (POST /set?thread_handling=...)."},
      {"backend_switches_refused", core.backend_switches_refused,
       "Switches of thread_handling refused (bad backend, cannot hand back, cannot hold, busy)."},
      {"connections_moved", core.connections_moved,
       "Connections moved from one backend to another by those switches."}};
  for (const auto& c : counters) {
    std::string name = fmt::format("connsched_{}_total", c.name);
    family(out, name, "counter", c.help);
    out += fmt::format("{} {}\n", name, c.value);
  }
  family(out, "connsched_connections_current", "gauge", "Connections open now.");
  out += fmt::format("connsched_connections_current {}\n", core.connections_current);
  family(out, "connsched_connection_buffer_bytes", "gauge",
         "Bytes all connections' input and output buffers hold now.");
  out += fmt::format("connsched_connection_buffer_bytes {}\n", core.connection_buffer_bytes);
  family(out, "connsched_backend_switch_in_progress", "gauge",
         "1 while a switch of thread_handling moves connections.");
  out += fmt::format("connsched_backend_switch_in_progress {}\n", core.backend_switch_in_progress);
  family(out, "connsched_last_switch_seconds", "gauge",
         "How long the last switch of thread_handling took, to its last connection moved.");
  out += fmt::format("connsched_last_switch_seconds {:.3f}\n",
                     static_cast<double>(core.last_switch_ms) / 1000.0);
  family(out, "connsched_connections_peak", "gauge", "Most connections open at once since start.");
  out += fmt::format("connsched_connections_peak {}\n", core.connections_peak);
  family(out, "connsched_waits_total", "counter", "Blocking waits reported by handlers, by type.");
  for (std::size_t i = 0; i < core.waits.size(); ++i) {
    out += fmt::format("connsched_waits_total{{type=\"{}\"}} {}\n",
                       wait_type_name(static_cast<int>(i)), core.waits[i]);
  }
  std::string backend_label =
      fmt::format("backend=\"{}\"", prometheus_label_value(backend.backend));
  family(out, "connsched_backend_info", "gauge", "The scheduler backend serving connections.");
  out += fmt::format("connsched_backend_info{{{}}} 1\n", backend_label);
  family(out, "connsched_backend_max_threads", "gauge",
         "Most threads the backend will run, from its descriptor (0: unlimited).");
  out +=
      fmt::format("connsched_backend_max_threads{{{}}} {}\n", backend_label, backend.max_threads);
  std::set<std::string> seen;
  for (const auto& c : backend.counters) {
    const Family f = family_of("connsched_backend_" + prometheus_name(c.name));
    if (!seen.insert(f.name).second) continue;  // a family appears once
    family(out, f.name, f.type, c.help.empty() ? c.name : c.help);
    out += fmt::format("{}{{{}}} {}\n", f.name, backend_label, sample(c.value, f.scale));
  }
  for (const auto& table : backend.tables) {
    if (histogram_family(out, table, backend_label, seen)) continue;
    std::vector<std::string> labels = row_labels(table, backend_label);
    if (labels.empty()) continue;  // a listing, not metrics (see row_labels)
    for (std::size_t c = 1; c < table.columns.size(); ++c) {
      bool numeric = false;
      for (const auto& row : table.rows) {
        if (c < row.size() && std::holds_alternative<std::int64_t>(row[c])) numeric = true;
      }
      if (!numeric) continue;
      const Family f = family_of(fmt::format("connsched_backend_{}_{}", prometheus_name(table.name),
                                             prometheus_name(table.columns[c])));
      if (!seen.insert(f.name).second) continue;
      family(out, f.name, f.type,
             fmt::format("Column {} of the backend's {} table.", table.columns[c], table.name));
      for (std::size_t r = 0; r < table.rows.size(); ++r) {
        const auto& row = table.rows[r];
        if (c >= row.size() || !std::holds_alternative<std::int64_t>(row[c])) continue;
        out += fmt::format("{}{{{}}} {}\n", f.name, labels[r],
                           sample(std::get<std::int64_t>(row[c]), f.scale));
      }
    }
  }
  return out;
}

}  // namespace connsched
