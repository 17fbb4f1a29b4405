// File: tools/loadgen/pacer.h
//
// Pacing for an open-ish load: a token bucket that lets a worker send at most `rate`
// requests per second on average (a soak wants a steady, modest load, not a flat-out
// closed loop that takes every core). Tokens accrue with time up to a small burst, so
// a worker that was held up does not catch up with a flood.
#ifndef CONNSCHED_LOADGEN_PACER_H_
#define CONNSCHED_LOADGEN_PACER_H_

#include <chrono>
#include <cstdint>

namespace loadgen {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;
  /// `rate` requests per second (0: unpaced, every take succeeds); at most `burst`
  /// tokens saved up (at least 1).
  Pacer(double rate, double burst, Clock::time_point start);
  /// Takes one token if one has accrued by `now`.
  bool try_take(Clock::time_point now);
  bool paced() const { return rate_ > 0; }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

/// The burst a worker pacing `rate` per second allows: 20 ms worth, at least one.
double default_burst(double rate);

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_PACER_H_
