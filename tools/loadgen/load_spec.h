// File: tools/loadgen/load_spec.h
//
// What a load run does (LoadSpec) and what it measured (LoadResult).
#ifndef CONNSCHED_LOADGEN_LOAD_SPEC_H_
#define CONNSCHED_LOADGEN_LOAD_SPEC_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "arrival_schedule.h"
#include "connsched/log_histogram.h"
#include "wire_protocol.h"

namespace loadgen {

/// One kind of request and the connections that send it. The first class takes every
/// connection the others do not claim.
struct RequestClass {
  std::string name;  ///< "ping", "burn": names the class in reports
  /// "PING" (RESP), "/burn?us=200" (HTTP), "hello" (line), or a sequence of requests
  /// sent one after the other on a connection ("GET_LOCK lk{rand%4} 5 | INCR c |
  /// RELEASE_LOCK lk{rand%4}", see request_sequence.h), which then counts as one request.
  std::string request;
  std::uint32_t connections = 0;  ///< for classes after the first: how many send this
};

/// Live totals for a caller that watches a long run while it goes (the soak test samples
/// them every few seconds); workers add to them about every 100 ms.
struct LoadProgress {
  std::atomic<std::uint64_t> requests{0};  ///< replies counted while measuring
  std::atomic<std::uint64_t> errors{0};    ///< every kind, as LoadResult::errors()
};

struct LoadSpec {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  WireProtocol protocol = WireProtocol::kResp;
  std::uint32_t connections = 16;  ///< active connections (closed loop)
  std::uint32_t pipeline = 1;      ///< requests in flight per active connection
  std::uint64_t requests = 0;      ///< requests to measure; 0: run for `duration`
  std::chrono::milliseconds duration{5000};
  std::chrono::milliseconds warmup{1000};  ///< load before measuring, not counted
  bool churn = false;  ///< each request on a new connection: connect, send, reply, close
  /// A connection the server closes (EOF or reset, or an HTTP reply saying
  /// `Connection: close`) is reopened at once, as a client behind a balancer does during
  /// a drain or a restart: counted in `reconnects`, and the requests it had in flight in
  /// `unanswered_at_close`, apart from the errors. A reconnect refused is an error.
  bool reconnect = false;
  std::uint32_t idle_connections = 0;  ///< held open, silent, for the whole run
  std::uint32_t threads = 2;
  std::vector<RequestClass> classes;
  std::chrono::milliseconds connect_timeout{20000};  ///< for opening every connection
  std::chrono::milliseconds drain_timeout{15000};    ///< for replies after the run ends
  std::uint32_t connects_in_flight = 256;            ///< per thread, so the listen backlog keeps up
  /// Target requests per second over all threads (churn: connections per second); 0 is
  /// a closed loop as fast as replies come. A connection whose reply came when no token
  /// was left waits for one, so `connections` bounds the concurrency, `rate` the load.
  double rate = 0;
  /// Open loop (needs `rate`, a duration, no churn): the first class's connections send
  /// at intended times (`arrivals`, rate / their count each), whether or not replies
  /// have come. A request whose connection already has `pipeline` in flight waits on
  /// the client side, its latency counted from its intended time; the classes after the
  /// first stay closed loops (the background load of a mix).
  bool open_loop = false;
  Arrivals arrivals = Arrivals::kConstant;
  std::uint64_t seed = 1;  ///< phases and Poisson gaps
  /// Keep a time series of the measured window in intervals of this length (0: none).
  std::chrono::milliseconds timeline_interval{0};
  LoadProgress* progress = nullptr;  ///< if set, live totals go here (not owned)
  /// The first class's request is an INCR of a key of the connection's own ("INCR
  /// c{conn%1000000}", on a fresh server): every reply must be the integer one more than
  /// the last reply on that connection, starting at 1. A reply that is not (one lost,
  /// run twice, or answered out of order) counts in `mismatched_replies`.
  bool check_counters = false;
};

/// One step of a sequence: its replies while measuring, and the time from its send to
/// its reply (a GET_LOCK's includes its wait for the lock).
struct StepResult {
  std::string name;  ///< "get_lock"
  std::uint64_t replies = 0;
  std::uint64_t errors = 0;         ///< error replies to this step
  std::uint64_t lock_timeouts = 0;  ///< a GET_LOCK step's replies of 0: the wait timed out
  connsched::LogHistogram latency;
};

struct ClassResult {
  std::string name;
  /// Replies received while measuring; for a sequence, its runs that reached the last
  /// step's reply (a run ended early by an error or a lock-wait timeout is not one).
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  ///< error replies to this class (any step) while measuring
  /// A sequence's runs ended by a GET_LOCK that timed out (its other steps not sent).
  std::uint64_t lock_timeouts = 0;
  std::vector<StepResult> steps;  ///< a sequence's steps, in order; empty otherwise
  /// A sequence with a GET_LOCK step: every step sent after the GET_LOCK got the lock
  /// (INCR and RELEASE_LOCK in "GET_LOCK | INCR | RELEASE_LOCK"), from its send to its
  /// reply. What a pool that cannot give a lock holder a thread delays (MDEV-38219): in
  /// that deadlock it is the holder's first request that waits, not always the release.
  connsched::LogHistogram holder_requests;
  /// Nanoseconds from the intended send time to the reply: corrected for coordinated
  /// omission in an open loop; the same as `service` in a closed one (churn: connect to
  /// reply).
  connsched::LogHistogram latency;
  connsched::LogHistogram service;  ///< nanoseconds from the actual send to the reply
};

/// One interval of the measured window: replies completed in it (every class), the
/// first class's corrected latencies of those replies, and the errors seen in it.
struct TimelineInterval {
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  connsched::LogHistogram latency;
};

struct LoadResult {
  double seconds = 0;  ///< the measured window
  std::vector<ClassResult> classes;
  std::uint64_t requests = 0;          ///< all classes
  std::uint64_t error_replies = 0;     ///< error replies (not refusals), whole run
  std::uint64_t refused = 0;           ///< ECONNREFUSED, "max clients" replies, HTTP 503
  std::uint64_t connect_failures = 0;  ///< other connect errors, or connect timeouts
  std::uint64_t dropped = 0;           ///< connections closed or reset by the server
  std::uint64_t unanswered = 0;        ///< requests sent but never answered
  std::uint64_t invalid_replies = 0;   ///< bytes that are not a reply of the protocol
  /// check_counters: replies that were not the connection's counter plus one.
  std::uint64_t mismatched_replies = 0;
  /// GET_LOCK steps that timed out, every class, while measuring: not errors (the
  /// server answered as asked), but what a lock pile-up or a deadlock looks like.
  std::uint64_t lock_timeouts = 0;
  /// Sequence runs still in progress when the load stopped: their connections were
  /// closed, not waited for (one may hold a lock others wait for); not errors.
  std::uint64_t runs_cut = 0;
  std::uint64_t connections_opened = 0;
  /// --reconnect: connections the server closed and the load generator reopened, and
  /// the requests they had in flight then (no reply came; the server may or may not
  /// have run them). Not errors: what a drain or a restart costs a client that retries.
  std::uint64_t reconnects = 0;
  std::uint64_t unanswered_at_close = 0;
  std::uint32_t idle_open_at_end = 0;  ///< idle connections still open when the run ended
  std::string first_error;             ///< the first failure seen, for the report
  /// Open loop: requests that could not go at their intended time because their
  /// connection was busy (they waited client-side), and requests still waiting when the
  /// run ended (never sent). Overload shows here, not as errors.
  std::uint64_t queued = 0;
  std::uint64_t unsent = 0;
  double offered_rate = 0;  ///< the open loop's rate; 0 for a closed loop
  std::chrono::milliseconds timeline_interval{0};
  std::vector<TimelineInterval> timeline;  ///< the measured window, interval by interval

  std::uint64_t errors() const {
    return error_replies + refused + connect_failures + dropped + unanswered + invalid_replies +
           mismatched_replies;
  }
  double throughput() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  /// Every class's latencies together (corrected, and service time).
  connsched::LogHistogram all_latency() const;
  connsched::LogHistogram all_service() const;
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_LOAD_SPEC_H_
