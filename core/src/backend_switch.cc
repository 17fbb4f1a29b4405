// File: core/src/backend_switch.cc
//
// A live switch of thread_handling (POST /set?thread_handling=NAME_OR_PATH): MySQL,
// MariaDB and Percona read it once at start-up ("Dynamic: No"); here the new backend is
// loaded and initialised with the checks of start-up, takes every new connection at
// once, and takes each open one at its next request boundary, when the old backend
// hands it back (ABI 1.2: the descriptor's release_connection, the services'
// return_connection). The old backend is ended once it holds none.
//
// Who owns a connection during a switch: its old backend until that backend calls
// return_connection (it asked, through do_command or wait_for_input returning
// CONNSCHED_NEXT_RELEASE, at a request boundary), then core (owner nullptr, in the
// hand-off queue), then the new backend from add_connection on. A kill finds it under
// the registry lock in every state and closes it through whichever backend holds it
// then; one in the queue is simply handed over killed, and its new backend closes it.
#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "option_values.h"
#include "server_core.h"

namespace connsched {

namespace {
constexpr std::chrono::milliseconds kSwitchPoll{50};

// The steady clock in microseconds: a switch's breakdown is finer than monotonic_ms.
std::int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

// Resolves and validates a backend, as start-up does. At start-up every backend option
// given must be the backend's; later the server's options may be another backend's (the
// one started with), so only those the new one declares are passed. `backend_options`,
// when given (a SIGHUP's re-read defaults file), replaces the server's.
std::unique_ptr<BackendInstance> ServerCore::load_instance(
    const std::string& target, bool at_startup,
    const std::map<std::string, std::string>* backend_options) {
  std::string dir = options_.plugin_dir.empty() ? default_plugin_dir() : options_.plugin_dir;
  auto b = std::make_unique<BackendInstance>();
  b->core = this;
  b->scheduler = load_scheduler(target, dir);
  b->name = b->scheduler.table.name;
  std::map<std::string, std::string> given;
  for (const auto& [name, value] : backend_options ? *backend_options : options_.backend_options) {
    if (at_startup || find_option(b->scheduler.options, name) != nullptr) given[name] = value;
  }
  b->option_values = resolve_backend_options(b->name, b->scheduler.options, given);
  // Core's own settings are readable by backends too (a pool may want wait_timeout).
  auto& v = b->option_values;
  v["max_connections"] = std::to_string(options_.max_connections);
  v["wait_timeout"] = std::to_string(options_.wait_timeout);
  v["net_write_timeout"] = std::to_string(options_.net_write_timeout);
  v["max_request_size"] = std::to_string(options_.max_request_size);
  v["shutdown_timeout"] = std::to_string(options_.shutdown_timeout);
  v["request_timeout"] = std::to_string(options_.request_timeout);
  v["max_output_buffer"] = std::to_string(options_.max_output_buffer);
  v["output_buffer_soft_limit"] = std::to_string(options_.output_buffer_soft_limit);
  v["output_buffer_soft_seconds"] = std::to_string(options_.output_buffer_soft_seconds);
  v["max_connection_memory"] = std::to_string(options_.max_connection_memory);
  v["connect_timeout"] = std::to_string(options_.connect_timeout);
  fill_services(b->services, b.get());
  return b;
}

// The backend's init, with start-up's error line when it refuses.
void ServerCore::init_instance(BackendInstance& b) {
  if (!switch_wake_) switch_wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  char err[512] = {};
  void* state = nullptr;
  int rc = b.table().init(&b.services, &state, err, sizeof err - 1);
  if (rc != 0) {
    throw StartupError(fmt::format("{}: init failed: {}", b.scheduler.path,
                                   err[0] ? err : "(the backend gave no reason)"));
  }
  std::unique_lock lifetime(backend_lifetime_);
  b.state = state;
  b.started = true;
}

// Why `to` cannot take over from `from`, or empty. Each reason names what to do.
std::string ServerCore::switch_refusal(const BackendInstance& from, const BackendInstance& to,
                                       bool force) const {
  if (to.scheduler.path == from.scheduler.path) {
    return fmt::format("thread_handling is already '{}' ({})", from.name, from.scheduler.path);
  }
  const std::uint32_t differs = from.table().flags ^ to.table().flags;
  if (to.table().flags & CONNSCHED_SCHEDULER_SERVES_OUT_OF_PROCESS) {
    return fmt::format(
        "backend '{}' serves its connections in other processes: core cannot move open "
        "connections to it (start the server with it instead)",
        to.name);
  }
  if (differs & CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT) {
    return fmt::format(
        "backends '{}' and '{}' disagree on who enforces wait_timeout "
        "(CONNSCHED_SCHEDULER_OWN_IDLE_TIMEOUT): core cannot hand that over",
        from.name, to.name);
  }
  const std::size_t open = registry_.size();
  const std::uint32_t most = to.table().max_threads;
  if ((to.table().flags & CONNSCHED_SCHEDULER_THREAD_PER_CONNECTION) && most != 0 && open > most &&
      !force) {
    return fmt::format(
        "backend '{}' gives each connection one of its at most {} thread(s) (max_threads) and "
        "{} connection(s) are open: it cannot hold them; add force=1 to switch anyway",
        to.name, most, open);
  }
  return {};
}

BackendSwitch ServerCore::switch_backend(
    const std::string& target, bool force, std::chrono::milliseconds wait,
    const std::map<std::string, std::string>* backend_options) {
  BackendSwitch out;
  out.to = target;
  auto refuse = [&](int status, std::string why) {
    CoreCounters::bump(counters_.backend_switches_refused);
    logger_.log(LogLevel::kWarning, "thread_handling: switch to '{}' refused: {}", target, why);
    out.status = status;
    out.error = std::move(why);
    return out;
  };
  std::unique_lock lock(switch_mutex_);
  BackendInstance* from = current_.load();
  out.from = from->name;
  if (switching_.load()) {
    return refuse(409, fmt::format("a switch of thread_handling from '{}' to '{}' is in progress",
                                   switch_from_, switch_to_));
  }
  if (!backend_started_.load()) return refuse(409, "the server is not serving yet");
  {
    std::lock_guard stop(shutdown_mutex_);
    if (shutdown_requested_ || drain_requested_) {
      return refuse(409, fmt::format("cannot switch thread_handling: {}", stop_reason_));
    }
  }
  if (from->table().flags & CONNSCHED_SCHEDULER_SERVES_OUT_OF_PROCESS) {
    return refuse(422, fmt::format("backend '{}' cannot be switched away from: its connections "
                                   "live in its worker processes, where core cannot take them "
                                   "back; restart the server to change thread_handling",
                                   from->name));
  }
  if (!from->can_release()) {
    return refuse(422, fmt::format("backend '{}' ({}, ABI {}.{}) cannot be switched away from: it "
                                   "has no release_connection (ABI 1.2), so it cannot hand its "
                                   "connections back; restart the server to change "
                                   "thread_handling",
                                   from->name, from->scheduler.path, from->table().abi_major,
                                   from->table().abi_minor));
  }
  std::unique_ptr<BackendInstance> to;
  try {
    to = load_instance(target, /*at_startup=*/false, backend_options);
  } catch (const std::exception& e) {
    return refuse(422, e.what());
  }
  if (std::string why = switch_refusal(*from, *to, force); !why.empty()) {
    return refuse(422, std::move(why));
  }
  to->waits_for_output =
      idle_timer_ && (to->table().flags & CONNSCHED_SCHEDULER_WAITS_FOR_OUTPUT) != 0;
  try {
    init_instance(*to);
  } catch (const std::exception& e) {
    return refuse(422, e.what());
  }
  // Committed: new connections go to `to` from here on; every open one is asked back.
  // Options given with the switch are the server's from now on (a later switch's too).
  if (backend_options) options_.backend_options = *backend_options;
  BackendInstance* next = to.get();
  backends_.push_back(std::move(to));
  if (switch_thread_.joinable()) switch_thread_.join();  // the last switch's, already done
  switch_from_ = from->name;
  switch_to_ = next->name;
  switch_started_ms_ = monotonic_ms();
  switch_started_us_.store(steady_us());
  switch_last_return_us_.store(0);
  switch_adding_us_.store(0);
  switch_moved_.store(0);
  switching_.store(true);
  current_.store(next);
  std::uint64_t open = 0;
  registry_.for_each([&](Connection& c) {
    if (c.owner.load() != from) return;
    ++open;
    request_release_locked(c);
  });
  switch_open_ = open;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(switch_wake_.get(), &one, sizeof one);
  logger_.log(LogLevel::kInfo,
              "thread_handling: switching from '{}' to '{}' ({}): moving {} "
              "connection(s) at their request boundaries",
              from->name, next->name, next->scheduler.path, open);
  for (auto& t : handover_threads_) t->thread.request_stop();  // the last switch's: done
  // Those that have left are joined now (at once: they only have to exit).
  std::erase_if(handover_threads_, [](const auto& t) { return t->done.load(); });
  auto handing = std::make_unique<HandOverThread>();
  handing->thread = std::jthread([this, h = handing.get()](std::stop_token stop) {
    hand_over(stop);
    h->done.store(true);
  });
  handover_threads_.push_back(std::move(handing));
  switch_thread_ = std::jthread(
      [this, from, next, open](std::stop_token stop) { run_switch(stop, from, next, open); });
  lock.unlock();
  wait_for_switch(wait);
  return switch_status();
}

// The connection's owner is asked to hand it back (registry lock held, as for
// post_kill_notification); the mark makes do_command and wait_for_input say so.
void ServerCore::request_release_locked(Connection& c) {
  c.release_requested.store(true);
  BackendInstance* b = c.owner.load();
  if (b != nullptr && b->table().release_connection) b->table().release_connection(b->state, &c);
}

// The old backend handed the connection back at a request boundary: from now until the
// new backend's add_connection it is core's (owner nullptr, so a kill notifies nobody:
// it only marks and shuts the socket, which the new backend then sees).
void ServerCore::return_connection(Connection& conn) {
  BackendInstance* from = conn.owner.load();
  BackendInstance* to = current_.load();  // a switch is running: its target
  registry_.with_connection(conn.id, [&](Connection& c) {
    c.owner.store(nullptr);
    c.backend_data.store(nullptr);
    c.release_requested.store(false);
  });
  {
    std::lock_guard lock(handoff_mutex_);
    handoff_.emplace_back(&conn, to);
    if (from != nullptr && from->held.fetch_sub(1) == 1) switch_done_cv_.notify_all();
    switch_last_return_us_.store(since_switch_us());
  }
  handoff_cv_.notify_all();
}

// Microseconds since the running switch began (for its log line's breakdown); no lock,
// as backend threads returning connections ask.
std::int64_t ServerCore::since_switch_us() const {
  return steady_us() - switch_started_us_.load();
}

// A switch's hand-over thread: gives each returned connection to the new backend. Its
// own thread, so that a backend serving inside add_connection (no-threads) blocks
// neither the switch's end nor the acceptor. Stops when told to (the next switch, or
// the shutdown) and, if inside such an add_connection, once that returns.
void ServerCore::hand_over(std::stop_token stop) {
  std::unique_lock lock(handoff_mutex_);
  while (!stop.stop_requested()) {
    if (handoff_.empty()) {
      handoff_cv_.wait_for(lock, kSwitchPoll);
      continue;
    }
    auto [c, to] = handoff_.front();
    handoff_.pop_front();
    // Owned by `to` before the lock goes, so the switch never sees it nowhere: a switch
    // that ends once the queue is empty, and the next one's scan, both see it as `to`'s.
    // (Registry lock inside the hand-off lock: nothing takes them the other way round.)
    // Counted as moved before, too, so a switch that ends now counts it.
    to->held.fetch_add(1);
    const std::uint64_t id = c->id;
    registry_.with_connection(id, [&, to = to](Connection& x) { x.owner.store(to); });
    switch_moved_.fetch_add(1);
    CoreCounters::bump(counters_.connections_moved);
    // The last one out: the switch's thread may be waiting for the queue to empty.
    if (handoff_.empty()) switch_done_cv_.notify_all();
    lock.unlock();
    const auto adding = std::chrono::steady_clock::now();
    const int refused = to->table().add_connection(to->state, c);
    switch_adding_us_.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - adding)
                                    .count());
    if (refused != 0) {
      logger_.log(LogLevel::kWarning, "backend '{}' refused moved connection {}; closing it",
                  to->name, id);
      end_connection(*c);
    } else {
      // A next switch that asked `to` for it before `to` knew it got no answer.
      release_if_switched_away(id, to);
    }
    lock.lock();
  }
}

// The switch's own thread: once the old backend holds no connection and none waits
// to be handed over, ends it. A shutdown stops it early; end_backends then ends what
// is left.
void ServerCore::run_switch(std::stop_token stop, BackendInstance* from, BackendInstance* to,
                            std::uint64_t open) {
  {
    std::unique_lock lock(handoff_mutex_);
    while (!(from->held.load() == 0 && handoff_.empty()) && !stop.stop_requested()) {
      switch_done_cv_.wait_for(lock, kSwitchPoll);
    }
  }
  const bool complete = from->held.load() == 0;
  // The switch took until its last connection was moved; ending the old backend (which
  // joins its threads) comes after, and is logged apart.
  std::int64_t started = 0;
  {
    std::lock_guard guard(switch_mutex_);
    started = switch_started_ms_;
  }
  const std::int64_t took = monotonic_ms() - started;
  const std::int64_t moved_us = since_switch_us();
  if (complete) {
    last_switch_ms_.store(static_cast<std::uint64_t>(took));
    std::unique_lock lifetime(backend_lifetime_);
    if (!from->ended) {
      from->table().end(from->state);
      from->ended = true;
      from->state = nullptr;
    }
  }
  if (complete) {
    CoreCounters::bump(counters_.backend_switches);
    const std::uint64_t moved = switch_moved_.load();
    logger_.log(LogLevel::kInfo,
                "thread_handling: switched from '{}' to '{}': {} of {} connection(s) moved in {} "
                "ms (the others ended meanwhile; the last returned by '{}' at {:.1f} ms, "
                "add_connection {:.1f} us each on average); '{}' ended in {:.1f} ms more",
                from->name, to->name, moved, open, took, from->name,
                static_cast<double>(switch_last_return_us_.load()) / 1e3,
                moved > 0
                    ? static_cast<double>(switch_adding_us_.load()) / static_cast<double>(moved)
                    : 0.0,
                from->name, static_cast<double>(since_switch_us() - moved_us) / 1e3);
  } else {
    logger_.log(LogLevel::kWarning,
                "thread_handling: switch from '{}' to '{}' stopped by the shutdown after {} ms "
                "with {} connection(s) still on '{}'",
                from->name, to->name, took, from->held.load(), from->name);
  }
  std::uint64_t drained = 0;
  [[maybe_unused]] ssize_t n = ::read(switch_wake_.get(), &drained, sizeof drained);
  switching_.store(false);
}

// What the last (or the running) switch came to.
BackendSwitch ServerCore::switch_status() const {
  std::lock_guard lock(switch_mutex_);
  BackendSwitch s;
  s.from = switch_from_;
  s.to = switch_to_;
  s.connections = switch_open_;
  s.moved = switch_moved_.load();
  const bool running = switching_.load();
  s.status = running ? 202 : 200;
  s.elapsed_ms = running ? monotonic_ms() - switch_started_ms_
                         : static_cast<std::int64_t>(last_switch_ms_.load());
  return s;
}

bool ServerCore::wait_for_switch(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (switching_.load()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Shutdown: the switch's thread stops (at once when its old backend holds nothing
// more), and connections it had not handed over yet are closed.
void ServerCore::finish_switch() {
  std::jthread thread;
  {
    std::lock_guard lock(switch_mutex_);
    thread = std::move(switch_thread_);
  }
  std::vector<std::unique_ptr<HandOverThread>> handing;
  {
    std::lock_guard lock(switch_mutex_);
    handing.swap(handover_threads_);
  }
  if (thread.joinable()) thread.request_stop();
  for (auto& t : handing) t->thread.request_stop();
  handoff_cv_.notify_all();
  switch_done_cv_.notify_all();
  if (thread.joinable()) thread.join();
  for (auto& t : handing) t->thread.join();
  std::deque<std::pair<Connection*, BackendInstance*>> left;
  {
    std::lock_guard lock(handoff_mutex_);
    left.swap(handoff_);
  }
  for (auto& [c, to] : left) end_connection(*c);
}

// Every backend still running is ended, older ones first, with no stats call inside.
void ServerCore::end_backends() {
  finish_switch();
  std::vector<BackendInstance*> all;
  {
    std::lock_guard lock(switch_mutex_);
    for (auto& b : backends_) all.push_back(b.get());
  }
  std::unique_lock lifetime(backend_lifetime_);
  backend_started_ = false;
  for (BackendInstance* b : all) {
    if (!b->started || b->ended) continue;
    b->table().end(b->state);
    b->ended = true;
    b->state = nullptr;
  }
}

}  // namespace connsched
