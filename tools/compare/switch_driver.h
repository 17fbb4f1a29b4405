// File: tools/compare/switch_driver.h
//
// The switch scenario's second actor: while the load runs, switches the server's
// thread_handling through its admin port (POST /set?thread_handling=...) on a fixed
// period, follows each switch to its end in /stats, and notes the server's threads,
// RSS and descriptors just before it and once it has settled.
#ifndef CONNSCHED_COMPARE_SWITCH_DRIVER_H_
#define CONNSCHED_COMPARE_SWITCH_DRIVER_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "compare_row.h"

namespace compare_tool {

/// The server's process tree now, as a snapshot (taken false if it is gone).
ServerSnapshot snapshot_server(pid_t pid);

/// The switch times, seconds into the measured window: `every / 2`, then each `every`,
/// as long as half a period is left after it for it to settle.
std::vector<double> switch_times(std::chrono::milliseconds duration,
                                 std::chrono::milliseconds every);

/// The first class's p99 (ns, corrected) over the timeline intervals that a switch
/// overlapped (`inside`) and over the rest (`steady`), and over those that overlapped a
/// switch or the `aftermath` after it (`around`: what the new backend's catch-up costs).
/// Pure, for tests.
struct WindowP99 {
  double steady_ns = 0;
  double inside_ns = 0;
  double around_ns = 0;
};
WindowP99 switch_window_p99(const std::vector<connsched::LogHistogram>& intervals,
                            std::chrono::milliseconds interval,
                            const std::vector<SwitchEvent>& switches,
                            std::chrono::milliseconds aftermath = std::chrono::milliseconds(200));

class SwitchDriver {
 public:
  /// Switches server `pid` (admin port `admin_port`), which runs `targets[0]`, to
  /// `targets[1]`, `targets[2]`, ... round robin, at switch_times(duration, every).
  SwitchDriver(pid_t pid, std::uint16_t admin_port, std::vector<std::string> targets,
               std::chrono::milliseconds duration, std::chrono::milliseconds every);
  /// The measured window begins now: the loaded baseline is taken, the switches start.
  void start();
  /// No switch is started after this (one in progress is followed to its end).
  void stop();
  /// Stops switching, waits for one in progress, and returns them all.
  std::vector<SwitchEvent> finish();
  const ServerSnapshot& loaded() const { return loaded_; }

 private:
  void run(std::stop_token stop);
  SwitchEvent switch_to(const std::string& target);
  pid_t pid_;
  std::uint16_t admin_port_;
  std::vector<std::string> targets_;
  std::vector<double> times_;
  ServerSnapshot loaded_;
  std::chrono::steady_clock::time_point started_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::vector<SwitchEvent> events_;
  std::jthread thread_;  // last: it uses the members above
};

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_SWITCH_DRIVER_H_
