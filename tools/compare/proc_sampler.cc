// File: tools/compare/proc_sampler.cc
#include "proc_sampler.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace compare_tool {

namespace {

void keep_max(std::atomic<std::uint64_t>& peak, std::uint64_t value) {
  auto seen = peak.load();
  while (value > seen && !peak.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace

std::optional<ProcSample> read_proc_sample(pid_t pid) {
  // status has the memory and thread lines; stat fields 14 and 15 (after the
  // parenthesised command name, which may hold spaces) are utime and stime in ticks.
  ProcSample out;
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  if (!status) return std::nullopt;
  std::string line;
  bool found = false;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) out.rss_kb = std::stoull(line.substr(6));
    if (line.starts_with("VmHWM:")) out.hwm_kb = std::stoull(line.substr(6));
    if (line.starts_with("Threads:")) {
      out.threads = std::stoull(line.substr(8));
      found = true;
    }
  }
  std::ifstream stat_file(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  if (!found || paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  out.cpu_seconds =
      static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return out;
}

std::optional<std::uint64_t> count_open_fds(pid_t pid) {
  // Each entry of /proc/PID/fd is one open descriptor: the sharpest leak detector.
  std::error_code error;
  std::filesystem::directory_iterator it(fmt::format("/proc/{}/fd", pid), error);
  if (error) return std::nullopt;
  std::uint64_t count = 0;
  for (const auto end = std::filesystem::directory_iterator(); it != end; it.increment(error)) {
    if (error) return std::nullopt;
    ++count;
  }
  return count;
}

PeakSampler::PeakSampler(pid_t pid, std::chrono::milliseconds period)
    : thread_([this, pid, period](std::stop_token stop) {
        while (!stop.stop_requested()) {
          sample(pid);
          std::this_thread::sleep_for(period);
        }
        sample(pid);
      }) {}

void PeakSampler::sample(pid_t pid) {
  if (auto now = read_proc_sample(pid)) {
    keep_max(peak_rss_kb_, now->rss_kb);
    keep_max(peak_threads_, now->threads);
  }
}

}  // namespace compare_tool
