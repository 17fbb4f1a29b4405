// File: tools/soak/backend_soak.cc
#include "backend_soak.h"

#include <fmt/format.h>
#include <signal.h>

#include <stdexcept>

#include "admin_probe.h"
#include "load_generator.h"
#include "proc_sampler.h"
#include "scenarios.h"

namespace soak {

namespace {

using namespace std::chrono_literals;

}  // namespace

loadgen::LoadSpec keepalive_spec(const SoakLoad& load, std::uint16_t port) {
  // Shares by connection count: the pacer serves waiting connections in turn.
  loadgen::LoadSpec spec;
  spec.port = port;
  spec.connections = load.connections;
  spec.threads = 1;
  spec.rate = load.rate;
  spec.warmup = 0ms;
  spec.duration = load.duration;
  const std::uint32_t n = load.connections;
  spec.classes = {{.name = "get", .request = "GET soak:key", .connections = 0},
                  {.name = "set", .request = "SET soak:key value", .connections = n / 5},
                  {.name = "incr", .request = "INCR soak:counter", .connections = n / 8},
                  {.name = "burn", .request = "BURN 300", .connections = std::max(1u, n / 16)},
                  {.name = "sleep", .request = "SLEEP 5", .connections = std::max(1u, n / 16)}};
  return spec;
}

loadgen::LoadSpec churn_spec(const SoakLoad& load, std::uint16_t port) {
  // INCR, not PING: every churned connection also writes to the store.
  loadgen::LoadSpec spec;
  spec.port = port;
  spec.connections = load.churn_connections;
  spec.threads = 1;
  spec.churn = true;
  spec.rate = load.churn_rate;
  spec.warmup = 0ms;
  spec.duration = load.duration;
  spec.classes = {{.name = "churn", .request = "INCR soak:churn", .connections = 0}};
  return spec;
}

BackendSoak::BackendSoak(const compare_tool::BackendUnderTest& backend,
                         const compare_tool::LaunchSettings& launch, const std::string& log_path,
                         const SoakLoad& load)
    : load_(load) {
  // The kv server, as the comparison tool starts it, plus an admin port for /stats.
  series_.label = backend.label;
  compare_tool::Scenario kv;
  kv.name = "soak";
  kv.server = compare_tool::ServerKind::kKv;
  server_ = compare_tool::launch_server(backend, kv, launch, log_path);
  if (!server_.process) {
    throw std::runtime_error(fmt::format("{} did not start: {}", backend.label, server_.error));
  }
  series_.baseline_fds = compare_tool::count_open_fds(server_.process->pid()).value_or(0);
}

BackendSoak::~BackendSoak() {
  // The load threads reference members: they are joined before anything is torn down.
  if (!finished_ && !load_threads_.empty()) finish_load();
}

void BackendSoak::start_load() {
  // Each load run on a thread of its own: run_load blocks for the whole duration.
  auto run = [](loadgen::LoadSpec spec, std::optional<loadgen::LoadResult>& out,
                std::string& failure) {
    return [spec, &out, &failure] {
      try {
        out = loadgen::run_load(spec);
      } catch (const std::exception& e) {
        failure = e.what();
      }
    };
  };
  auto ka = keepalive_spec(load_, server_.port);
  ka.progress = &keepalive_progress_;
  auto churn = churn_spec(load_, server_.port);
  churn.progress = &churn_progress_;
  load_threads_.emplace_back(run(ka, keepalive_result_, keepalive_failure_));
  load_threads_.emplace_back(run(churn, churn_result_, churn_failure_));
  auto chaos = load_.chaos;
  chaos.port = server_.port;
  chaos_ = std::make_unique<ChaosClient>(chaos);
}

void BackendSoak::take_sample(double t) {
  // Descriptors first: the /stats request below opens one more for a moment.
  SoakSample s;
  s.t = t;
  const pid_t pid = server_.process->pid();
  const auto proc = compare_tool::read_proc_sample(pid);
  const auto fds = compare_tool::count_open_fds(pid);
  if (!proc || !fds || server_.process->exited()) {
    if (series_.first_error.empty()) series_.first_error = "the server exited during the soak";
    return;
  }
  s.fds = *fds;
  s.threads = proc->threads;
  s.rss_kb = proc->rss_kb;
  s.hwm_kb = proc->hwm_kb;
  s.cpu_seconds = proc->cpu_seconds;
  const bool loaded = !load_threads_.empty() && !finished_;
  s.client_conns = loaded ? load_.connections + (chaos_ ? chaos_->open_connections() : 0) : 0;
  if (server_.admin_port != 0) {  // launch_server waited for it: --admin-port=0 was given
    std::string ignored;
    if (auto open = compare_tool::read_admin_counter(server_.admin_port, "connections_current", 2s,
                                                     ignored)) {
      s.server_conns = static_cast<std::int64_t>(*open);
    }
  }
  s.requests = keepalive_progress_.requests.load() + churn_progress_.requests.load() +
               (chaos_ ? chaos_->transactions() : 0);
  s.errors = keepalive_progress_.errors.load() + churn_progress_.errors.load() +
             (chaos_ ? chaos_->errors() : 0);
  s.resets = chaos_ ? chaos_->resets() : 0;
  s.after_load = finished_;
  series_.samples.push_back(s);
}

void BackendSoak::finish_load() {
  // Totals from the finished runs: unanswered requests are only known at their end.
  for (auto& thread : load_threads_) {
    if (thread.joinable()) thread.join();
  }
  if (chaos_) chaos_->stop();
  finished_ = true;
  requests_ = chaos_ ? chaos_->transactions() : 0;
  final_errors_ = chaos_ ? chaos_->errors() : 0;
  resets_ = chaos_ ? chaos_->resets() : 0;
  for (const auto* result : {&keepalive_result_, &churn_result_}) {
    if (!*result) continue;
    requests_ += (*result)->requests;
    final_errors_ += (*result)->errors();
    if (series_.first_error.empty() && !(*result)->first_error.empty() && (*result)->errors() > 0) {
      series_.first_error = (*result)->first_error;
    }
  }
  if (churn_result_) churn_connects_ = churn_result_->connections_opened;
  for (const auto* failure : {&keepalive_failure_, &churn_failure_}) {
    if (failure->empty()) continue;
    ++final_errors_;
    if (series_.first_error.empty()) series_.first_error = "load: " + *failure;
  }
  if (series_.first_error.empty() && chaos_ && chaos_->errors() > 0)
    series_.first_error = chaos_->first_error();
}

std::uint64_t BackendSoak::errors() const {
  // Live while the load runs; the final totals (with unanswered requests) after it.
  if (finished_) return final_errors_;
  return keepalive_progress_.errors.load() + churn_progress_.errors.load() +
         (chaos_ ? chaos_->errors() : 0);
}

void BackendSoak::wait_fds_settle(std::chrono::milliseconds limit) {
  // Every client has closed: the server must be back to its listening sockets, admin
  // port, epoll and pipe descriptors, i.e. what it had before the first connection.
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = server_.process->pid();
  while (true) {
    const auto fds = compare_tool::count_open_fds(pid);
    const auto waited = std::chrono::steady_clock::now() - start;
    series_.final_fds = fds.value_or(0);
    series_.settle_seconds = std::chrono::duration<double>(waited).count();
    if (fds && *fds <= series_.baseline_fds) {
      series_.fds_returned = true;
      return;
    }
    if (!fds || waited >= limit) return;
    std::this_thread::sleep_for(100ms);
  }
}

void BackendSoak::shutdown() {
  // A graceful stop is part of the verdict: a soaked server must still exit 0.
  server_.process->signal(SIGTERM);
  series_.exit_status = server_.process->wait_exit(60s).value_or(-1);
}

}  // namespace soak
