// File: plugins/process_pool/master.h
//
// The master side of the process pool, inside the server process: one manager thread
// that hands each accepted socket to a worker over its channel (least-loaded, round
// robin on ties), closes its own copy only after the worker's ack and re-routes on a
// refusal or a death (Node's cluster SCHED_RR), respawns dead workers with a
// crash-loop breaker, replaces workers one by one on reload (the old one's connections
// come back between requests and go to the new generation), and drains them at stop.
// Workers are forked by the spawner (spawner.h), never by this process after init.
#ifndef CONNSCHED_PLUGINS_PROCESS_POOL_MASTER_H_
#define CONNSCHED_PLUGINS_PROCESS_POOL_MASTER_H_

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "channel.h"
#include "connsched/scheduler_abi.h"

namespace connsched::process_pool {

struct ProcessPoolSettings {
  std::size_t workers = 1;
  std::int64_t shutdown_timeout_ms = 10000;
  std::int64_t fast_crash_ms = 2000;   // a worker that dies sooner crashed "at once"
  int max_fast_crashes = 5;            // in a row: then the slot is given up
  std::int64_t backoff_base_ms = 100;  // doubled after each fast crash
  std::int64_t max_connections = 0;    // the whole server's (core's option); 0: no limit
};

class Master {
 public:
  Master(const connsched_services* svc, ProcessPoolSettings settings, UniqueFd control,
         pid_t spawner);
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // Starts the manager thread and the first generation; empty on success, else why not.
  std::string start();
  // Acceptor thread: queue the connection for a worker, or refuse it (the protocol's
  // too-many-connections reply) when the whole pool holds max_connections already;
  // never blocks on a worker.
  void add(connsched_conn* conn);
  // SIGHUP: replace the workers one by one.
  void reload();
  // Drains every worker, then stops the spawner and reaps it.
  void stop();
  void stats(const connsched_stats_sink* sink);

 private:
  enum class State { kRunning, kDraining, kGone };
  struct Worker {
    std::uint32_t slot = 0;
    pid_t pid = 0;
    UniqueFd channel;
    std::int64_t generation = 0;
    State state = State::kRunning;
    std::int64_t spawned_ms = 0;
    std::int64_t connections = 0, served = 0, refused = 0;
    std::int64_t refusing_until_ms = 0;  // after a refusal, skipped until a close or this
    struct Sent {
      connsched_conn* conn;
      std::int64_t sent_ms;  // an ack overdue past kAckOverdueMs is logged once
    };
    std::unordered_map<std::int64_t, Sent> inflight;  // sent, not yet acked
    bool ack_overdue_logged = false;
  };
  struct Slot {
    std::unique_ptr<Worker> current;
    bool spawn_requested = false;
    bool replacing = false;  // reload: a fresh worker is being spawned for this slot
    bool failed = false;
    std::int64_t respawn_at_ms = 0;
    int fast_crashes = 0;
    std::int64_t restarts = 0;
  };

  void loop(std::stop_token stop);
  void read_control();
  void read_worker(Worker& w);
  connsched_conn* adopt(Received& in);
  void on_spawned(const Message& m, UniqueFd channel);
  void on_spawn_failed(const Message& m);
  void on_exited(const Message& m);
  void on_spawner_lost();
  void close_channel(Worker& w);
  void schedule_respawn(Slot& slot, std::uint32_t index, const Worker* dead, int status);
  void request_spawn(std::uint32_t index);
  void respawn_due();
  void advance_reload();
  void route_pending();
  void log_overdue_acks();
  Worker* pick(const std::vector<Worker*>& skip);
  Worker* find(pid_t pid);
  bool all_gone() const;
  std::int64_t live_connections() const;
  void wake();
  void log(int level, const std::string& text) const;

  const connsched_services* svc_;
  ProcessPoolSettings settings_;
  UniqueFd control_;
  pid_t spawner_;
  UniqueFd epoll_;
  UniqueFd wake_;

  mutable std::mutex mutex_;  // everything below; the manager thread holds it between polls
  std::condition_variable changed_;
  std::deque<connsched_conn*> pending_;
  std::vector<Slot> slots_;
  std::vector<std::unique_ptr<Worker>> retiring_;  // old workers draining after a reload
  std::deque<std::uint32_t> reload_queue_;
  bool reload_in_progress_ = false;
  bool spawner_lost_ = false;
  bool stopping_ = false;
  std::size_t round_robin_ = 0;
  std::int64_t generation_ = 0;
  std::int64_t passed_ = 0, rerouted_ = 0, respawns_ = 0, reloads_ = 0, closed_unserved_ = 0;
  std::int64_t refused_full_ = 0, handed_over_ = 0, timed_out_ = 0;
  std::string start_error_;

  std::jthread thread_;  // last: stopped before the state it uses goes away
};

}  // namespace connsched::process_pool

#endif  // CONNSCHED_PLUGINS_PROCESS_POOL_MASTER_H_
