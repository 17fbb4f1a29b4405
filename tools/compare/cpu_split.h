// File: tools/compare/cpu_split.h
//
// Keeping the load generator off the server's CPUs. On a small machine a closed-loop
// client that shares the server's cores measures the scheduler of the kernel as much as
// the server's: a backend with 2,000 runnable threads wins CPU from the client's 2 and
// looks faster. Splitting the CPUs (the server gets the first half, the load generator
// the rest) gives every server under test the same cores, whatever its thread count.
#ifndef CONNSCHED_COMPARE_CPU_SPLIT_H_
#define CONNSCHED_COMPARE_CPU_SPLIT_H_

#include <optional>
#include <string>
#include <vector>

namespace compare_tool {

struct CpuSplit {
  std::vector<int> server;
  std::vector<int> client;
};

/// The CPUs this process may run on (its affinity mask), in increasing order.
std::vector<int> usable_cpus();

/// The first half of `cpus` (at least one) for the server, the rest for the client;
/// nullopt when there are fewer than two, as there is then nothing to split. Pure.
std::optional<CpuSplit> split_cpus(const std::vector<int>& cpus);

/// Restricts the calling thread, and every thread or process it creates from now on,
/// to `cpus`. Call before any other thread exists. False if the kernel refuses.
bool pin_calling_thread(const std::vector<int>& cpus);

/// "0", "0-3", "0,2,5": a CPU list as taskset prints it.
std::string cpu_list(const std::vector<int>& cpus);

}  // namespace compare_tool

#endif  // CONNSCHED_COMPARE_CPU_SPLIT_H_
