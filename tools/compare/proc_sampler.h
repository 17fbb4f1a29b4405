// File: tools/compare/proc_sampler.h
//
// What /proc says about a server process: resident memory (VmRSS, and its peak
// VmHWM), thread count (Threads), CPU time (utime + stime) and open descriptors
// (/proc/PID/fd); the same summed over its whole process tree (a forking server's
// workers, nginx's workers); and a sampler thread that keeps the tree's peaks while a
// load runs.
#ifndef CONNSCHED_COMPARE_PROC_SAMPLER_H_
#define CONNSCHED_COMPARE_PROC_SAMPLER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace compare_tool {

struct ProcSample {
  std::uint64_t rss_kb = 0;
  std::uint64_t hwm_kb = 0;  ///< peak resident memory since the process started
  std::uint64_t threads = 0;
  double cpu_seconds = 0;  ///< user + system, all threads, since the process started
};

/// The process's current figures; nullopt when it is gone.
std::optional<ProcSample> read_proc_sample(pid_t pid);

/// The number of open descriptors of the process (entries of /proc/PID/fd); nullopt
/// when it is gone or not ours to read.
std::optional<std::uint64_t> count_open_fds(pid_t pid);

/// A process and every descendant alive now, summed: RSS (shared pages counted in each
/// process, as `ps` does), threads, descriptors, and CPU including the children each
/// has reaped (cutime + cstime), so a worker that exits keeps counting in its parent.
struct TreeSample {
  std::uint64_t rss_kb = 0;
  std::uint64_t threads = 0;
  std::uint64_t fds = 0;
  std::uint64_t processes = 0;
  double cpu_seconds = 0;
};

/// `pid` and its descendants (by the parent field of /proc/*/stat), `pid` first.
std::vector<pid_t> process_tree(pid_t pid);

/// The tree's figures; nullopt when `pid` is gone.
std::optional<TreeSample> read_tree_sample(pid_t pid);

class PeakSampler {
 public:
  /// Samples the process tree of `pid` every `period` from a thread of its own until
  /// destroyed, so workers that come and go between samples are counted while alive.
  explicit PeakSampler(pid_t pid, std::chrono::milliseconds period = std::chrono::milliseconds(50));
  std::uint64_t peak_rss_kb() const { return peak_rss_kb_.load(); }
  std::uint64_t peak_threads() const { return peak_threads_.load(); }
  std::uint64_t peak_fds() const { return peak_fds_.load(); }
  std::uint64_t peak_processes() const { return peak_processes_.load(); }

 private:
  void sample(pid_t pid);
  std::atomic<std::uint64_t> peak_rss_kb_{0};
  std::atomic<std::uint64_t> peak_threads_{0};
  std::atomic<std::uint64_t> peak_fds_{0};
  std::atomic<std::uint64_t> peak_processes_{0};
  std::jthread thread_;  // last: it reads the peaks above
};

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_PROC_SAMPLER_H_
