// File: tools/loadgen/pacer.cc
#include "pacer.h"

#include <algorithm>

namespace loadgen {

// One token at start, so the first request goes at once.
Pacer::Pacer(double rate, double burst, Clock::time_point start)
    : rate_(rate), burst_(std::max(1.0, burst)), tokens_(1.0), last_(start) {}

bool Pacer::try_take(Clock::time_point now) {
  // Tokens accrue continuously; taking one costs a whole one.
  if (rate_ <= 0) return true;
  if (now > last_) {
    tokens_ =
        std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

double default_burst(double rate) {
  // 20 ms of tokens smooths the 2 ms event-loop ticks without allowing a flood.
  return std::max(1.0, rate * 0.02);
}

}  // namespace loadgen
