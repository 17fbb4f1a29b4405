// File: tools/compare/compare_row.h
//
// One measurement: a scenario at one connection count under one backend, with the
// load's figures and the server's.
#ifndef CONNSCHED_COMPARE_COMPARE_ROW_H_
#define CONNSCHED_COMPARE_COMPARE_ROW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "load_report.h"

namespace compare_tool {

/// One interval of a measurement's timeline: replies completed, the first class's p99
/// (corrected) and the errors in it.
struct TimelinePoint {
  double start_s = 0;
  std::uint64_t completed = 0;
  double p99_us = 0;
  std::uint64_t errors = 0;
};

/// One step of a sequence (the first class's): replies and the time from its send to
/// its reply.
struct StepFigures {
  std::string name;  ///< "release_lock"
  std::uint64_t replies = 0;
  std::uint64_t lock_timeouts = 0;
  loadgen::LatencySummary latency;
};

/// The server's process tree at one moment: what a switch changes.
struct ServerSnapshot {
  std::uint64_t rss_kb = 0;
  std::uint64_t threads = 0;
  std::uint64_t fds = 0;
  bool taken = false;  ///< false: the server could not be read then
};

/// One live switch of thread_handling during a measurement (the switch scenario).
struct SwitchEvent {
  double at_s = 0;    ///< when it was asked for, seconds into the measured window
  std::string to;     ///< the backend switched to (name or path)
  int status = 0;     ///< POST /set's HTTP status: 200 done, 202 still moving, else refused
  bool done = false;  ///< the server reported it complete (every connection moved)
  std::uint64_t connections = 0;  ///< open connections the switch had to move
  std::uint64_t moved = 0;        ///< connections_moved went up by this much
  double took_ms = -1;            ///< the server's last_switch_ms: start to last one moved
  ServerSnapshot before, after;   ///< just before the request; 100 ms after it completed
  std::string error;              ///< a refusal's reason, or why it could not be followed
};

struct CompareRow {
  std::string scenario;
  std::string server;   ///< kv_server, http_server, redis-server, nginx
  std::string backend;  ///< the label
  std::uint32_t connections = 0;
  std::uint32_t idle = 0;
  bool ran = false;  ///< false: the server did not start (see note)
  std::string note;  ///< why it did not run, or the first error seen

  double seconds = 0;
  std::uint64_t requests = 0;  ///< first class (the whole load unless mixed)
  double throughput = 0;       ///< all classes, per second
  /// First class: from the intended send time (open loop; corrected for coordinated
  /// omission) — in a closed loop the same as the service time.
  loadgen::LatencySummary latency;
  loadgen::LatencySummary service;  ///< first class, from the actual send
  /// Open loop: the offered rate of the first class (0: a closed loop), requests that
  /// waited for a busy connection, and requests never sent by the end of the run.
  double offered_rate = 0;
  std::uint64_t queued = 0, unsent = 0;
  std::vector<TimelinePoint> timeline;
  /// The first class's steps when it is a sequence (requests then count its runs), and
  /// the GET_LOCK steps answered 0 (the wait timed out) over every class.
  std::vector<StepFigures> steps;
  std::uint64_t lock_timeouts = 0;
  /// The requests a lock holder sent (the steps after a GET_LOCK that got the lock).
  loadgen::LatencySummary holder_requests;
  std::string key_step;  ///< the scenario's step singled out ("release_lock"), if any
  std::string class2;    ///< the mixed-in class, if any
  std::uint64_t class2_requests = 0;
  loadgen::LatencySummary class2_latency;

  std::uint64_t errors = 0;
  std::uint64_t error_replies = 0, refused = 0, connect_failures = 0, dropped = 0, unanswered = 0,
                invalid_replies = 0;
  std::uint32_t idle_open_at_end = 0;

  /// The server's whole process tree (workers of a forking backend, nginx's workers).
  double rss_peak_mb = 0;
  std::uint64_t threads_peak = 0;
  std::uint64_t fds_peak = 0;
  std::uint64_t processes_peak = 0;
  double cpu_seconds = 0;  ///< the tree's user+system time over the measured window
  /// The tree's context switches over the same window, summed over the threads alive at
  /// its start and at its end: a thread or worker that exited in between took its own
  /// with it (read_tree_context_switches).
  std::uint64_t voluntary_switches = 0, involuntary_switches = 0;
  /// The load generator's CPU time over the same window: near the CPUs it may use times
  /// the window, the client (not the server) set the pace.
  double client_cpu_seconds = 0;
  int exit_status = -1;  ///< after SIGTERM; -1: unknown (killed after a timeout)
  /// Proxy scenario: the most connections the upstream had open at once (its INFO).
  std::optional<std::uint64_t> upstream_peak;

  /// Switch scenario: each switch; the server idle before the load, with the load's
  /// connections open before the first switch, after the last switch settled, and once
  /// the load closed; the first class's p99 (corrected) over the intervals a switch
  /// overlapped and over the others.
  std::vector<SwitchEvent> switches;
  ServerSnapshot idle_server, loaded_server, after_switches, after_close;
  double steady_p99_us = 0, switch_p99_us = 0;
  double around_switch_p99_us = 0;  ///< over the switches and the 200 ms after each
  std::uint64_t mismatched_replies = 0;

  /// The first class's achieved rate (what an open loop's offered rate compares with).
  double achieved_rate() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  /// The server's CPU time per request (connection, for churn), in microseconds: what a
  /// request costs the server, whoever else shares the machine.
  double cpu_us_per_op() const { return per_op(cpu_seconds * 1e6); }
  /// The server's context switches per request (connection, for churn): how often a
  /// request made a thread block (voluntary) or be preempted (involuntary).
  double voluntary_cs_per_op() const { return per_op(static_cast<double>(voluntary_switches)); }
  double involuntary_cs_per_op() const { return per_op(static_cast<double>(involuntary_switches)); }
  /// A window's total over the requests completed in it (every class); 0 without any.
  double per_op(double total) const {
    const double ops = throughput * seconds;
    return ops > 0 ? total / ops : 0;
  }
  /// The step called `name`, or nullptr.
  const StepFigures* step(const std::string& name) const {
    for (const auto& s : steps) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
  /// Every request answered and a clean exit (and, for switches, every one done).
  bool clean() const {
    for (const auto& s : switches) {
      if (!s.done) return false;
    }
    return ran && errors == 0 && exit_status == 0;
  }
};

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_COMPARE_ROW_H_
