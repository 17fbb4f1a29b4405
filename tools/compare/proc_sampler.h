// File: tools/compare/proc_sampler.h
//
// What /proc says about a server process: resident memory (VmRSS, and its peak
// VmHWM), thread count (Threads), CPU time (utime + stime) and open descriptors
// (/proc/PID/fd); the same summed over its whole process tree (a forking server's
// workers, nginx's workers); the tree's context switches, thread by thread; and a sampler
// thread that keeps the tree's peaks while a load runs.
#ifndef CONNSCHED_COMPARE_PROC_SAMPLER_H_
#define CONNSCHED_COMPARE_PROC_SAMPLER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
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

/// Context switches: voluntary (the thread blocked: a wait, a sleep, a read with nothing
/// to read, a lock held by another) and involuntary (it was preempted: its time slice ran
/// out or another thread was woken ahead of it).
struct ContextSwitches {
  std::uint64_t voluntary = 0;
  std::uint64_t involuntary = 0;
};

/// The `voluntary_ctxt_switches:` and `nonvoluntary_ctxt_switches:` lines of a
/// /proc/PID/status (or /proc/PID/task/TID/status) text; nullopt when either is missing.
std::optional<ContextSwitches> parse_context_switches(std::string_view status_text);

/// Every thread (/proc/PID/task/*/status) of `pid` and of each of its descendants alive
/// now, summed; nullopt when `pid` is gone. Threads, because the lines of /proc/PID/status
/// are the main thread's alone. Only live threads count: the kernel keeps an exited
/// thread's switches, but nowhere another process can read them for a window (the process
/// itself has them in getrusage RUSAGE_SELF; its parent, once it is reaped, in wait4's
/// rusage or RUSAGE_CHILDREN, over its whole life; /proc/PID/stat has no such field). So a
/// thread or a worker that exits inside a measured window takes its switches with it —
/// unlike its CPU time, which a reaped worker leaves in its parent's cutime/cstime.
std::optional<ContextSwitches> read_tree_context_switches(pid_t pid);

/// What happened between two samples of the same tree, counter by counter; 0 where a
/// counter went down (threads that exited in between had more than the rest gained).
ContextSwitches context_switches_between(const ContextSwitches& before,
                                         const ContextSwitches& after);

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
