// File: tools/loadgen/arrival_schedule.h
//
// When an open-loop connection should send its next request: at constant spacing, or
// as a Poisson process (exponential gaps), at a fixed rate, from a start time. The
// times are a function of the rate and the clock alone, never of replies, so a slow
// reply cannot push the schedule back (Gil Tene's "coordinated omission":
// https://www.youtube.com/watch?v=lJ8ydIuPFeU; wrk2 does the same,
// https://github.com/giltene/wrk2).
#ifndef CONNSCHED_LOADGEN_ARRIVAL_SCHEDULE_H_
#define CONNSCHED_LOADGEN_ARRIVAL_SCHEDULE_H_

#include <chrono>
#include <cstdint>

namespace loadgen {

enum class Arrivals { kConstant, kPoisson };

class ArrivalSchedule {
 public:
  using Clock = std::chrono::steady_clock;
  /// `rate` requests per second (> 0) from `start`. A constant schedule starts at a
  /// random phase within its first gap (so thousands of connections do not fire
  /// together); `seed` picks the phase and the Poisson gaps.
  ArrivalSchedule(Arrivals kind, double rate, Clock::time_point start, std::uint64_t seed);
  /// The intended send time of the next request.
  Clock::time_point next() const { return next_; }
  /// Moves on to the request after it.
  void advance();

 private:
  double uniform();  // in (0, 1)
  Arrivals kind_;
  double gap_s_;  ///< 1 / rate
  Clock::time_point origin_;
  std::uint64_t index_ = 0;  ///< constant: how many gaps from origin_
  std::uint64_t state_;      ///< splitmix64: 8 bytes per connection, not a 5 KiB engine
  Clock::time_point next_;
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_ARRIVAL_SCHEDULE_H_
