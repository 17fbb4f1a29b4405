// File: schedulers/pool_of_threads/pool_stats.cc
//
// Status counters and MariaDB's four INFORMATION_SCHEMA tables. Unlike MariaDB, each
// group's row is read under that group's mutex, so a row is self-consistent; and the
// idle-thread counter counts sleeping threads only (MariaDB's mixes in the listener
// and threads blocked in a wait: get_idle_thread_count in sql/threadpool_generic.cc),
// with those reported on their own.
//
// In /metrics (core's admin_metrics.cc): a counter whose name ends in _total is a
// Prometheus counter, any other a gauge; times go out in seconds; the queue listing
// (THREAD_POOL_QUEUES) is per entry and stays in /stats.
#include <memory>

#include "connsched/clock.h"
#include "pool.h"
#include "thread_priority.h"

namespace connsched::pool_of_threads {

namespace {
constexpr const char* kWaitNames[CONNSCHED_WAIT_TYPE_COUNT] = {
    "UNKNOWN",    "SLEEP",     "DISKIO", "ROW_LOCK",     "GLOBAL_LOCK", "META_DATA_LOCK",
    "TABLE_LOCK", "USER_LOCK", "BINLOG", "GROUP_COMMIT", "SYNC",        "NET"};

connsched_stat_value cell(std::int64_t v) {
  return {CONNSCHED_STAT_INT, v, nullptr};
}
connsched_stat_value cell(std::uint64_t v) {
  return cell(static_cast<std::int64_t>(v));
}
connsched_stat_value cell(const char* s) {
  return {CONNSCHED_STAT_STRING, 0, s};
}

constexpr const char* kPriorityNames[kQueueCount] = {"high", "normal", "lock_holder"};

struct GroupSnapshot {
  std::size_t id;
  int connections, threads, active, standby, waiting, stuck;
  int holders, reserve, demoted, unreported;
  std::size_t queue_length;
  bool has_listener, stalled;
  GroupCounters counters;
  std::uint64_t poller_syscalls;
  struct Queued {
    int priority;
    std::uint64_t connection_id;
    std::int64_t queued_us;
  };
  std::vector<Queued> queued;
  std::unique_ptr<GroupLatency> latency;
  std::vector<pid_t> tids;  // its live threads, whose context switches are read unlocked
  ContextSwitches switches;
};

// One THREAD_POOL_LATENCY row: what an operator reads to see a stall before users do.
void latency_row(const connsched_stats_sink& sink, std::size_t group, const char* measure,
                 const char* priority, const LogHistogram& h) {
  connsched_stat_value row[] = {cell(static_cast<std::uint64_t>(group)),
                                cell(measure),
                                cell(priority),
                                cell(h.count()),
                                cell(h.sum()),
                                cell(h.percentile(50)),
                                cell(h.percentile(99)),
                                cell(h.percentile(99.9)),
                                cell(h.max())};
  sink.row(sink.ctx, row);
}

// Bucket bounds for the Prometheus form, in microseconds: 100 us to 10 s, 1-2.5-5 steps.
constexpr std::uint64_t kBoundsUs[] = {100,     250,     500,     1000,    2500,   5000,
                                       10000,   25000,   50000,   100000,  250000, 500000,
                                       1000000, 2500000, 5000000, 10000000};
constexpr const char* kBoundsSeconds[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                          "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
                                          "1",      "2.5",     "5",      "10"};

// The same histogram as THREAD_POOL_LATENCY_SECONDS_HISTOGRAM rows, which core's
// /metrics turns into a Prometheus histogram (_bucket{le=...}, _sum, _count in seconds).
// A bound's count includes its whole log-linear bucket (within 1/128 of the bound).
void histogram_rows(const connsched_stats_sink& sink, std::size_t group, const char* measure,
                    const char* priority, const LogHistogram& h) {
  for (std::size_t b = 0; b <= std::size(kBoundsUs); ++b) {
    const bool last = b == std::size(kBoundsUs);
    connsched_stat_value row[] = {cell(static_cast<std::uint64_t>(group)),
                                  cell(measure),
                                  cell(priority),
                                  cell(last ? "+Inf" : kBoundsSeconds[b]),
                                  cell(last ? h.count() : h.count_at_or_below(kBoundsUs[b])),
                                  cell(h.sum())};
    sink.row(sink.ctx, row);
  }
}
}  // namespace

void Pool::stats(const connsched_stats_sink& sink) {
  std::vector<GroupSnapshot> groups;
  const std::size_t active_groups = group_count_.load();
  const std::int64_t now = now_us();
  for (std::size_t i = 0; i < created_groups(); ++i) {
    ThreadGroup& g = group(i);
    std::lock_guard lock(g.mutex);
    // A retired group is shown while it still has connections or threads.
    if (i >= active_groups && g.connection_count == 0 && g.thread_count == 0) continue;
    int demoted = 0, unreported = 0;
    std::vector<pid_t> tids;
    for (const Worker* w : g.workers) {
      demoted += w->demoted ? 1 : 0;
      unreported += w->unreported_wait ? 1 : 0;
      tids.push_back(w->tid);
    }
    GroupSnapshot s{i,
                    g.connection_count,
                    g.thread_count,
                    g.active_count,
                    static_cast<int>(g.standby.size()),
                    g.waiting_count,
                    g.stuck_count,
                    g.holder_count,
                    g.reserve_count,
                    demoted,
                    unreported,
                    g.queue_length(),
                    g.listener != nullptr,
                    g.stalled,
                    g.counters,
                    g.poller().syscalls(),
                    {},
                    std::make_unique<GroupLatency>(g.latency),
                    std::move(tids),
                    {g.counters.exited_voluntary_switches, g.counters.exited_involuntary_switches}};
    for (int priority : {kLockHolderPriority, kHighPriority, kNormalPriority}) {
      g.queues[priority].for_each([&](const PoolConnection& c) {
        s.queued.push_back({priority, c.id, now - c.enqueue_us});
      });
    }
    groups.push_back(std::move(s));
  }
  // A file read per thread, so outside every group mutex. A thread that exits in between
  // is missed once (its counts join the group's when it leaves).
  for (auto& s : groups) {
    for (pid_t tid : s.tids) {
      const ContextSwitches t = thread_context_switches(tid);
      s.switches.voluntary += t.voluntary;
      s.switches.involuntary += t.involuntary;
    }
  }

  std::int64_t standby = 0, listeners = 0, waiting = 0, active = 0, stuck = 0, connections = 0;
  std::int64_t holders = 0, reserve = 0, demoted = 0, unreported = 0;
  for (const auto& s : groups) {
    holders += s.holders;
    reserve += s.reserve;
    demoted += s.demoted;
    unreported += s.unreported;
    standby += s.standby;
    listeners += s.has_listener ? 1 : 0;
    waiting += s.waiting;
    active += s.active;
    stuck += s.stuck;
    connections += s.connections;
  }
  auto counter = [&](const char* name, std::int64_t value, const char* help) {
    sink.counter(sink.ctx, name, value, help);
  };
  counter("threadpool_threads", total_threads_.load(), "Threads in the pool");
  counter("threadpool_idle_threads", standby, "Threads asleep on a standby list");
  counter("threadpool_listener_threads", listeners, "Threads listening for network events");
  counter("threadpool_waiting_threads", waiting, "Threads blocked inside a reported wait");
  counter("threadpool_active_threads", active, "Threads running or looking for work");
  counter("threadpool_stuck_threads", stuck,
          "Threads on one request for over thread_pool_stall_limit (not counted against "
          "thread_pool_oversubscribe)");
  counter("threadpool_lock_holders", holders,
          "Connections holding a lock between requests (served first, from the reserve)");
  counter("threadpool_reserve_threads", reserve,
          "Threads above thread_pool_max_threads, serving lock holders only");
  counter("threadpool_demoted_threads", demoted,
          "Threads at thread_pool_demote_nice on a request longer than thread_pool_demote_limit");
  counter("threadpool_unreported_waiting_threads", unreported,
          "Threads counted as waiting because their CPU clock stood still");
  counter("threadpool_groups", static_cast<std::int64_t>(active_groups), "thread_pool_size now");
  counter("threadpool_poller_io_uring", poller_kind_ == PollerKind::kIoUring ? 1 : 0,
          "1 when the groups poll with io_uring (thread_pool_poller), 0 with epoll");
  counter("threadpool_connections", connections, "Connections the pool serves");
  counter("threadpool_max_threads_reached_total",
          static_cast<std::int64_t>(max_threads_reached_.load()),
          "Thread creations refused by thread_pool_max_threads");
  counter("threadpool_connections_moved_total",
          static_cast<std::int64_t>(connections_moved_.load()),
          "Connections moved to another group after thread_pool_size changed");
  counter("threadpool_output_waits_total", static_cast<std::int64_t>(output_waits_.load()),
          "Replies that did not fit the socket and waited for it without a thread");

  static constexpr const char* kGroupColumns[] = {
      "GROUP_ID",        "CONNECTIONS",  "THREADS",      "ACTIVE_THREADS",
      "STANDBY_THREADS", "QUEUE_LENGTH", "HAS_LISTENER", "IS_STALLED"};
  sink.table(sink.ctx, "THREAD_POOL_GROUPS", std::size(kGroupColumns), kGroupColumns);
  for (const auto& s : groups) {
    connsched_stat_value row[] = {cell(static_cast<std::uint64_t>(s.id)),
                                  cell(static_cast<std::int64_t>(s.connections)),
                                  cell(static_cast<std::int64_t>(s.threads)),
                                  cell(static_cast<std::int64_t>(s.active)),
                                  cell(static_cast<std::int64_t>(s.standby)),
                                  cell(static_cast<std::uint64_t>(s.queue_length)),
                                  cell(static_cast<std::int64_t>(s.has_listener)),
                                  cell(static_cast<std::int64_t>(s.stalled))};
    sink.row(sink.ctx, row);
  }

  static constexpr const char* kQueueColumns[] = {"GROUP_ID", "POSITION", "PRIORITY",
                                                  "CONNECTION_ID", "QUEUEING_TIME_MICROSECONDS"};
  sink.table(sink.ctx, "THREAD_POOL_QUEUES", std::size(kQueueColumns), kQueueColumns);
  for (const auto& s : groups) {
    std::int64_t position = 0;
    for (const auto& q : s.queued) {
      connsched_stat_value row[] = {cell(static_cast<std::uint64_t>(s.id)), cell(position++),
                                    cell(static_cast<std::int64_t>(q.priority)),
                                    cell(q.connection_id), cell(q.queued_us)};
      sink.row(sink.ctx, row);
    }
  }

  static constexpr const char* kStatsColumns[] = {"GROUP_ID",
                                                  "THREAD_CREATIONS_TOTAL",
                                                  "THREAD_CREATIONS_DUE_TO_STALL_TOTAL",
                                                  "WAKES_TOTAL",
                                                  "WAKES_DUE_TO_STALL_TOTAL",
                                                  "THROTTLES_TOTAL",
                                                  "STALLS_TOTAL",
                                                  "POLLS_BY_LISTENER_TOTAL",
                                                  "POLLS_BY_WORKER_TOTAL",
                                                  "DEQUEUES_BY_LISTENER_TOTAL",
                                                  "DEQUEUES_BY_WORKER_TOTAL",
                                                  "QUEUE_AGE_WAKEUPS_TOTAL",
                                                  "RESERVE_THREAD_CREATIONS_TOTAL",
                                                  "RESERVE_DEQUEUES_TOTAL",
                                                  "DEMOTIONS_TOTAL",
                                                  "DEMOTION_RETIREMENTS_TOTAL",
                                                  "UNREPORTED_WAITS_TOTAL",
                                                  "TIMER_POLLS_TOTAL",
                                                  "POLLER_SYSCALLS_TOTAL",
                                                  "REFIRES_TOTAL",
                                                  "LISTENER_REQUESTS_TOTAL",
                                                  "LISTENER_HANDOFFS_TOTAL",
                                                  "VOLUNTARY_CONTEXT_SWITCHES_TOTAL",
                                                  "INVOLUNTARY_CONTEXT_SWITCHES_TOTAL"};
  sink.table(sink.ctx, "THREAD_POOL_STATS", std::size(kStatsColumns), kStatsColumns);
  for (const auto& s : groups) {
    const GroupCounters& c = s.counters;
    connsched_stat_value row[] = {cell(static_cast<std::uint64_t>(s.id)),
                                  cell(c.thread_creations),
                                  cell(c.thread_creations_due_to_stall),
                                  cell(c.wakes),
                                  cell(c.wakes_due_to_stall),
                                  cell(c.throttles),
                                  cell(c.stalls),
                                  cell(c.polls_by_listener),
                                  cell(c.polls_by_worker),
                                  cell(c.dequeues_by_listener),
                                  cell(c.dequeues_by_worker),
                                  cell(c.queue_age_wakeups),
                                  cell(c.reserve_creations),
                                  cell(c.reserve_dequeues),
                                  cell(c.demotions),
                                  cell(c.demotion_retirements),
                                  cell(c.unreported_waits),
                                  cell(c.timer_polls),
                                  cell(s.poller_syscalls),
                                  cell(c.refires),
                                  cell(c.listener_requests),
                                  cell(c.listener_handoffs),
                                  cell(s.switches.voluntary),
                                  cell(s.switches.involuntary)};
    sink.row(sink.ctx, row);
  }

  // Queue wait (enqueue to dequeue) per priority and service time (the request's run,
  // do_command), in microseconds, per group.
  static constexpr const char* kLatencyColumns[] = {"GROUP_ID",
                                                    "MEASURE",
                                                    "PRIORITY",
                                                    "COUNT_TOTAL",
                                                    "SUM_MICROSECONDS_TOTAL",
                                                    "P50_MICROSECONDS",
                                                    "P99_MICROSECONDS",
                                                    "P999_MICROSECONDS",
                                                    "MAX_MICROSECONDS"};
  sink.table(sink.ctx, "THREAD_POOL_LATENCY", std::size(kLatencyColumns), kLatencyColumns);
  for (const auto& s : groups) {
    for (int priority : {kNormalPriority, kHighPriority, kLockHolderPriority}) {
      latency_row(sink, s.id, "queue_wait", kPriorityNames[priority],
                  s.latency->queue_wait[priority]);
    }
    latency_row(sink, s.id, "service", "", s.latency->service);
  }
  static constexpr const char* kHistogramColumns[] = {"GROUP_ID", "MEASURE", "PRIORITY",
                                                      "LE",       "COUNT",   "SUM_MICROSECONDS"};
  sink.table(sink.ctx, "THREAD_POOL_LATENCY_SECONDS_HISTOGRAM", std::size(kHistogramColumns),
             kHistogramColumns);
  for (const auto& s : groups) {
    for (int priority : {kNormalPriority, kHighPriority, kLockHolderPriority}) {
      histogram_rows(sink, s.id, "queue_wait", kPriorityNames[priority],
                     s.latency->queue_wait[priority]);
    }
    histogram_rows(sink, s.id, "service", "", s.latency->service);
  }

  static constexpr const char* kWaitColumns[] = {"REASON", "COUNT_TOTAL"};
  sink.table(sink.ctx, "THREAD_POOL_WAITS", std::size(kWaitColumns), kWaitColumns);
  for (int type = 0; type < CONNSCHED_WAIT_TYPE_COUNT; ++type) {
    connsched_stat_value row[] = {cell(kWaitNames[type]),
                                  cell(waits_[static_cast<std::size_t>(type)].load())};
    sink.row(sink.ctx, row);
  }
}

}  // namespace connsched::pool_of_threads
