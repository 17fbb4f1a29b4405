// File: core/src/core_counters.h
//
// Core's counters: relaxed atomics bumped on the hot path, read by stats.
#ifndef CONNSCHED_CORE_CORE_COUNTERS_H_
#define CONNSCHED_CORE_CORE_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "connsched/scheduler_abi.h"
#include "connsched/server.h"

namespace connsched {

struct CoreCounters {
  using Counter = std::atomic<std::uint64_t>;
  Counter accepted{0}, refused{0}, killed{0}, timed_out{0}, requests{0}, too_large{0},
      handler_errors{0}, write_timeouts{0}, requests_timed_out{0}, output_limit_closes{0},
      over_memory{0}, accept_errors{0}, proxy_headers{0}, proxy_header_errors{0},
      proxy_headers_refused{0}, bytes_received{0}, bytes_sent{0}, backend_switches{0},
      backend_switches_refused{0}, connections_moved{0};
  std::array<Counter, CONNSCHED_WAIT_TYPE_COUNT> waits{};

  static void bump(Counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

  CoreStats snapshot(std::uint64_t current, std::uint64_t peak) const {
    auto get = [](const Counter& c) { return c.load(std::memory_order_relaxed); };
    CoreStats s;
    s.connections_accepted = get(accepted);
    s.connections_refused = get(refused);
    s.connections_current = current;
    s.connections_peak = peak;
    s.connections_killed = get(killed);
    s.connections_timed_out = get(timed_out);
    s.requests = get(requests);
    s.requests_too_large = get(too_large);
    s.handler_errors = get(handler_errors);
    s.write_timeouts = get(write_timeouts);
    s.requests_timed_out = get(requests_timed_out);
    s.output_limit_closes = get(output_limit_closes);
    s.connections_over_memory = get(over_memory);
    s.accept_errors = get(accept_errors);
    s.proxy_headers = get(proxy_headers);
    s.proxy_header_errors = get(proxy_header_errors);
    s.proxy_headers_refused = get(proxy_headers_refused);
    s.bytes_received = get(bytes_received);
    s.bytes_sent = get(bytes_sent);
    s.backend_switches = get(backend_switches);
    s.backend_switches_refused = get(backend_switches_refused);
    s.connections_moved = get(connections_moved);
    for (const auto& w : waits) s.waits.push_back(get(w));
    return s;
  }
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_CORE_COUNTERS_H_
