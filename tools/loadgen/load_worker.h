// File: tools/loadgen/load_worker.h
//
// One load-generator thread: an epoll loop driving its share of the connections in a
// closed loop (each reply triggers the next request) or an open one (each connection
// sends at its scheduled times), with connect churn and idle connections. Thousands of connections
// per worker; never a thread per connection.
#ifndef CONNSCHED_LOADGEN_LOAD_WORKER_H_
#define CONNSCHED_LOADGEN_LOAD_WORKER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <queue>
#include <string>
#include <vector>

#include "arrival_schedule.h"
#include "client_connection.h"
#include "load_control.h"
#include "load_spec.h"
#include "pacer.h"
#include "request_sequence.h"
#include "unique_fd.h"

namespace loadgen {

/// Which connections a worker drives: idle ones, or active ones of a request class.
struct ConnectionPlan {
  bool idle = false;
  std::uint32_t class_index = 0;
  std::uint32_t number = 0;  ///< unique over the run: what a sequence's {conn%K} reads
};

class LoadWorker {
 public:
  /// `rate`: this worker's share of the spec's rate (0: unpaced); in an open loop,
  /// `per_connection_rate` is each first-class connection's; `seed` varies its phases.
  LoadWorker(const LoadSpec& spec, LoadControl& control, std::vector<ConnectionPlan> plan,
             double rate = 0, double per_connection_rate = 0, std::uint64_t seed = 1);
  /// Runs until the control's phase is kDone.
  void run();
  /// What this worker measured; valid after run() returned.
  const LoadResult& result() const { return result_; }

 private:
  void start_connects(Clock::time_point now);
  void connect(std::size_t index, Clock::time_point now);
  void on_event(std::size_t index, std::uint32_t events, Clock::time_point now);
  void on_connected(ClientConnection& conn, Clock::time_point now);
  void on_readable(std::size_t index, Clock::time_point now);
  void on_reply(std::size_t index, const ReplyParse& reply, Clock::time_point now);
  void send_request(ClientConnection& conn, Clock::time_point now);
  void send_request(ClientConnection& conn, Clock::time_point now, Clock::time_point intended);
  void send_step(ClientConnection& conn, Clock::time_point now, Clock::time_point intended);
  bool continue_sequence(ClientConnection& conn, const ReplyParse& reply, const InFlight& request,
                         Clock::time_point now);
  bool scheduled(const ClientConnection& conn) const;
  void start_schedules(Clock::time_point now);
  void release_due(Clock::time_point now);
  void send_backlog(ClientConnection& conn, Clock::time_point now);
  int wait_timeout_ns(Clock::time_point now) const;
  TimelineInterval* interval_at(Clock::time_point now);
  void count_interval_errors(Clock::time_point now);
  void send_paced(std::size_t index, Clock::time_point now);
  void release_paced(Clock::time_point now);
  void publish_progress();
  void cut_runs();
  void fill_pipeline(ClientConnection& conn, Clock::time_point now);
  void flush(ClientConnection& conn);
  void set_writing(ClientConnection& conn, bool writing);
  void close(std::size_t index, bool failure, std::string_view why);
  bool reopen(std::size_t index);
  void settle(ClientConnection& conn);
  void check_counter(ClientConnection& conn, const ReplyParse& reply);
  void note_error(std::string_view what);
  bool sending_allowed() const;

  const LoadSpec& spec_;
  LoadControl& control_;
  std::vector<ClientConnection> conns_;
  /// Each class's steps (one for a plain request), and each step's bytes when they do
  /// not vary (templated steps are encoded at each send).
  std::vector<RequestSequence> sequences_;
  std::vector<std::vector<std::string>> encoded_;
  std::deque<std::size_t> to_connect_;

  UniqueFd epoll_;
  Pacer pacer_;
  std::deque<std::size_t> paced_;  ///< one entry per request waiting for a token
  /// Open loop: each scheduled connection's arrivals, and a min-heap of (next intended
  /// time, connection) so a tick costs O(due log n), not a scan of every connection.
  using Due = std::pair<Clock::time_point, std::size_t>;
  bool open_loop_ = false;
  double per_connection_rate_ = 0;
  std::uint64_t seed_ = 1;
  std::uint64_t draws_ = 0;                ///< state of the {rand%K} draws (splitmix64)
  std::vector<ArrivalSchedule> arrivals_;  ///< index-aligned with conns_ once started
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  Clock::time_point measure_start_;
  std::uint64_t timeline_errors_seen_ = 0;
  Clock::time_point last_publish_;
  std::uint64_t published_requests_ = 0;
  std::uint64_t published_errors_ = 0;
  std::uint32_t connecting_ = 0;
  std::uint64_t in_flight_ = 0;
  bool started_ = false;
  bool drained_ = false;
  bool cut_runs_ = false;
  Phase phase_ = Phase::kConnect;  ///< this loop iteration's view of the phase
  std::string scratch_;
  LoadResult result_;
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_LOAD_WORKER_H_
