// File: tools/compare/proc_sampler.cc
#include "proc_sampler.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "connsched/unique_fd.h"

namespace compare_tool {

namespace {

void keep_max(std::atomic<std::uint64_t>& peak, std::uint64_t value) {
  auto seen = peak.load();
  while (value > seen && !peak.compare_exchange_weak(seen, value)) {
  }
}

// A small /proc file read with plain system calls: a process that exits while its file
// is read makes read() fail with ESRCH, which a std::ifstream's buffer turns into an
// exception (libstdc++'s underflow); here it is just an empty result.
std::string read_proc_file(const std::string& path) {
  const connsched::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string out;
  if (!fd.valid()) return out;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// The fields of /proc/PID/stat after the parenthesised command name (which may hold
// spaces and parentheses), field 3 (the state) first; empty when the process is gone.
std::vector<std::string> stat_fields(pid_t pid) {
  const std::string stat = read_proc_file(fmt::format("/proc/{}/stat", pid));
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 > stat.size()) return {};
  std::istringstream in(stat.substr(paren + 2));
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

double ticks_to_seconds(std::uint64_t ticks) {
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The number after `name` at the start of a line of a status text (the kernel pads it
// with a tab); nullopt when no line starts with `name` or no digits follow it.
std::optional<std::uint64_t> status_number(std::string_view text, std::string_view name) {
  for (std::size_t at = 0; at < text.size();) {
    const auto end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(name)) continue;
    line.remove_prefix(std::min(line.find_first_not_of(" \t", name.size()), line.size()));
    std::uint64_t value = 0;
    const auto [rest, error] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (error != std::errc() || rest == line.data()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

}  // namespace

std::vector<pid_t> process_tree(pid_t pid) {
  // One pass over /proc for every process's parent, then a walk down from `pid`.
  std::vector<std::pair<pid_t, pid_t>> parent_of;  // (child, parent)
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc", error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto child = static_cast<pid_t>(std::stol(name));
    const auto fields = stat_fields(child);
    if (fields.size() > 1) parent_of.emplace_back(child, static_cast<pid_t>(std::stol(fields[1])));
  }
  std::vector<pid_t> tree{pid};
  for (std::size_t i = 0; i < tree.size(); ++i) {
    for (const auto& [child, parent] : parent_of) {
      if (parent == tree[i] && child != pid) tree.push_back(child);
    }
  }
  return tree;
}

std::optional<TreeSample> read_tree_sample(pid_t pid) {
  // Each process read on its own; one that exits between the scan and the read is
  // skipped (its CPU reaches its parent's cutime once reaped).
  TreeSample out;
  bool root_seen = false;
  for (const pid_t member : process_tree(pid)) {
    const auto sample = read_proc_sample(member);
    const auto fields = stat_fields(member);
    if (!sample || fields.size() < 15) continue;
    if (member == pid) root_seen = true;
    out.rss_kb += sample->rss_kb;
    out.threads += sample->threads;
    out.fds += count_open_fds(member).value_or(0);
    ++out.processes;
    // Fields 14-17 (utime, stime, cutime, cstime) are at offsets 11-14 from field 3.
    out.cpu_seconds += ticks_to_seconds(std::stoull(fields[11]) + std::stoull(fields[12]) +
                                        std::stoull(fields[13]) + std::stoull(fields[14]));
  }
  if (!root_seen) return std::nullopt;
  return out;
}

std::optional<ContextSwitches> parse_context_switches(std::string_view status_text) {
  // Both counters or none: a half-read file must not pass for a thread that never ran.
  const auto voluntary = status_number(status_text, "voluntary_ctxt_switches:");
  const auto involuntary = status_number(status_text, "nonvoluntary_ctxt_switches:");
  if (!voluntary || !involuntary) return std::nullopt;
  return ContextSwitches{.voluntary = *voluntary, .involuntary = *involuntary};
}

std::optional<ContextSwitches> read_tree_context_switches(pid_t pid) {
  // Thread by thread: a process's own status lines count its main thread only. A thread
  // or process that exits between the listing and its read is skipped.
  ContextSwitches out;
  bool root_seen = false;
  for (const pid_t member : process_tree(pid)) {
    std::error_code error;
    for (std::filesystem::directory_iterator it(fmt::format("/proc/{}/task", member), error), end;
         !error && it != end; it.increment(error)) {
      const auto counts = parse_context_switches(read_proc_file(it->path().string() + "/status"));
      if (!counts) continue;
      if (member == pid) root_seen = true;
      out.voluntary += counts->voluntary;
      out.involuntary += counts->involuntary;
    }
  }
  if (!root_seen) return std::nullopt;
  return out;
}

ContextSwitches context_switches_between(const ContextSwitches& before,
                                         const ContextSwitches& after) {
  // Clamped at 0: the sums are over live threads, so one that exits can make them fall.
  const auto gained = [](std::uint64_t from, std::uint64_t to) {
    return to > from ? to - from : 0;
  };
  return {.voluntary = gained(before.voluntary, after.voluntary),
          .involuntary = gained(before.involuntary, after.involuntary)};
}

std::optional<ProcSample> read_proc_sample(pid_t pid) {
  // status has the memory and thread lines; stat fields 14 and 15 (after the
  // parenthesised command name, which may hold spaces) are utime and stime in ticks.
  ProcSample out;
  const std::string text = read_proc_file(fmt::format("/proc/{}/status", pid));
  if (text.empty()) return std::nullopt;
  std::istringstream status(text);
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
  const auto fields = stat_fields(pid);
  if (!found || fields.size() < 13) return std::nullopt;
  // Fields 14 and 15 are at offsets 11 and 12 from field 3.
  out.cpu_seconds = ticks_to_seconds(std::stoull(fields[11]) + std::stoull(fields[12]));
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
  // A malformed /proc line must not end the comparison: a missed sample is harmless.
  std::optional<TreeSample> now;
  try {
    now = read_tree_sample(pid);
  } catch (const std::exception&) {
    return;
  }
  if (now) {
    keep_max(peak_rss_kb_, now->rss_kb);
    keep_max(peak_threads_, now->threads);
    keep_max(peak_fds_, now->fds);
    keep_max(peak_processes_, now->processes);
  }
}

}  // namespace compare_tool
