// File: tools/loadgen/load_generator.cc
#include "load_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "load_worker.h"
#include "request_sequence.h"

namespace loadgen {

namespace {

using namespace std::chrono_literals;

// Spreads connections over the workers round-robin: idle ones first, then active ones,
// the later classes claiming their counts before the first class takes the rest.
std::vector<std::vector<ConnectionPlan>> plan_connections(const LoadSpec& spec,
                                                          std::uint32_t threads) {
  // Every connection is numbered by its slot: a sequence's {conn%K} reads that number.
  std::vector<std::vector<ConnectionPlan>> plans(threads);
  std::uint32_t slot = 0;
  const auto add = [&](bool idle, std::uint32_t class_index) {
    plans[slot % threads].push_back({.idle = idle, .class_index = class_index, .number = slot});
    ++slot;
  };
  for (std::uint32_t i = 0; i < spec.idle_connections; ++i) add(true, 0);
  std::uint32_t assigned = 0;
  for (std::size_t c = 1; c < spec.classes.size(); ++c) {
    for (std::uint32_t i = 0; i < spec.classes[c].connections; ++i, ++assigned)
      add(false, static_cast<std::uint32_t>(c));
  }
  for (; assigned < spec.connections; ++assigned) add(false, 0);
  return plans;
}

// Polls `done` every millisecond until it holds or `limit` passes.
template <typename Pred>
void wait_until(Pred done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
}

void merge_into(LoadResult& total, const LoadResult& part) {
  for (std::size_t c = 0; c < total.classes.size(); ++c) {
    total.classes[c].requests += part.classes[c].requests;
    total.classes[c].errors += part.classes[c].errors;
    total.classes[c].lock_timeouts += part.classes[c].lock_timeouts;
    total.classes[c].holder_requests.merge(part.classes[c].holder_requests);
    auto& steps = total.classes[c].steps;
    if (steps.size() < part.classes[c].steps.size()) steps.resize(part.classes[c].steps.size());
    for (std::size_t i = 0; i < part.classes[c].steps.size(); ++i) {
      const auto& step = part.classes[c].steps[i];
      steps[i].name = step.name;
      steps[i].replies += step.replies;
      steps[i].errors += step.errors;
      steps[i].lock_timeouts += step.lock_timeouts;
      steps[i].latency.merge(step.latency);
    }
    total.classes[c].latency.merge(part.classes[c].latency);
    total.classes[c].service.merge(part.classes[c].service);
  }
  if (total.timeline.size() < part.timeline.size()) total.timeline.resize(part.timeline.size());
  for (std::size_t i = 0; i < part.timeline.size(); ++i) {
    total.timeline[i].completed += part.timeline[i].completed;
    total.timeline[i].errors += part.timeline[i].errors;
    total.timeline[i].latency.merge(part.timeline[i].latency);
  }
  total.queued += part.queued;
  total.unsent += part.unsent;
  total.requests += part.requests;
  total.error_replies += part.error_replies;
  total.refused += part.refused;
  total.connect_failures += part.connect_failures;
  total.dropped += part.dropped;
  total.unanswered += part.unanswered;
  total.invalid_replies += part.invalid_replies;
  total.mismatched_replies += part.mismatched_replies;
  total.lock_timeouts += part.lock_timeouts;
  total.runs_cut += part.runs_cut;
  total.connections_opened += part.connections_opened;
  total.reconnects += part.reconnects;
  total.unanswered_at_close += part.unanswered_at_close;
  total.idle_open_at_end += part.idle_open_at_end;
  if (total.first_error.empty()) total.first_error = part.first_error;
}

}  // namespace

connsched::LogHistogram LoadResult::all_latency() const {
  connsched::LogHistogram all;
  for (const auto& cls : classes) all.merge(cls.latency);
  return all;
}

connsched::LogHistogram LoadResult::all_service() const {
  connsched::LogHistogram all;
  for (const auto& cls : classes) all.merge(cls.service);
  return all;
}

std::string check_spec(const LoadSpec& spec) {
  if (spec.port == 0) return "no port to load";
  if (spec.classes.empty()) return "no request to send";
  if (spec.threads == 0) return "at least one thread is needed";
  if (spec.pipeline == 0) return "the pipeline depth must be at least 1";
  if (spec.connections == 0) return "at least one active connection is needed";
  std::uint64_t claimed = 0;
  for (std::size_t c = 1; c < spec.classes.size(); ++c) claimed += spec.classes[c].connections;
  if (claimed >= spec.connections) {
    return fmt::format("the mixed classes claim {} of {} connections; the first class needs one",
                       claimed, spec.connections);
  }
  for (const auto& cls : spec.classes) {
    std::string error;
    const auto sequence = parse_sequence(cls.request, error);
    if (!sequence) return error;
    if (!sequence->is_sequence()) continue;
    // Each step waits for the previous one's reply: nothing to pipeline, and a run
    // needs its connection from first step to last.
    if (spec.pipeline != 1)
      return fmt::format("'{}': a sequence is sent one step at a time (pipeline 1)", cls.request);
    if (spec.churn)
      return fmt::format("'{}': a sequence needs its connection for every step (no churn)",
                         cls.request);
  }
  if (spec.reconnect && spec.churn)
    return "--reconnect reopens a connection the server closed; --churn closes every one itself";
  if (spec.rate < 0) return "the rate must not be negative";
  if (spec.open_loop) {
    if (spec.rate <= 0) return "an open loop needs a rate (requests per second)";
    if (spec.churn) return "an open loop does not churn connections";
    if (spec.requests > 0) return "an open loop runs for a duration, not a request count";
  }
  if (spec.requests == 0 && spec.duration.count() <= 0)
    return "neither a request count nor a duration";
  return {};
}

LoadResult run_load(const LoadSpec& spec, const PhaseHook& on_phase) {
  // The coordinator only moves the phase along; the workers do all the I/O.
  if (auto why = check_spec(spec); !why.empty()) throw std::invalid_argument(why);
  const std::uint32_t total = spec.connections + spec.idle_connections;
  const std::uint32_t threads = std::clamp<std::uint32_t>(spec.threads, 1, total);
  LoadControl control;
  control.budget.store(static_cast<std::int64_t>(spec.requests));
  // The open loop's rate is shared by the first class's connections, each its own
  // schedule: the connections check_spec left to the first class after the others claim.
  std::uint32_t first_class = spec.connections;
  for (std::size_t c = 1; c < spec.classes.size(); ++c) first_class -= spec.classes[c].connections;
  const double per_connection = spec.open_loop ? spec.rate / first_class : 0;
  std::vector<std::unique_ptr<LoadWorker>> workers;
  std::uint64_t seed = spec.seed;
  for (auto& plan : plan_connections(spec, threads)) {
    workers.push_back(std::make_unique<LoadWorker>(spec, control, std::move(plan),
                                                   spec.rate / static_cast<double>(threads),
                                                   per_connection, seed++));
  }
  std::vector<std::exception_ptr> failures(workers.size());
  const auto enter = [&](Phase phase) {
    control.phase.store(phase, std::memory_order_release);
    if (on_phase) on_phase(phase);
  };
  LoadResult result;
  {
    std::vector<std::jthread> running;
    for (std::size_t i = 0; i < workers.size(); ++i) {
      running.emplace_back([&, i] {
        try {
          workers[i]->run();
        } catch (...) {
          failures[i] = std::current_exception();
          control.drained.fetch_add(1);
        }
      });
    }
    wait_until([&] { return control.settled.load() >= total; }, spec.connect_timeout);
    enter(Phase::kWarmup);
    std::this_thread::sleep_for(spec.warmup);
    const auto start = std::chrono::steady_clock::now();
    control.measure_start_ns.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count(),
        std::memory_order_release);
    enter(Phase::kMeasure);
    if (spec.requests > 0) {
      const auto limit = spec.duration.count() > 0 ? spec.duration : std::chrono::milliseconds(24h);
      wait_until([&] { return control.measured_replies.load() >= spec.requests; }, limit);
    } else {
      std::this_thread::sleep_for(spec.duration);
    }
    const auto stop = std::chrono::steady_clock::now();
    enter(Phase::kStop);
    result.seconds = std::chrono::duration<double>(stop - start).count();
    wait_until([&] { return control.drained.load() >= workers.size(); }, spec.drain_timeout);
    enter(Phase::kDone);
  }
  for (auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  result.classes.resize(spec.classes.size());
  for (std::size_t c = 0; c < spec.classes.size(); ++c)
    result.classes[c].name = spec.classes[c].name;
  for (const auto& worker : workers) merge_into(result, worker->result());
  result.offered_rate = spec.open_loop ? spec.rate : 0;
  result.timeline_interval = spec.timeline_interval;
  // The series covers the whole window, quiet intervals at its end included.
  if (spec.timeline_interval.count() > 0) {
    const auto intervals = static_cast<std::size_t>(
        std::round(result.seconds * 1000.0 / static_cast<double>(spec.timeline_interval.count())));
    if (result.timeline.size() < intervals && intervals < 864000) result.timeline.resize(intervals);
  }
  return result;
}

}  // namespace loadgen
