// File: schedulers/pool_of_threads/thread_priority.cc
#include "thread_priority.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace connsched::pool_of_threads {

pid_t current_tid() {
  return static_cast<pid_t>(::syscall(SYS_gettid));
}

// A nice value, not SCHED_IDLE: at nice 10 a CPU-bound thread weighs 110 against a
// nice-0 thread's 1024 (the kernel's sched_prio_to_weight), so short requests on the
// group's other threads preempt it, yet it still progresses (measured in
// docs/benchmarks.md, mixed: SCHED_IDLE starved the burns to 4 in 10 s, nice 10 answered
// 38, more than one-thread-per-connection's 24). On Linux setpriority acts on one
// thread when given its tid (setpriority(2), "BUGS").
bool demote_thread(pid_t tid, int nice) {
  return ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) == 0;
}

// Lowering nice (and leaving SCHED_IDLE, if something else set it) needs CAP_SYS_NICE or a high
// enough RLIMIT_NICE (sched(7)); either failure means the thread stays slow.
bool restore_current_thread() {
  sched_param param{};
  param.sched_priority = 0;
  if (::sched_getscheduler(0) != SCHED_OTHER && ::sched_setscheduler(0, SCHED_OTHER, &param) != 0) {
    return false;
  }
  errno = 0;
  int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(current_tid()));
  if (errno == 0 && nice != 0 &&
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(current_tid()), 0) != 0) {
    return false;
  }
  return true;
}

std::int64_t cpu_clock_ns(clockid_t clock) {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The state is the first field after the command name's closing parenthesis (the name
// may itself contain one, so the last ')' is searched). Unreadable counts as runnable:
// when in doubt, a thread is not declared blocked.
bool thread_runnable(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(tid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buffer[512];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return true;
  buffer[n] = '\0';
  const char* paren = std::strrchr(buffer, ')');
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return true;
  return paren[2] == 'R';
}

// The status file names both counters on lines of their own (proc(5)); a thread that has
// exited has no file, and counts nothing here (its own counts were taken as it left).
ContextSwitches thread_context_switches(pid_t tid) {
  ContextSwitches result;
  std::ifstream status("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
      result.voluntary = std::stoull(line.substr(line.find(':') + 1));
    } else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
      result.involuntary = std::stoull(line.substr(line.find(':') + 1));
    }
  }
  return result;
}

ContextSwitches own_context_switches() {
  rusage usage{};
  if (::getrusage(RUSAGE_THREAD, &usage) != 0) return {};
  return {static_cast<std::uint64_t>(usage.ru_nvcsw), static_cast<std::uint64_t>(usage.ru_nivcsw)};
}

}  // namespace connsched::pool_of_threads
