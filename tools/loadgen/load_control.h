// File: tools/loadgen/load_control.h
//
// What the coordinating thread and the event-loop threads of one load run share: the
// run's phase, set by the coordinator, and a few counters the workers report through.
// Everything here is atomic; each worker's own state stays its own.
#ifndef CONNSCHED_LOADGEN_LOAD_CONTROL_H_
#define CONNSCHED_LOADGEN_LOAD_CONTROL_H_

#include <atomic>
#include <cstdint>

namespace loadgen {

enum class Phase : int {
  kConnect,  ///< opening connections; nothing is sent
  kWarmup,   ///< load runs, nothing is counted
  kMeasure,  ///< load runs and is counted
  kStop,     ///< no new requests; replies still awaited
  kDone,     ///< workers close everything and return
};

struct LoadControl {
  std::atomic<Phase> phase{Phase::kConnect};
  /// When the measured window began (steady clock, ns), stored before kMeasure is.
  std::atomic<std::int64_t> measure_start_ns{0};
  /// Requests that may still be sent while measuring (fixed-count runs only).
  std::atomic<std::int64_t> budget{0};
  /// Replies counted while measuring, so a fixed-count run knows when it is done.
  std::atomic<std::uint64_t> measured_replies{0};
  /// Connections whose first connect attempt succeeded or failed.
  std::atomic<std::uint32_t> settled{0};
  /// Workers with nothing in flight after kStop.
  std::atomic<std::uint32_t> drained{0};
};

}  // namespace loadgen

#endif  // CONNSCHED_LOADGEN_LOAD_CONTROL_H_
