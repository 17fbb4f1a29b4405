// File: schedulers/pool_of_threads/thread_priority.h
//
// What the pool asks of the kernel about one of its threads: lower a thread's CPU
// priority while it is on a long request and raise it again after, read its CPU clock,
// and tell a thread that is blocked from one that is only waiting for a CPU.
#ifndef CONNSCHED_POOL_OF_THREADS_THREAD_PRIORITY_H_
#define CONNSCHED_POOL_OF_THREADS_THREAD_PRIORITY_H_

#include <sys/types.h>
#include <time.h>

#include <cstdint>

namespace connsched::pool_of_threads {

/// The calling thread's kernel id (what sched_setscheduler and /proc/self/task take).
pid_t current_tid();

/// Puts thread `tid` of this process at `nice` (1..19). False if refused.
bool demote_thread(pid_t tid, int nice);

/// Gives the calling thread back SCHED_OTHER at nice 0. False when the kernel refuses
/// (no CAP_SYS_NICE and RLIMIT_NICE too low): the thread must then not serve again.
bool restore_current_thread();

/// A thread CPU clock's reading in nanoseconds, or -1 if it cannot be read.
std::int64_t cpu_clock_ns(clockid_t clock);

/// True when thread `tid` of this process is running or runnable ('R' in its /proc
/// stat): a still CPU clock then means a busy CPU, not a blocked thread.
bool thread_runnable(pid_t tid);

/// Context switches of one thread since it started.
struct ContextSwitches {
  std::uint64_t voluntary = 0;    // it blocked (a futex, a poll, a read)
  std::uint64_t involuntary = 0;  // it was preempted
};

/// Thread `tid` of this process, from /proc/self/task/TID/status; zeros if gone.
ContextSwitches thread_context_switches(pid_t tid);

/// The calling thread's own (getrusage RUSAGE_THREAD: no file to read).
ContextSwitches own_context_switches();

}  // namespace connsched::pool_of_threads

#endif  // CONNSCHED_POOL_OF_THREADS_THREAD_PRIORITY_H_
