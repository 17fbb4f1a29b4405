// File: tools/compare/cpu_split.cc
#include "cpu_split.h"

#include <fmt/format.h>
#include <sched.h>

namespace compare_tool {

std::vector<int> usable_cpus() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
  }
  return out;
}

std::optional<CpuSplit> split_cpus(const std::vector<int>& cpus) {
  // The server gets the first half rounded down (never less than one): with an odd
  // count the client keeps the extra CPU, since a closed loop that cannot keep up
  // understates every server alike.
  if (cpus.size() < 2) return std::nullopt;
  const std::size_t server_count = cpus.size() / 2;
  CpuSplit split;
  split.server.assign(cpus.begin(), cpus.begin() + static_cast<std::ptrdiff_t>(server_count));
  split.client.assign(cpus.begin() + static_cast<std::ptrdiff_t>(server_count), cpus.end());
  return split;
}

bool pin_calling_thread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

std::string cpu_list(const std::vector<int>& cpus) {
  // Runs of consecutive CPUs collapse to "a-b", as in taskset and /proc/self/status.
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace compare_tool
