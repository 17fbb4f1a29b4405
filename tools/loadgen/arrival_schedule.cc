// File: tools/loadgen/arrival_schedule.cc
#include "arrival_schedule.h"

#include <cmath>

namespace loadgen {

namespace {

ArrivalSchedule::Clock::duration seconds(double s) {
  return std::chrono::duration_cast<ArrivalSchedule::Clock::duration>(
      std::chrono::duration<double>(s));
}

}  // namespace

ArrivalSchedule::ArrivalSchedule(Arrivals kind, double rate, Clock::time_point start,
                                 std::uint64_t seed)
    : kind_(kind), gap_s_(1.0 / rate), origin_(start), state_(seed) {
  // A constant schedule counts whole gaps from a phase-shifted origin (no drift from
  // adding rounded gaps); a Poisson one draws its first gap like every other.
  if (kind_ == Arrivals::kConstant) {
    origin_ = start + seconds(uniform() * gap_s_);
    next_ = origin_;
  } else {
    next_ = start + seconds(-std::log(uniform()) * gap_s_);
  }
}

void ArrivalSchedule::advance() {
  // Exponential gaps of mean 1/rate make the arrivals a Poisson process; the sum of
  // many connections' Poisson processes is again one, at the total rate.
  if (kind_ == Arrivals::kConstant) {
    ++index_;
    next_ = origin_ + seconds(static_cast<double>(index_) * gap_s_);
  } else {
    next_ += seconds(-std::log(uniform()) * gap_s_);
  }
}

double ArrivalSchedule::uniform() {
  // splitmix64 (https://prng.di.unimi.it/splitmix64.c), the top 53 bits as a double,
  // shifted off 0 so log() is finite.
  state_ += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (static_cast<double>(z >> 11) + 0.5) / 9007199254740992.0;
}

}  // namespace loadgen
