// File: plugins/process_pool/master.cc
#include "master.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace connsched::process_pool {

namespace {

constexpr std::uint64_t kControlTag = 0;  // epoll tags: a worker's channel is tagged by its pid
constexpr std::uint64_t kWakeTag = 1;
constexpr int kTickMs = 100;                    // respawn timers, killed pending connections
constexpr std::int64_t kStartWaitMs = 20000;    // the first generation must be up by then
constexpr std::int64_t kRefusalPauseMs = 1000;  // a refusing worker is skipped this long
constexpr std::int64_t kKillGraceMs = 3000;     // after SIGKILL at the drain deadline
constexpr std::int64_t kAckOverdueMs = 5000;    // a worker this late to ack is logged

// "exited with status 3" / "was killed by signal 9 (KILL)", for the log.
std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return "was killed by signal " + std::to_string(WTERMSIG(status)) +
           (name ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "ended with wait status " + std::to_string(status);
}

}  // namespace

// The manager's epoll set starts with the spawner's channel and the wake eventfd.
Master::Master(const connsched_services* svc, ProcessPoolSettings settings, UniqueFd control,
               pid_t spawner)
    : svc_(svc),
      settings_(settings),
      control_(std::move(control)),
      spawner_(spawner),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      slots_(settings.workers) {
  ::fcntl(control_.get(), F_SETFL, ::fcntl(control_.get(), F_GETFL) | O_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kControlTag;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, control_.get(), &ev);
  ev.data.u64 = kWakeTag;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
}

// stop() is the normal path; this only guarantees no thread or child outlives us.
Master::~Master() {
  stop();
}

// Every line says it comes from the pool, so an operator can grep for it.
void Master::log(int level, const std::string& text) const {
  std::string line = "process-pool: " + text;
  svc_->log(svc_, level, line.c_str());
}

// Makes the manager's epoll_wait return now instead of at its next tick.
void Master::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

// init waits here for the first generation, so a pool that cannot start fails init
// with the reason instead of accepting connections it cannot serve.
std::string Master::start() {
  if (!epoll_ || !wake_) return std::string("epoll/eventfd: ") + ::strerror(errno);
  std::unique_lock lock(mutex_);
  thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
  for (std::uint32_t i = 0; i < slots_.size(); ++i) request_spawn(i);
  bool up = changed_.wait_for(lock, std::chrono::milliseconds(kStartWaitMs), [&] {
    if (!start_error_.empty()) return true;
    return std::all_of(slots_.begin(), slots_.end(),
                       [](const Slot& s) { return s.current != nullptr; });
  });
  if (!start_error_.empty()) return start_error_;
  if (!up)
    return "the worker processes did not start within " + std::to_string(kStartWaitMs) + " ms";
  log(CONNSCHED_LOG_INFO, std::to_string(slots_.size()) + " worker process(es) started");
  return {};
}

// Queued for the manager thread, which talks to the workers; the acceptor only waits
// for our lock, never for a worker. Core's own count at accept sees only the sockets
// still in this process (a worker's ack ends our copy), and each worker's core counts
// only its own, so max_connections is the whole pool's count, kept here: past it the
// client gets the protocol's refusal at once, as under the built-in backends, instead
// of waiting in the queue for a worker that has room.
void Master::add(connsched_conn* conn) {
  bool full = false;
  {
    std::lock_guard lock(mutex_);
    full = settings_.max_connections > 0 && live_connections() >= settings_.max_connections;
    if (full) {
      ++refused_full_;
    } else {
      pending_.push_back(conn);
    }
  }
  if (!full) {
    wake();
  } else if (CONNSCHED_SERVICES_HAS(svc_, refuse_connection)) {
    svc_->refuse_connection(conn);
  } else {
    svc_->end_connection(conn);  // a 1.1 core: closed without the protocol's reply
  }
}

// Every connection of the pool: waiting here, sent and not yet acknowledged, and held
// by a worker (current or draining after a reload). Under mutex_.
std::int64_t Master::live_connections() const {
  auto held = [](const Worker& w) {
    return w.connections + static_cast<std::int64_t>(w.inflight.size());
  };
  std::int64_t live = static_cast<std::int64_t>(pending_.size());
  for (const Slot& slot : slots_) {
    if (slot.current) live += held(*slot.current);
  }
  for (const auto& w : retiring_) live += held(*w);
  return live;
}

// nginx's HUP: a fresh worker per slot, one slot at a time; once its replacement is
// up, the old one hands its connections back between requests (SCM_RIGHTS), and the
// master passes them on to the new generation, so a reload costs a client nothing.
void Master::reload() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (reload_in_progress_ || !reload_queue_.empty()) {
      log(CONNSCHED_LOG_INFO, "reload already in progress");
      return;
    }
    for (std::uint32_t i = 0; i < slots_.size(); ++i) reload_queue_.push_back(i);
    ++reloads_;
    log(CONNSCHED_LOG_INFO,
        "reload: replacing " + std::to_string(slots_.size()) + " worker process(es) one by one");
  }
  wake();
}

// Core calls end only when its registry is empty, so nothing is pending here: tell
// every worker to drain, wait for their exits (SIGKILL at the deadline), then close
// the spawner's channel, which makes it exit, and reap it.
void Master::stop() {
  if (!thread_.joinable()) return;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    reload_queue_.clear();
    Message quit{Kind::kQuit, 0, 0, 0, 0};
    for (Slot& slot : slots_) {
      if (slot.current && slot.current->channel) send_message(slot.current->channel.get(), quit);
    }
    for (auto& w : retiring_) {
      if (w->channel) send_message(w->channel.get(), quit);
    }
    auto deadline = std::chrono::milliseconds(settings_.shutdown_timeout_ms + kKillGraceMs);
    if (!changed_.wait_for(lock, deadline, [&] { return all_gone(); })) {
      log(CONNSCHED_LOG_WARNING, "workers still running at the drain deadline; killing them");
      for (Slot& slot : slots_) {
        if (slot.current) ::kill(slot.current->pid, SIGKILL);
      }
      for (auto& w : retiring_) ::kill(w->pid, SIGKILL);
      changed_.wait_for(lock, std::chrono::milliseconds(kKillGraceMs), [&] { return all_gone(); });
    }
  }
  thread_.request_stop();
  wake();
  thread_.join();
  control_.reset();  // EOF for the spawner: it reaps what is left and exits
  int status = 0;
  for (int i = 0; i < 100; ++i) {  // up to 5 s, then it is killed
    if (::waitpid(spawner_, &status, WNOHANG) != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  log(CONNSCHED_LOG_WARNING, "the spawner did not exit; killing it");
  ::kill(spawner_, SIGKILL);
  ::waitpid(spawner_, &status, 0);
}

// stop()'s condition: no worker process left (or none that we could still hear of).
bool Master::all_gone() const {
  if (spawner_lost_) return true;
  bool current =
      std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.current != nullptr; });
  return !current && retiring_.empty();
}

// The manager thread: every decision happens here, under the lock, between polls.
void Master::loop(std::stop_token stop) {
  epoll_event events[64];
  while (!stop.stop_requested()) {
    int n = ::epoll_wait(epoll_.get(), events, 64, kTickMs);
    std::lock_guard lock(mutex_);
    for (int i = 0; i < n; ++i) {
      std::uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        std::uint64_t drained = 0;
        [[maybe_unused]] ssize_t r = ::read(wake_.get(), &drained, sizeof drained);
      } else if (tag == kControlTag) {
        read_control();
      } else if (Worker* w = find(static_cast<pid_t>(tag))) {
        read_worker(*w);
      }
    }
    respawn_due();
    advance_reload();
    route_pending();
    log_overdue_acks();
    changed_.notify_all();
  }
}

// Worker channels are tagged by pid in epoll: the current worker of a slot or a
// draining one from before a reload.
Master::Worker* Master::find(pid_t pid) {
  for (Slot& slot : slots_) {
    if (slot.current && slot.current->pid == pid) return slot.current.get();
  }
  for (auto& w : retiring_) {
    if (w->pid == pid) return w.get();
  }
  return nullptr;
}

// The spawner's reports: a worker started, could not start, or exited.
void Master::read_control() {
  while (!spawner_lost_) {
    Received in;
    int rc = receive_message(control_.get(), in);
    if (rc == -EAGAIN || rc == -EWOULDBLOCK) return;
    if (rc == -EBADMSG) continue;
    if (rc <= 0) {
      on_spawner_lost();
      return;
    }
    switch (in.message.kind) {
      case Kind::kSpawned:
        on_spawned(in.message, std::move(in.fd));
        break;
      case Kind::kSpawnFailed:
        on_spawn_failed(in.message);
        break;
      case Kind::kExited:
        on_exited(in.message);
        break;
      default:
        break;
    }
  }
}

// Without the spawner no worker can be started again (the master never forks after
// init); the workers die with it (PR_SET_PDEATHSIG), so the pool stops serving.
void Master::on_spawner_lost() {
  spawner_lost_ = true;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, control_.get(), nullptr);
  if (!stopping_) {
    log(CONNSCHED_LOG_ERROR,
        "the spawner process died: no worker can be started any more; restart the server");
  }
  for (Slot& slot : slots_) {
    if (slot.current) close_channel(*slot.current);
    slot.current.reset();
    slot.failed = true;
  }
  for (auto& w : retiring_) close_channel(*w);
  retiring_.clear();
  if (start_error_.empty()) start_error_ = "the spawner process died";
}

// A new worker is up: it becomes its slot's current one; during a reload the worker it
// replaces is told to drain now, not before, so the slot never has nobody.
void Master::on_spawned(const Message& m, UniqueFd channel) {
  if (m.slot >= slots_.size()) return;
  Slot& slot = slots_[m.slot];
  slot.spawn_requested = false;
  auto w = std::make_unique<Worker>();
  w->slot = m.slot;
  w->pid = static_cast<pid_t>(m.pid);
  w->generation = ++generation_;
  w->spawned_ms = svc_->now_ms();
  if (!channel) {  // cannot reach it: let it die and be respawned
    log(CONNSCHED_LOG_ERROR,
        "worker " + std::to_string(w->pid) + "'s channel was lost; killing it");
    ::kill(w->pid, SIGKILL);
    w->state = State::kGone;
  } else {
    w->channel = std::move(channel);
    ::fcntl(w->channel.get(), F_SETFL, ::fcntl(w->channel.get(), F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(w->pid);
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, w->channel.get(), &ev);
  }
  if (stopping_ && w->channel) send_message(w->channel.get(), Message{Kind::kQuit, 0, 0, 0, 0});
  if (slot.replacing && slot.current) {
    Worker& old = *slot.current;
    old.state = State::kDraining;
    if (old.channel) send_message(old.channel.get(), Message{Kind::kHandOver, 0, 0, 0, 0});
    log(CONNSCHED_LOG_INFO, "reload: slot " + std::to_string(m.slot) + ": worker " +
                                std::to_string(w->pid) + " replaces " + std::to_string(old.pid) +
                                ", which hands its connections over between requests");
    retiring_.push_back(std::move(slot.current));
  }
  if (slot.replacing) reload_in_progress_ = false;
  slot.replacing = false;
  slot.current = std::move(w);
}

// fork failed in the spawner (EAGAIN, ENOMEM): treated like a worker that crashed at
// once, so the back-off applies; during a reload the old worker simply stays.
void Master::on_spawn_failed(const Message& m) {
  if (m.slot >= slots_.size()) return;
  Slot& slot = slots_[m.slot];
  slot.spawn_requested = false;
  std::string why = ::strerror(static_cast<int>(m.value));
  if (slot.replacing) {  // the reload of this slot failed: the old worker stays
    slot.replacing = false;
    reload_in_progress_ = false;
    log(CONNSCHED_LOG_ERROR, "reload: cannot start a worker for slot " + std::to_string(m.slot) +
                                 " (" + why + "); keeping the old one");
    return;
  }
  if (generation_ == 0 && start_error_.empty()) start_error_ = "cannot fork a worker: " + why;
  log(CONNSCHED_LOG_ERROR, "cannot start a worker for slot " + std::to_string(m.slot) + ": " + why);
  schedule_respawn(slot, m.slot, nullptr, 0);
}

// A worker exited. A draining one is simply gone; the current one of a slot is
// respawned (the crash-loop breaker may say no), and its connections are lost with it
// while every other worker's connections are untouched. What it sent before it exited
// is read first: the spawner's report can come before the worker's last messages are
// looked at, and a hand-back among them carries a client's socket.
void Master::on_exited(const Message& m) {
  pid_t pid = static_cast<pid_t>(m.pid);
  int status = static_cast<int>(m.value);
  if (Worker* w = find(pid)) read_worker(*w);
  for (auto it = retiring_.begin(); it != retiring_.end(); ++it) {
    if ((*it)->pid != pid) continue;
    close_channel(**it);
    log(CONNSCHED_LOG_INFO,
        "worker " + std::to_string(pid) + " (old generation) " + describe(status));
    retiring_.erase(it);
    return;
  }
  if (m.slot >= slots_.size()) return;
  Slot& slot = slots_[m.slot];
  if (!slot.current || slot.current->pid != pid) return;
  std::unique_ptr<Worker> dead = std::move(slot.current);
  close_channel(*dead);
  if (stopping_) {
    if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
      log(CONNSCHED_LOG_WARNING,
          "worker " + std::to_string(pid) + " " + describe(status) + " while draining");
    }
    return;
  }
  schedule_respawn(slot, m.slot, dead.get(), status);
}

// The crash-loop breaker: a worker that lived long is respawned at once; one that
// died within fast_crash_ms of starting is respawned after a doubling delay; after
// max_fast_crashes of those in a row, or an exit with status 2 (nginx's "fatal, do not
// respawn"), the slot is given up with a message that says so.
void Master::schedule_respawn(Slot& slot, std::uint32_t index, const Worker* dead, int status) {
  std::string who = "slot " + std::to_string(index);
  std::string what = dead ? "worker " + std::to_string(dead->pid) + " " + describe(status)
                          : std::string("the worker could not start");
  if (dead && WIFEXITED(status) && WEXITSTATUS(status) == 2) {
    slot.failed = true;
    log(CONNSCHED_LOG_ERROR, who + ": " + what + " (fatal): not respawning it");
    return;
  }
  std::int64_t now = svc_->now_ms();
  if (!dead || now - dead->spawned_ms < settings_.fast_crash_ms) {
    ++slot.fast_crashes;
  } else {
    slot.fast_crashes = 0;
  }
  if (slot.fast_crashes >= settings_.max_fast_crashes) {
    slot.failed = true;
    log(CONNSCHED_LOG_ERROR, who + ": " + what + "; it failed " +
                                 std::to_string(slot.fast_crashes) + " times in a row within " +
                                 std::to_string(settings_.fast_crash_ms) +
                                 " ms of starting: giving up on this slot (the other workers "
                                 "keep serving; fix the cause and restart the server)");
    return;
  }
  std::int64_t delay =
      slot.fast_crashes == 0 ? 0 : settings_.backoff_base_ms << (slot.fast_crashes - 1);
  slot.respawn_at_ms = now + delay;
  ++slot.restarts;
  ++respawns_;
  log(CONNSCHED_LOG_WARNING,
      who + ": " + what + "; respawning it" +
          (delay ? " in " + std::to_string(delay) + " ms (crash-loop back-off)" : std::string()));
}

// One request per slot at a time; a spawner that cannot be written to is gone.
void Master::request_spawn(std::uint32_t index) {
  Slot& slot = slots_[index];
  if (spawner_lost_ || slot.spawn_requested) return;
  int rc = send_message(control_.get(), Message{Kind::kSpawn, index, 0, 0, 0});
  if (rc == 0) {
    slot.spawn_requested = true;
  } else if (rc != EAGAIN) {
    on_spawner_lost();
  }
}

// Respawns whose back-off delay has passed.
void Master::respawn_due() {
  if (stopping_) return;
  std::int64_t now = svc_->now_ms();
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    if (!slot.current && !slot.failed && !slot.spawn_requested && slot.respawn_at_ms <= now) {
      request_spawn(i);
    }
  }
}

// One slot at a time: the next replacement starts when the previous one is up.
void Master::advance_reload() {
  while (!stopping_ && !reload_in_progress_ && !reload_queue_.empty()) {
    std::uint32_t index = reload_queue_.front();
    reload_queue_.pop_front();
    Slot& slot = slots_[index];
    if (!slot.current || slot.failed || slot.spawn_requested) continue;
    slot.replacing = true;
    reload_in_progress_ = true;
    request_spawn(index);
    if (!slot.spawn_requested) {
      slot.replacing = false;
      reload_in_progress_ = false;
    }
  }
}

// The channel is gone (worker exited, or its end closed): what was sent but not acked
// is still ours, so it goes back to the front of the queue for another worker.
void Master::close_channel(Worker& w) {
  if (w.channel) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.channel.get(), nullptr);
    w.channel.reset();
  }
  for (auto& [token, sent] : w.inflight) {
    pending_.push_front(sent.conn);
    ++rerouted_;
  }
  w.inflight.clear();
  w.connections = 0;
  w.state = State::kGone;
}

// Acks and closes from one worker, until its channel is empty.
void Master::read_worker(Worker& w) {
  while (w.channel) {
    Received in;
    int rc = receive_message(w.channel.get(), in);
    if (rc == -EAGAIN || rc == -EWOULDBLOCK) return;
    if (rc == -EBADMSG) continue;
    if (rc <= 0) {  // it exited or crashed: the spawner's report decides about a respawn
      close_channel(w);
      return;
    }
    if (in.message.kind == Kind::kAck) {
      auto it = w.inflight.find(in.message.token);
      if (it == w.inflight.end()) continue;
      connsched_conn* conn = it->second.conn;
      w.inflight.erase(it);
      if (in.message.value == 1) {
        ++w.connections;
        ++passed_;
        svc_->end_connection(conn);  // the worker has its own copy: close ours
      } else {
        ++w.refused;
        ++rerouted_;
        w.refusing_until_ms = svc_->now_ms() + kRefusalPauseMs;
        pending_.push_front(conn);
      }
    } else if (in.message.kind == Kind::kHandback) {
      // An idle client of a worker being replaced: ours again, for the next worker.
      if (w.connections > 0) --w.connections;
      connsched_conn* conn = in.fd ? adopt(in) : nullptr;
      if (conn != nullptr) {
        ++handed_over_;
        pending_.push_front(conn);
      } else {
        ++closed_unserved_;  // shutting down, or the fd was dropped in transit
      }
    } else if (in.message.kind == Kind::kClosed) {
      if (w.connections > 0) --w.connections;
      if (in.message.value == 1) ++timed_out_;  // the worker's wait_timeout closed it
      ++w.served;
      w.refusing_until_ms = 0;
    }
  }
}

// A socket a worker handed back keeps the client's address its worker knew (a PROXY
// header's), which the next worker then gets from us in turn.
connsched_conn* Master::adopt(Received& in) {
  if (in.message.client_address[0] != '\0' && CONNSCHED_SERVICES_HAS(svc_, adopt_fd_as))
    return svc_->adopt_fd_as(svc_, in.fd.release(), in.message.client_address.data());
  return svc_->adopt_fd(svc_, in.fd.release());
}

// Least loaded (adopted + in flight) running worker that is not refusing, round robin
// among equals so that an idle pool still spreads connections.
Master::Worker* Master::pick(const std::vector<Worker*>& skip) {
  Worker* best = nullptr;
  std::size_t best_index = 0;
  std::int64_t now = svc_->now_ms();
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    std::size_t i = (round_robin_ + k) % slots_.size();
    Worker* w = slots_[i].current.get();
    if (w == nullptr || w->state != State::kRunning || !w->channel || w->refusing_until_ms > now)
      continue;
    if (std::find(skip.begin(), skip.end(), w) != skip.end()) continue;
    std::int64_t load = w->connections + static_cast<std::int64_t>(w->inflight.size());
    if (best == nullptr ||
        load < best->connections + static_cast<std::int64_t>(best->inflight.size())) {
      best = w;
      best_index = i;
    }
  }
  if (best != nullptr) round_robin_ = (best_index + 1) % slots_.size();
  return best;
}

// Hands queued sockets to workers. The master never blocks on a worker: a full channel
// (EAGAIN) or too many fds in flight (ETOOMANYREFS) means "try another worker"; if none
// can take it now the socket waits for the next tick.
void Master::route_pending() {
  std::vector<Worker*> skip;
  while (!pending_.empty()) {
    connsched_conn* conn = pending_.front();
    int killed = svc_->conn_killed(conn);
    if (killed == CONNSCHED_KILL_CONNECTION || killed == CONNSCHED_KILL_TIMEOUT) {
      pending_.pop_front();
      svc_->end_connection(conn);
      continue;
    }
    bool none_can_come = spawner_lost_ || std::all_of(slots_.begin(), slots_.end(),
                                                      [](const Slot& s) { return s.failed; });
    if (none_can_come) {
      pending_.pop_front();
      ++closed_unserved_;
      svc_->end_connection(conn);
      continue;
    }
    Worker* w = pick(skip);
    if (w == nullptr) return;
    std::int64_t token = static_cast<std::int64_t>(svc_->conn_id(conn));
    Message message{Kind::kConnection, w->slot, 0, token, 0};
    if (CONNSCHED_SERVICES_HAS(svc_, conn_client_address))
      message.set_client_address(svc_->conn_client_address(conn));
    int rc = send_message(w->channel.get(), message, svc_->conn_fd(conn));
    if (rc == 0) {
      pending_.pop_front();
      w->inflight.emplace(token, Worker::Sent{conn, svc_->now_ms()});
    } else if (rc == EAGAIN || rc == EWOULDBLOCK || rc == ETOOMANYREFS || rc == ENOBUFS) {
      skip.push_back(w);
    } else {
      close_channel(*w);  // EPIPE: it died; its inflight sockets are re-queued
    }
  }
}

// A worker reads its channel between requests, so a socket unacknowledged for seconds
// means its loop is stuck in one request or hung (a lock it inherited held): the client
// waits, and at shutdown core cannot drain that socket. Said once per worker, with its
// pid, so that the operator (or a failing test's output) can tell which one.
void Master::log_overdue_acks() {
  const std::int64_t now = svc_->now_ms();
  auto check = [&](Worker& w) {
    if (w.ack_overdue_logged) return;
    for (const auto& [token, sent] : w.inflight) {
      if (now - sent.sent_ms < kAckOverdueMs) continue;
      w.ack_overdue_logged = true;
      log(CONNSCHED_LOG_WARNING,
          "worker " + std::to_string(w.pid) + " has not acknowledged a socket passed " +
              std::to_string(now - sent.sent_ms) + " ms ago (" + std::to_string(w.inflight.size()) +
              " waiting): its loop is busy in one request or hung");
      return;
    }
  };
  for (Slot& slot : slots_) {
    if (slot.current) check(*slot.current);
  }
  for (auto& w : retiring_) check(*w);
}

// PROCESS_POOL_WORKERS is php-fpm's scoreboard: one row per worker process.
void Master::stats(const connsched_stats_sink* sink) {
  std::lock_guard lock(mutex_);
  auto counter = [&](const char* name, std::int64_t value, const char* help) {
    sink->counter(sink->ctx, name, value, help);
  };
  std::int64_t alive = 0;
  for (const Slot& s : slots_) alive += s.current && s.current->state == State::kRunning ? 1 : 0;
  counter("process_pool_workers", static_cast<std::int64_t>(slots_.size()),
          "Worker processes configured");
  counter("workers_alive", alive, "Worker processes running");
  counter("workers_draining", static_cast<std::int64_t>(retiring_.size()),
          "Old worker processes draining after a reload");
  counter("connections_passed_total", passed_, "Sockets a worker adopted");
  counter("connections_rerouted_total", rerouted_,
          "Sockets re-routed after a refusal or a worker's death");
  counter("connections_pending", static_cast<std::int64_t>(pending_.size()),
          "Sockets waiting for a worker");
  counter("connections_closed_unserved_total", closed_unserved_,
          "Sockets closed because no worker could ever take them");
  counter("pool_connections", live_connections(),
          "Connections of the whole pool (waiting, in flight, held by workers), which "
          "max_connections bounds");
  counter("connections_refused_full_total", refused_full_,
          "Connections refused because the pool held max_connections");
  counter("respawns_total", respawns_, "Worker processes respawned after dying");
  counter("reloads_total", reloads_, "Reloads (SIGHUP)");
  counter("connections_handed_over_total", handed_over_,
          "Idle connections a replaced worker handed to the next generation on reload");
  counter("connections_timed_out_total", timed_out_,
          "Connections a worker closed after wait_timeout idle (the workers enforce it)");
  counter("spawner_pid", spawner_, "The process that forks the workers");

  const char* columns[] = {"SLOT",        "PID",    "STATE",   "GENERATION",
                           "CONNECTIONS", "SERVED", "REFUSED", "RESTARTS"};
  sink->table(sink->ctx, "PROCESS_POOL_WORKERS", 8, columns);
  auto row = [&](std::uint32_t index, const Slot& slot, const Worker* w, const char* state) {
    auto num = [](std::int64_t v) { return connsched_stat_value{CONNSCHED_STAT_INT, v, nullptr}; };
    connsched_stat_value null{CONNSCHED_STAT_NULL, 0, nullptr};
    connsched_stat_value cells[] = {
        num(index),
        w ? num(w->pid) : null,
        {CONNSCHED_STAT_STRING, 0, state},
        w ? num(w->generation) : null,
        w ? num(w->connections + static_cast<std::int64_t>(w->inflight.size())) : null,
        w ? num(w->served) : null,
        w ? num(w->refused) : null,
        num(slot.restarts)};
    sink->row(sink->ctx, cells);
  };
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    const Slot& slot = slots_[i];
    const Worker* w = slot.current.get();
    const char* state = w                      ? (w->state == State::kRunning ? "running" : "gone")
                        : slot.failed          ? "failed"
                        : slot.spawn_requested ? "starting"
                                               : "respawn-wait";
    row(i, slot, w, state);
  }
  for (const auto& w : retiring_) row(w->slot, slots_[w->slot], w.get(), "draining");
}

}  // namespace connsched::process_pool
