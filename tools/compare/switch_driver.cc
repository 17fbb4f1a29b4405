// File: tools/compare/switch_driver.cc
#include "switch_driver.h"

#include <fmt/format.h>

#include <cmath>

#include "admin_probe.h"
#include "proc_sampler.h"

namespace compare_tool {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The admin port's JSON has no nesting that matters here: `"done": true` is found as
// text, numbers through json_counter.
bool json_true(const std::string& json, std::string_view name) {
  const std::string key = fmt::format("\"{}\": true", name);
  return json.find(key) != std::string::npos;
}

}  // namespace

ServerSnapshot snapshot_server(pid_t pid) {
  // The whole tree, as the peaks are: a connsched server is one process.
  ServerSnapshot out;
  if (auto sample = read_tree_sample(pid)) {
    out.rss_kb = sample->rss_kb;
    out.threads = sample->threads;
    out.fds = sample->fds;
    out.taken = true;
  }
  return out;
}

std::vector<double> switch_times(std::chrono::milliseconds duration,
                                 std::chrono::milliseconds every) {
  // Half a period first, so the window starts with steady load; half a period after the
  // last, so it ends with the new backend settled.
  std::vector<double> out;
  const double step = static_cast<double>(every.count()) / 1e3;
  const double end = static_cast<double>(duration.count()) / 1e3;
  for (double at = step / 2; at + step / 2 <= end + 1e-9; at += step) out.push_back(at);
  return out;
}

WindowP99 switch_window_p99(const std::vector<connsched::LogHistogram>& intervals,
                            std::chrono::milliseconds interval,
                            const std::vector<SwitchEvent>& switches,
                            std::chrono::milliseconds aftermath) {
  // An interval is inside a switch when it overlaps [asked, asked + took]; a switch not
  // followed to its end counts its interval only. `around` stretches that by aftermath.
  const double step = static_cast<double>(interval.count()) / 1e3;
  const double after = static_cast<double>(aftermath.count()) / 1e3;
  connsched::LogHistogram steady, inside, around;
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    const double from = static_cast<double>(i) * step, to = from + step;
    bool overlaps = false, near = false;
    for (const auto& s : switches) {
      const double end = s.at_s + std::max(s.took_ms, 0.0) / 1e3;
      if (s.at_s < to && end >= from) overlaps = true;
      if (s.at_s < to && end + after >= from) near = true;
    }
    (overlaps ? inside : steady).merge(intervals[i]);
    if (near) around.merge(intervals[i]);
  }
  return {.steady_ns = static_cast<double>(steady.percentile(99)),
          .inside_ns = static_cast<double>(inside.percentile(99)),
          .around_ns = static_cast<double>(around.percentile(99))};
}

SwitchDriver::SwitchDriver(pid_t pid, std::uint16_t admin_port, std::vector<std::string> targets,
                           std::chrono::milliseconds duration, std::chrono::milliseconds every)
    : pid_(pid),
      admin_port_(admin_port),
      targets_(std::move(targets)),
      times_(switch_times(duration, every)) {}

void SwitchDriver::start() {
  // Called from the load's phase callback: the connections are open and loaded. The
  // clock first, so that switch times line up with the load's timeline.
  started_ = Clock::now();
  loaded_ = snapshot_server(pid_);
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void SwitchDriver::stop() {
  // Without waiting: the load's phase callback must not stall the load.
  thread_.request_stop();
}

std::vector<SwitchEvent> SwitchDriver::finish() {
  // A switch under way is followed to its end; only the wait for the next is cut.
  if (thread_.joinable()) {
    thread_.request_stop();
    wake_.notify_all();
    thread_.join();
  }
  std::lock_guard lock(mutex_);
  return events_;
}

void SwitchDriver::run(std::stop_token stop) {
  // Round robin from the backend after the one the server started with.
  for (std::size_t i = 0; i < times_.size(); ++i) {
    const auto due = started_ + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(times_[i]));
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, stop, due, [] { return false; });
      if (stop.stop_requested()) return;
    }
    SwitchEvent event = switch_to(targets_[(i + 1) % targets_.size()]);
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
}

SwitchEvent SwitchDriver::switch_to(const std::string& target) {
  // connections_moved before and after gives the count moved; last_switch_ms the time
  // the server measured from the switch's start to its last connection moved.
  SwitchEvent event;
  event.to = target;
  std::string error;
  const auto moved_before = read_admin_counter(admin_port_, "connections_moved", 5s, error);
  event.before = snapshot_server(pid_);
  event.at_s = std::chrono::duration<double>(Clock::now() - started_).count();
  auto reply = admin_request(admin_port_, "POST", "/set?thread_handling=" + target, 10s, error);
  if (!reply) {
    event.error = error;
    return event;
  }
  event.status = reply->status;
  if (reply->status != 200 && reply->status != 202) {
    event.error = fmt::format("refused ({}): {}", reply->status, reply->body.substr(0, 300));
    return event;
  }
  event.connections = json_counter(reply->body, "connections").value_or(0);
  event.done = json_true(reply->body, "done");
  if (event.done)
    event.took_ms = static_cast<double>(json_counter(reply->body, "elapsed_ms").value_or(0));
  // Still moving (202): /stats says when it ends.
  const auto deadline = Clock::now() + 30s;
  while (!event.done && Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    const auto running = read_admin_counter(admin_port_, "backend_switch_in_progress", 5s, error);
    if (running && *running == 0) {
      event.done = true;
      event.took_ms = static_cast<double>(
          read_admin_counter(admin_port_, "last_switch_ms", 5s, error).value_or(0));
    }
  }
  if (!event.done) event.error = "not complete 30 s after it was asked for";
  const auto moved_after = read_admin_counter(admin_port_, "connections_moved", 5s, error);
  if (moved_before && moved_after) event.moved = *moved_after - *moved_before;
  std::this_thread::sleep_for(100ms);  // the old backend's threads have gone by now
  event.after = snapshot_server(pid_);
  return event;
}

}  // namespace compare_tool
