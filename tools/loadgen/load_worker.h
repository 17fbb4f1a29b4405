// File: tools/loadgen/load_worker.h
//
// One load-generator thread: an epoll loop driving its share of the connections in a
// closed loop (each reply triggers the next request), with connect churn and idle
// connections. Thousands of connections per worker; never a thread per connection.
#ifndef CONNSCHED_LOADGEN_LOAD_WORKER_H_
#define CONNSCHED_LOADGEN_LOAD_WORKER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "client_connection.h"
#include "load_control.h"
#include "load_spec.h"
#include "pacer.h"
#include "unique_fd.h"

namespace loadgen {

/// Which connections a worker drives: idle ones, or active ones of a request class.
struct ConnectionPlan {
  bool idle = false;
  std::uint32_t class_index = 0;
};

class LoadWorker {
 public:
  /// `rate`: this worker's share of the spec's rate (0: unpaced).
  LoadWorker(const LoadSpec& spec, LoadControl& control, std::vector<ConnectionPlan> plan,
             double rate = 0);
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
  void send_paced(std::size_t index, Clock::time_point now);
  void release_paced(Clock::time_point now);
  void publish_progress();
  void fill_pipeline(ClientConnection& conn, Clock::time_point now);
  void flush(ClientConnection& conn);
  void set_writing(ClientConnection& conn, bool writing);
  void close(std::size_t index, bool failure, std::string_view why);
  void settle(ClientConnection& conn);
  void note_error(std::string_view what);
  bool sending_allowed() const;

  const LoadSpec& spec_;
  LoadControl& control_;
  std::vector<ClientConnection> conns_;
  std::vector<std::string> encoded_;  ///< each class's request bytes
  std::deque<std::size_t> to_connect_;

  UniqueFd epoll_;
  Pacer pacer_;
  std::deque<std::size_t> paced_;  ///< one entry per request waiting for a token
  Clock::time_point last_publish_;
  std::uint64_t published_requests_ = 0;
  std::uint64_t published_errors_ = 0;
  std::uint32_t connecting_ = 0;
  std::uint64_t in_flight_ = 0;
  bool started_ = false;
  bool drained_ = false;
  Phase phase_ = Phase::kConnect;  ///< this loop iteration's view of the phase
  std::string scratch_;
  LoadResult result_;
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_LOAD_WORKER_H_
