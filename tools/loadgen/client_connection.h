// File: tools/loadgen/client_connection.h
//
// One client connection of a load worker: its socket, what it still has to send, and
// when each request in flight was sent (a pipeline answers in order).
#ifndef CONNSCHED_LOADGEN_CLIENT_CONNECTION_H_
#define CONNSCHED_LOADGEN_CLIENT_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "unique_fd.h"

namespace loadgen {

using Clock = std::chrono::steady_clock;

/// One request in flight: when it should have gone (open loop) and when it went.
struct InFlight {
  Clock::time_point intended;
  Clock::time_point sent;
};

struct ClientConnection {
  enum class State { kNotStarted, kConnecting, kOpen, kClosed };

  UniqueFd fd;
  State state = State::kNotStarted;
  bool idle = false;              ///< held open and silent
  std::uint32_t class_index = 0;  ///< which RequestClass it sends
  bool settled = false;           ///< its first connect attempt has finished
  bool writing = false;           ///< EPOLLOUT is armed for a partial write
  bool refused = false;           ///< the server turned it away (max connections)
  std::string in;                 ///< received bytes not yet parsed
  std::string out;                ///< bytes not yet sent
  std::size_t out_sent = 0;
  std::deque<InFlight> sent_at;  ///< one per request in flight, oldest first
  /// Open loop: intended send times that are due but wait for room in the pipeline.
  std::deque<Clock::time_point> backlog;
  Clock::time_point connect_started;
  /// A sequence class: the step whose reply is awaited, the run's draw for {rand%K},
  /// and when the run should have started (its first step's intended time) and did.
  std::uint32_t number = 0;  ///< the connection's number over the run, for {conn%K}
  std::size_t step = 0;
  std::uint64_t draw = 0;
  Clock::time_point run_intended;
  Clock::time_point run_sent;
  /// A GET_LOCK step of this run got the lock: the later steps are a holder's requests.
  bool holding = false;
  /// check_counters: the last counter value this connection was answered.
  std::int64_t last_count = 0;
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_CLIENT_CONNECTION_H_
