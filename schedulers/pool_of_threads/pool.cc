// File: schedulers/pool_of_threads/pool.cc
//
// Connections in and out, the worker loop (get_event), the listener, wait_begin /
// wait_end, kill, and thread creation: MariaDB's threadpool_generic.cc decisions, each
// function opening with why it decides what it decides.
#include "pool.h"

#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "connsched/clock.h"
#include "thread_priority.h"
#include "throttling.h"

namespace connsched::pool_of_threads {

namespace {
constexpr int kMaxEvents = 1024;  // per poll, as MariaDB
constexpr std::int64_t kBlockedLogIntervalMs = 10000;
// Longest a standby thread sleeps in one go (idle timeouts are clamped to this).
constexpr std::int64_t kMaxIdleTimeoutS = 365LL * 24 * 3600;

// The CPUs this process may run on: its affinity mask (taskset, cpusets, a container's
// --cpuset-cpus), else every online CPU. One group per CPU it cannot use would only add
// listeners contending for the ones it can. A CFS quota (a container's --cpus) leaves
// the mask whole and is not seen here: set --thread-pool-size for it.
std::size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

// Every option arrives from core already validated against its declaration (the
// default when not given); thread_pool_size unset means one group per usable CPU
// (MariaDB's MDEV-7806), which only init can know.
Pool::Pool(const connsched_services* services)
    : svc_(services),
      svc_has_holds_locks_(CONNSCHED_SERVICES_HAS(services, conn_holds_locks)),
      svc_has_read_capped_(CONNSCHED_SERVICES_HAS(services, conn_read_capped)),
      groups_(kMaxGroups) {
  kOptionTable.load(svc_, settings_);
  poller_kind_ = choose_poller(static_cast<PollerKind>(settings_.poller.load()));
  std::size_t size = static_cast<std::size_t>(settings_.size.load());
  if (size == 0) size = usable_cpus();
  resize(std::min(size, kMaxGroups));
  timer_ = std::jthread([this] { timer_main(); });
}

// Shutdown (core has ended every connection by now): stop the timer so it creates
// nothing, then flag each group and wake every thread in it, then join them all.
Pool::~Pool() {
  {
    std::lock_guard lock(timer_mutex_);
    timer_stop_ = true;
  }
  timer_wake_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (std::size_t i = 0; i < created_groups(); ++i) {
    ThreadGroup& g = group(i);
    std::lock_guard lock(g.mutex);
    g.shutdown = true;
    tell_threads_to_exit(g);
  }
  threads_.join_all();
}

// io_uring is tried once here, so that a kernel or a seccomp profile that forbids it
// is told at start-up, in one line: `io_uring` refuses to start, `auto` says once that
// it polls with epoll instead. (The groups made later make their own rings.)
PollerKind Pool::choose_poller(PollerKind wanted) {
  if (wanted == PollerKind::kEpoll || wanted == PollerKind::kEpollOneShot) return wanted;
  try {
    make_uring_poller();
    return PollerKind::kIoUring;
  } catch (const PollerUnavailable& e) {
    if (wanted == PollerKind::kIoUring) {
      throw std::runtime_error(
          fmt::format("pool-of-threads: thread_pool_poller=io_uring cannot be used: {}", e.what()));
    }
    log(CONNSCHED_LOG_WARNING,
        fmt::format("pool-of-threads: thread_pool_poller=auto: io_uring cannot be used ({}); "
                    "polling with epoll",
                    e.what()));
    return PollerKind::kEpoll;
  }
}

void Pool::log(int level, const std::string& message) const {
  svc_->log(svc_, level, message.c_str());
}

// ---------------------------------------------------------------------------------
// Groups

// Growing makes the new groups (empty: a group gets its first thread with its first
// connection); shrinking only lowers the count. Connections move lazily, on the
// re-arm after their next request (MariaDB's change_group), so none is lost and no
// request is cut; a retired group's threads leave once its last connection has.
void Pool::resize(std::size_t count) {
  std::lock_guard lock(resize_mutex_);
  for (std::size_t i = created_groups(); i < count; ++i) {
    groups_[i] = std::make_unique<ThreadGroup>(i, poller_kind_);
    created_groups_.store(i + 1, std::memory_order_release);
  }
  group_count_.store(count, std::memory_order_release);
  for (std::size_t i = count; i < created_groups(); ++i) {
    ThreadGroup& g = group(i);
    std::lock_guard group_lock(g.mutex);
    if (must_exit(g)) tell_threads_to_exit(g);
  }
}

// A thread leaves its group at shutdown, or when the group was retired by a resize and
// has no connection left to serve.
bool Pool::must_exit(const ThreadGroup& g) const {
  return g.shutdown ||
         (g.index >= group_count_.load(std::memory_order_acquire) && g.connection_count == 0);
}

// Standby threads re-check must_exit when notified; the listener needs its eventfd.
void Pool::tell_threads_to_exit(ThreadGroup& g) {
  g.standby.for_each([](Worker* w) { w->wake.notify_one(); });
  if (g.listener != nullptr) g.wake_listener();
}

// MariaDB's too_many_threads, counting what really competes for the CPU: the caller
// itself does not count against the limit, and a thread stuck on one request for over
// a stall limit no longer does either (Oracle's pool does the same), so one long
// request cannot keep a group at its limit. A stalled group lifts the limit.
bool Pool::too_many_threads(const ThreadGroup& g, bool caller_is_active) const {
  std::int64_t running = g.active_count - g.stuck_count - (caller_is_active ? 1 : 0);
  return running >= 1 + settings_.oversubscribe.load(std::memory_order_relaxed) && !g.stalled;
}

// Percona's priority rule, decided each time a connection is queued: killed ones
// first; `statements` puts all in the high queue, `none` none; `transactions` the
// connections inside a transaction while they have tickets, each high-priority entry
// spending one and each normal one refilling them (so a long transaction cannot
// starve everyone else).
//
// Above all of them, a connection that holds a lock between requests (MDEV-38219): its
// request may be the one that releases what the group's other threads are blocked on.
void Pool::enqueue(ThreadGroup& g, PoolConnection& c, std::int64_t now) {
  if (holds_locks(c)) {
    g.enqueue(c, kLockHolderPriority, now);
    return;
  }
  bool high = c.raise_priority || svc_->conn_killed(c.conn) != CONNSCHED_KILL_NONE;
  if (!high) {
    switch (settings_.prio_mode()) {
      case HighPrioMode::kStatements:
        high = true;
        break;
      case HighPrioMode::kNone:
        break;
      case HighPrioMode::kTransactions:
        if (c.tickets > 0 && svc_->conn_in_transaction(c.conn)) {
          high = true;
          --c.tickets;
        } else {
          c.tickets = static_cast<std::uint64_t>(settings_.high_prio_tickets.load());
        }
        break;
    }
  }
  g.enqueue(c, high ? kHighPriority : kNormalPriority, now);
}

bool Pool::holds_locks(const PoolConnection& c) const {
  return svc_has_holds_locks_ && svc_->conn_holds_locks(c.conn) != 0;
}

// The group counts its lock holders (as of each one's last request), which is what
// lets it use its reserve of threads above max_threads.
void Pool::note_lock_holder(ThreadGroup& g, PoolConnection& c, bool holds) {
  if (holds == c.holds_locks) return;
  c.holds_locks = holds;
  g.holder_count += holds ? 1 : -1;
}

// The reserve is for lock holders only: a queued holder, or a group with holders and
// no listener (nobody would even see the holder's next request). Anything else waits
// at max_threads, as in MariaDB.
bool Pool::may_use_reserve(const ThreadGroup& g) const {
  if (g.reserve_count >= settings_.max_threads_reserve.load(std::memory_order_relaxed))
    return false;
  return !g.queues[kLockHolderPriority].empty() || (g.holder_count > 0 && g.listener == nullptr);
}

// MariaDB adds a thread to a busy group only on the stall tick (500 ms there), so a
// short request waits behind long ones for up to a tick. Here a queue whose oldest
// entry waited longer than thread_pool_queue_age_limit gets a thread at once, from
// wherever the pool notices (queueing, dequeueing, wait_begin, the timer's fast tick),
// within the throttle and max_threads. Not when the group already runs its
// oversubscribe limit: a CPU-bound group gains nothing from one thread more. At most
// one reaction per limit period, so a burst of events does not wake every thread.
//
// Not while the listener runs a batch: its queue is the batch, served in order, and a
// thread woken for it would find the listener serving and go back to sleep; the timer
// hands the role on instead when one of the batch's requests runs long (watch_requests).
void Pool::react_to_queue_age(ThreadGroup& g, std::int64_t now) {
  const std::int64_t limit_us = settings_.queue_age_limit_ms.load(std::memory_order_relaxed) * 1000;
  if (limit_us <= 0 || g.shutdown) return;
  if (g.listener != nullptr && g.listener->runs_batch) return;
  const std::int64_t oldest = g.oldest_enqueue_us();
  if (oldest == 0 || now - oldest < limit_us || now - g.queue_age_reacted_us < limit_us) return;
  if (too_many_threads(g, false)) return;
  g.queue_age_reacted_us = now;
  if (wake_or_create_thread(g, false)) ++g.counters.queue_age_wakeups;
}

// Events become queue entries only for connections that are idle in this group: a
// stale event (one left over from a re-arm) finds its connection queued or running and
// is dropped, so a connection is never queued twice. Events carry ids, not pointers,
// for the same reason. With a multishot poller (io_uring) an event for a running
// connection is not stale: it is input (or room for a reply) that arrived while the
// connection ran, after do_command may have looked, and it is the only event those
// bytes will get; the connection keeps it (refire) and is queued again at its re-arm.
bool Pool::queue_events(ThreadGroup& g, const PollEvent* events, int count, bool* woken) {
  bool queued = false;
  std::int64_t now = now_us();
  for (int i = 0; i < count; ++i) {
    std::uint64_t id = events[i].id;
    if (id == kWakeEventId) {
      if (woken != nullptr) *woken = true;
      continue;
    }
    ++g.io_event_count;
    auto it = g.members.find(id);
    if (it == g.members.end()) continue;
    PoolConnection& c = *it->second;
    // A multishot poller reports a FIN once; the run it starts may read only the bytes
    // before it (see PoolConnection::peer_closed).
    if (g.multishot() && (events[i].mask & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      c.peer_closed = true;
    }
    if (c.state != ConnState::kIdle) {
      if (c.state == ConnState::kRunning && g.multishot() && !c.refire) {
        c.refire = true;
        ++g.counters.refires;
      }
      continue;
    }
    // A multishot registration reports input and room to write alike; each state
    // takes only its own, as epoll's one-shot registrations do: room to write is no
    // event for a connection waiting for input (a new socket reports it once), nor is
    // input for one whose reply waits for the socket (a kill's hang-up is).
    if (g.multishot()) {
      const std::uint32_t wanted =
          c.awaiting_output ? static_cast<std::uint32_t>(POLLOUT | POLLHUP | POLLERR)
                            : ~static_cast<std::uint32_t>(POLLOUT | POLLWRNORM | POLLWRBAND);
      if ((events[i].mask & wanted) == 0) continue;
    }
    enqueue(g, c, now);
    queued = true;
  }
  if (queued) react_to_queue_age(g, now);
  return queued;
}

// ---------------------------------------------------------------------------------
// Connections

// The connection goes straight into its group's poller: core already greeted it,
// so there is nothing to run until it sends something (unlike MariaDB, no worker is
// spent on a login step). A group's first connection gets the group's first thread,
// which becomes its listener. Never blocks: the acceptor calls this.
bool Pool::add_connection(connsched_conn* conn) {
  std::uint64_t id = svc_->conn_id(conn);
  auto owned = std::make_unique<PoolConnection>(
      conn, id, svc_->conn_fd(conn),
      static_cast<std::uint64_t>(settings_.high_prio_tickets.load()));
  PoolConnection& c = *owned;
  std::size_t index = id % group_count_.load(std::memory_order_acquire);
  c.group.store(index);
  ThreadGroup& g = group(index);
  bool armed;
  {
    std::lock_guard lock(g.mutex);
    g.members.emplace(id, &c);
    ++g.connection_count;
    armed = g.arm(c);
    if (!armed) {
      g.members.erase(id);
      --g.connection_count;
      c.state = ConnState::kClosed;
    } else {
      // Set before any thread can run it (that takes this mutex): wait_begin and
      // post_kill_notification find the connection through the slot.
      svc_->conn_set_data(conn, owned.release());  // re-owned by close_connection
      if (g.listener == nullptr && g.active_count == 0) wake_or_create_thread(g, false);
    }
  }
  if (!armed) {
    int error = errno;
    log(CONNSCHED_LOG_ERROR, fmt::format("pool-of-threads: cannot poll connection {}: {}", id,
                                         std::system_category().message(error)));
    return false;  // core closes it; `owned` frees what the slot never held
  }
  return true;
}

// One request's worth of work; the connection then waits for input again (re-armed,
// perhaps in another group) or is handed back to core. A reply that did not fit the
// socket waits for EPOLLOUT the same way, holding no thread (MariaDB's pool keeps the
// thread blocked in the write for up to net_write_timeout: one thread per client that
// stops reading); core keeps the unsent bytes and enforces net_write_timeout.
void Pool::serve(PoolConnection& c) {
  const std::int64_t started = now_us();
  const int next = svc_->do_command(c.conn);
  if (next == CONNSCHED_NEXT_CLOSE || next == CONNSCHED_NEXT_RELEASE) {
    close_connection(c, started, next == CONNSCHED_NEXT_RELEASE);
  } else {
    if (next == CONNSCHED_NEXT_WAIT_OUTPUT) output_waits_.fetch_add(1, std::memory_order_relaxed);
    rearm(c, started, next == CONNSCHED_NEXT_WAIT_OUTPUT);
  }
}

// After each request: move the connection if thread_pool_size changed its group, and
// re-arm it for input or, with `for_output`, for writability (a reply waits for the
// socket).
void Pool::rearm(PoolConnection& c, std::int64_t started_us, bool for_output) {
  std::size_t target = c.id % group_count_.load(std::memory_order_acquire);
  ThreadGroup* g = &group(c.group.load());
  std::unique_lock lock(g->mutex);
  g->latency.service.record(static_cast<std::uint64_t>(now_us() - started_us));
  if (c.worker != nullptr) settle_presumption(c, *c.worker);
  if (g->index != target) g = &move_to_group(c, *g, target, lock);
  note_lock_holder(*g, c, holds_locks(c));
  c.worker = nullptr;
  if (c.release_pending && !for_output) {
    queue_for_release(*g, c);  // asked back while it ran: its next do_command says so
    return;
  }
  if (g->arm(c, for_output)) {
    if (g->multishot() && (c.refire || (!for_output && (c.peer_closed || input_left(c))))) {
      // No event will come for what is already there (see queue_events): run it again.
      c.refire = false;
      const std::int64_t now = now_us();
      enqueue(*g, c, now);
      react_to_queue_age(*g, now);
    }
    return;
  }
  int error = errno;
  c.state = ConnState::kRunning;
  lock.unlock();
  log(CONNSCHED_LOG_ERROR,
      fmt::format("pool-of-threads: cannot re-arm connection {}: {}; closing it", c.id,
                  std::system_category().message(error)));
  close_connection(c);
}

// MariaDB's change_group: out of the old poller and counters, into the new ones.
// The connection is running (no event can come for it), so nothing else sees it
// half-moved; its group index changes under the old group's mutex, which is what
// post_kill_notification re-checks. A group that receives a connection and has no
// thread gets one (its listener).
ThreadGroup& Pool::move_to_group(PoolConnection& c, ThreadGroup& from, std::size_t to,
                                 std::unique_lock<std::mutex>& lock) {
  from.unregister(c);
  from.members.erase(c.id);
  --from.connection_count;
  const bool holder = c.holds_locks;
  note_lock_holder(from, c, false);
  c.group.store(to);
  if (must_exit(from)) tell_threads_to_exit(from);
  lock.unlock();
  ThreadGroup& dest = group(to);
  lock = std::unique_lock(dest.mutex);
  dest.members.emplace(c.id, &c);
  ++dest.connection_count;
  note_lock_holder(dest, c, holder);
  connections_moved_.fetch_add(1, std::memory_order_relaxed);
  if (dest.listener == nullptr && dest.active_count == 0) wake_or_create_thread(dest, false);
  return dest;
}

// A multishot poll reports arrivals, not what the socket holds: when do_command stopped
// reading at its bound (conn_read_capped), the rest is there and nothing will report
// it. A core without that service is asked the socket itself (one poll(2)).
bool Pool::input_left(const PoolConnection& c) const {
  if (svc_has_read_capped_) return svc_->conn_read_capped(c.conn) != 0;
  pollfd p{c.fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
}

// Out of every pool structure first (under the group mutex, so post_kill_notification
// sees it closed), then back to core with no pool lock held, then freed: core's
// registry no longer has it, so no kill can reach it any more.
void Pool::close_connection(PoolConnection& c, std::int64_t started_us, bool hand_back) {
  {
    ThreadGroup& g = group(c.group.load());
    std::lock_guard lock(g.mutex);
    if (started_us != 0)
      g.latency.service.record(static_cast<std::uint64_t>(now_us() - started_us));
    note_lock_holder(g, c, false);
    if (c.worker != nullptr) c.worker->connection = nullptr;
    g.unregister(c);
    g.members.erase(c.id);
    --g.connection_count;
    c.state = ConnState::kClosed;
    c.worker = nullptr;
    if (must_exit(g)) tell_threads_to_exit(g);
  }
  // Freed after end_connection returns: until core's registry has let it go, a kill may
  // still read the slot (post_kill_notification runs under that registry lock).
  std::unique_ptr<PoolConnection> owned(&c);
  if (hand_back) {
    svc_->return_connection(c.conn);
  } else {
    svc_->end_connection(c.conn);
  }
}

// An idle connection asked back has no input to wake it: it is queued as if readable
// (do_command with nothing to read is harmless, and returns CONNSCHED_NEXT_RELEASE), and
// a thread is found for it. Its one-shot epoll entry may still fire; queue_events skips
// a connection that is not idle. Under the group's mutex.
void Pool::queue_for_release(ThreadGroup& g, PoolConnection& c) {
  enqueue(g, c, now_us());
  g.wake_listener();
  if (g.active_count == 0) wake_or_create_thread(g, false);
}

// A switch of thread_handling wants the connection back (ABI 1.2). Under core's registry
// lock, like post_kill_notification: pool mutexes only, no I/O wait, no call into core.
// A running or queued connection is marked (its serving thread will not re-arm it); an
// idle one is queued now.
void Pool::release_connection(connsched_conn* conn) {
  auto* c = static_cast<PoolConnection*>(svc_->conn_get_data(conn));
  if (c == nullptr) return;
  with_connection_locked(*c, [&](ThreadGroup& g) {
    c->release_pending = true;
    if (c->state == ConnState::kIdle) queue_for_release(g, *c);
  });
}

// A killed connection is served first: one in the normal queue moves up, an idle one
// is queued high when its (shut down) socket fires.
void Pool::requeue_killed(PoolConnection& c, ThreadGroup& g) {
  c.raise_priority = true;
  if (c.state == ConnState::kQueued) g.promote(c);
}

// Core already shut the socket down, so an idle connection's one-shot registration
// fires by itself; here the connection only jumps the queue (MariaDB raises it to
// high priority). Runs under core's registry lock: takes only pool mutexes, never
// blocks on I/O, never calls back into core. The slot is atomic (ABI 1.2) and what it
// points to lives until end_connection returns, which waits for that registry lock.
void Pool::post_kill_notification(connsched_conn* conn) {
  auto* c = static_cast<PoolConnection*>(svc_->conn_get_data(conn));
  if (c == nullptr) return;
  with_connection_locked(*c, [&](ThreadGroup& g) { requeue_killed(*c, g); });
}

// ---------------------------------------------------------------------------------
// Waits

// The serving thread is about to block: it stops counting as active, and if it was the
// group's last active thread while work is queued (or nobody listens), another thread
// is woken or created at once, so a blocked request never blocks its group.
void Pool::wait_begin(connsched_conn* conn, int type) {
  if (type < 0 || type >= CONNSCHED_WAIT_TYPE_COUNT) type = CONNSCHED_WAIT_UNKNOWN;
  waits_[static_cast<std::size_t>(type)].fetch_add(1, std::memory_order_relaxed);
  auto* c = static_cast<PoolConnection*>(svc_->conn_get_data(conn));
  if (c == nullptr) return;
  ThreadGroup& g = group(c->group.load());
  std::lock_guard lock(g.mutex);
  Worker* w = c->worker;
  if (w != nullptr && w->unreported_wait) {
    // The timer already counts it as waiting (its CPU clock stood still): now it is a
    // reported wait, ended by wait_end.
    w->unreported_wait = false;
    w->presumed_wait = false;
  } else {
    --g.active_count;
    ++g.waiting_count;
  }
  if (w != nullptr) {
    w->in_wait = true;
    if (w->stuck) {
      w->stuck = false;
      --g.stuck_count;
    }
  }
  if (w != nullptr && w->runs_batch) {
    // The listener itself is about to block: nobody would poll, nobody would run its
    // batch's queue. The role passes now, as a worker's wait wakes another thread.
    hand_off_listener(g, *w, true);
  } else if (g.active_count == 0 && (!g.queue_empty() || g.listener == nullptr)) {
    wake_or_create_thread(g, false);
  } else {
    react_to_queue_age(g, now_us());
  }
}

// Back to work. Nothing stops the group from running more than its limit now; the
// limit applies to the next dequeue (as in MariaDB).
void Pool::wait_end(connsched_conn* conn) {
  auto* c = static_cast<PoolConnection*>(svc_->conn_get_data(conn));
  if (c == nullptr) return;
  ThreadGroup& g = group(c->group.load());
  std::lock_guard lock(g.mutex);
  ++g.active_count;
  --g.waiting_count;
  if (Worker* w = c->worker) w->in_wait = false;
}

// ---------------------------------------------------------------------------------
// Threads

// A pool thread's life: serve what get_event hands out until it hands out nothing
// (idle timeout, retirement, shutdown); get_event has then already taken the thread
// out of its group's counts, under the group mutex.
void Pool::worker_main(ThreadGroup& g, bool reserve) {
  Worker self;
  self.reserve = reserve;
  self.tid = current_tid();
  self.has_cpu_clock = ::pthread_getcpuclockid(::pthread_self(), &self.cpu_clock) == 0;
  {
    std::lock_guard lock(g.mutex);
    g.workers.push_back(&self);
  }
  while (PoolConnection* c = get_event(g, self)) serve(*c);
}

// MariaDB's get_event: take queued work unless the group is oversubscribed; else
// become the listener if there is none; else poll without blocking; else sleep on the
// standby list until woken or the idle timeout (then exit).
//
// Beyond MariaDB: a reserve thread (above max_threads) takes lock holders only, or
// listens while the group has holders and no listener, and otherwise leaves at once;
// a thread whose priority was lowered for a long request and cannot get it back
// leaves too, so no request is ever served at the demoted priority.
//
// A listener running a batch (thread_pool_listener_runs) goes on with it first: the next
// queued request, or back to its poll, keeping the role; only a signal that another
// thread is needed makes it an ordinary worker (continue_batch).
PoolConnection* Pool::get_event(ThreadGroup& g, Worker& self) {
  std::unique_lock lock(g.mutex);
  end_request(g, self);
  bool retire = false;
  if (self.demoted) {
    self.demoted = false;
    if (!restore_current_thread()) {
      retire = true;
      ++g.counters.demotion_retirements;
    }
  }
  if (self.runs_batch) {
    if (retire) {
      hand_off_listener(g, self, true);
    } else if (PoolConnection* next = continue_batch(g, self, lock)) {
      begin_request(g, self, *next);
      return next;
    }
  }
  const std::int64_t idle_s =
      std::min(settings_.idle_timeout_s.load(std::memory_order_relaxed), kMaxIdleTimeoutS);
  const auto idle_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(idle_s);
  PoolConnection* c = nullptr;
  while (!retire && !must_exit(g)) {
    if (self.reserve) {
      if ((c = g.dequeue_lock_holder(now_us())) != nullptr) {
        ++g.counters.dequeues_by_worker;
        break;
      }
      if (g.listener == nullptr && g.holder_count > 0) {
        g.listener = &self;
        --g.active_count;
        c = listen(g, self, lock, true);
        ++g.active_count;
        g.listener = nullptr;
        if (c != nullptr) break;
        continue;
      }
      break;  // nothing a reserve thread may do: it leaves
    }
    // While the listener runs a batch, the queue is its own: a worker taking from it
    // would only add a thread taking turns on the same CPU.
    const bool oversubscribed = too_many_threads(g, true) || listener_runs_batch(g, self);
    if (!oversubscribed && (c = g.dequeue(now_us())) != nullptr) {
      ++g.counters.dequeues_by_worker;
      break;
    }
    if (g.listener == nullptr) {
      g.listener = &self;
      --g.active_count;
      c = listen(g, self, lock, false);
      ++g.active_count;
      if (!self.runs_batch) g.listener = nullptr;  // else it stays the listener
      break;
    }
    // MariaDB's worker polls without blocking before it sleeps, to take an event itself
    // rather than have the listener wake for it. With the listener's fast path the
    // listener runs what it polls, so a second thread polling only splits one event
    // loop between two threads taking turns on the CPU: it sleeps instead.
    if (!oversubscribed && !runs_as_listener(g)) {
      PollEvent events[kMaxEvents];
      int n = g.poll(events, kMaxEvents, 0);
      if (n > 0) {
        ++g.counters.polls_by_worker;
        if (queue_events(g, events, n, nullptr) && (c = g.dequeue(now_us())) != nullptr) {
          ++g.counters.dequeues_by_worker;
          break;
        }
      }
    }
    self.woken = false;
    g.standby.push(&self);
    --g.active_count;
    bool ready =
        self.wake.wait_until(lock, idle_deadline, [&] { return self.woken || must_exit(g); });
    ++g.active_count;
    if (!self.woken) {
      g.standby.remove(&self);
      if (!ready) break;  // idle timeout
    }
  }
  g.stalled = false;
  if (c != nullptr) {
    if (self.reserve) ++g.counters.reserve_dequeues;
    begin_request(g, self, *c);
    return c;
  }
  // Leaving: out of the group's counts before the mutex is released, so nobody counts
  // on this thread any more; its context switches stay counted.
  const ContextSwitches switches = own_context_switches();
  g.counters.exited_voluntary_switches += switches.voluntary;
  g.counters.exited_involuntary_switches += switches.involuntary;
  g.workers.erase(std::find(g.workers.begin(), g.workers.end(), &self));
  --g.thread_count;
  --g.active_count;
  if (self.reserve) --g.reserve_count;
  total_threads_.fetch_sub(1);
  return nullptr;
}

// The thread takes `c`: what the timer watches starts now. Its CPU clock is left for the
// timer's first look (kUnsampled): a clock read is a system call, too dear for every
// short request, and only a request that outlives a tick needs one. A connection that
// blocked unseen last time is presumed to again, and sampled at once.
void Pool::begin_request(ThreadGroup& g, Worker& self, PoolConnection& c) {
  g.stalled = false;
  c.worker = &self;
  self.connection = &c;
  self.request_start_ms = svc_->now_ms();
  self.cpu_progress_us = now_us();
  self.cpu_ns = kUnsampled;
  self.request_cpu_ns = kUnsampled;
  if (c.blocks_unreported) {
    if (self.has_cpu_clock) self.cpu_ns = self.request_cpu_ns = cpu_clock_ns(self.cpu_clock);
    presume_wait(g, self);
  }
  react_to_queue_age(g, self.cpu_progress_us);
}

// The request is over: the thread counts as active again if the timer had found it
// blocked without a wait_begin, and as not stuck.
void Pool::end_request(ThreadGroup& g, Worker& self) {
  self.request_start_ms = 0;
  if (self.stuck) {
    self.stuck = false;
    --g.stuck_count;
  }
  if (self.unreported_wait) {
    self.unreported_wait = false;
    self.presumed_wait = false;
    self.in_wait = false;
    ++g.active_count;
    --g.waiting_count;
  }
}

// MariaDB's listener: block in the group's poller (epoll_wait, io_uring_enter), queue what arrives,
// and, when the queue was empty, run the first event itself (saving a wake-up) unless that would
// oversubscribe the group or thread_pool_dedicated_listener is on. It wakes a worker
// only when no thread of the group is active; otherwise the active ones (or the
// timer) will get to the queue. Called and returns with `lock` held.
//
// With thread_pool_listener_runs it goes further, as an event loop does: it runs the
// first event whatever the queue holds and returns still the listener (self.runs_batch),
// to run the rest of the batch itself (continue_batch). MariaDB's way costs a wake-up
// and a context switch per event beyond the first, on a CPU the group's threads take
// turns on anyway (docs/benchmarks.md, "The listener's fast path").
//
// A reserve thread listens with `holders_only`: it returns a lock holder's request or,
// once the group has no holder left, nullptr; everything else stays queued for the
// group's other threads.
PoolConnection* Pool::listen(ThreadGroup& g, Worker& self, std::unique_lock<std::mutex>& lock,
                             bool holders_only) {
  PollEvent events[kMaxEvents];
  self.runs_batch = false;
  while (true) {
    lock.unlock();
    int n = g.poll(events, kMaxEvents, -1);
    int error = errno;
    lock.lock();
    if (must_exit(g)) return nullptr;
    if (n < 0) {
      if (error != EINTR) {
        log(CONNSCHED_LOG_ERROR,
            fmt::format("pool-of-threads: {} poll in group {}: {}", g.poller().name(), g.index,
                        std::system_category().message(error)));
      }
      continue;
    }
    ++g.counters.polls_by_listener;
    const bool runs = runs_as_listener(g);
    const bool picks = (runs || g.queue_empty()) && !settings_.dedicated_listener.load() &&
                       !too_many_threads(g, false);
    bool woken = false;
    queue_events(g, events, n, &woken);
    if (woken) g.clear_wake();
    if (holders_only) {
      if (PoolConnection* c = g.dequeue_lock_holder(now_us())) {
        ++g.counters.dequeues_by_listener;
        return c;
      }
      if (g.holder_count == 0) return nullptr;
    } else if (picks) {
      if (PoolConnection* c = g.dequeue(now_us())) {
        ++g.counters.dequeues_by_listener;
        if (runs) {
          self.runs_batch = true;
          self.batch_count = 1;
          self.batch_start_us = now_us();
          ++g.counters.listener_requests;
        }
        return c;
      }
    }
    if (g.active_count == 0 && !g.queue_empty()) wake_or_create_thread(g, false);
  }
}

// The listener runs its batch unless the group is being told to leave, or a listener
// poll would not be its own to run (a dedicated listener only queues).
bool Pool::runs_as_listener(const ThreadGroup& g) const {
  return settings_.listener_runs.load(std::memory_order_relaxed) &&
         !settings_.dedicated_listener.load(std::memory_order_relaxed) && !g.shutdown;
}

// True while another thread is the listener and runs a batch (see get_event).
bool Pool::listener_runs_batch(const ThreadGroup& g, const Worker& self) const {
  return g.listener != nullptr && g.listener != &self && g.listener->runs_batch;
}

// The listener between two requests of its batch. It runs the next queued request
// while its batch is within thread_pool_listener_batch_time; every
// thread_pool_listener_batch requests it polls again without blocking, so that new
// arrivals join the queue and a lock holder's or a high-priority request is run before
// the rest (dequeue's order). A batch past its time with requests still queued means
// polling waits behind them: the role passes to another thread and this one serves the
// queue as a worker. With nothing queued it goes back to its poll, still the listener.
// Returns the next request, or nullptr when this thread is no longer the listener.
PoolConnection* Pool::continue_batch(ThreadGroup& g, Worker& self,
                                     std::unique_lock<std::mutex>& lock) {
  if (must_exit(g) || !runs_as_listener(g)) {
    hand_off_listener(g, self, !must_exit(g));
    return nullptr;
  }
  std::int64_t now = now_us();
  if (!g.queue_empty() && now - self.batch_start_us >=
                              settings_.listener_batch_time_us.load(std::memory_order_relaxed)) {
    hand_off_listener(g, self, true);
    return nullptr;
  }
  if (self.batch_count >= settings_.listener_batch.load(std::memory_order_relaxed)) {
    PollEvent events[kMaxEvents];
    const int n = g.poll(events, kMaxEvents, 0);
    if (n > 0) {
      ++g.counters.polls_by_listener;
      bool woken = false;
      queue_events(g, events, n, &woken);
      if (woken) g.clear_wake();
    }
    self.batch_count = 0;
    self.batch_start_us = now = now_us();
  }
  if (!too_many_threads(g, true)) {
    if (PoolConnection* c = g.dequeue(now)) {
      ++self.batch_count;
      ++g.counters.dequeues_by_listener;
      ++g.counters.listener_requests;
      return c;
    }
  }
  --g.active_count;
  PoolConnection* c = listen(g, self, lock, false);
  ++g.active_count;
  if (c == nullptr || !self.runs_batch) {
    // Leaving (must_exit), or it ran MariaDB's single event: no longer the listener.
    self.runs_batch = false;
    g.listener = nullptr;
  }
  return c;
}

// The signals that another thread is needed (a long request, a wait, a thread found
// blocked, a batch past its time) all end here: the group gets a listener again at once,
// the thread that had the role finishes its request as a worker. Counted, so an operator
// sees how often the fast path gave way.
bool Pool::hand_off_listener(ThreadGroup& g, Worker& w, bool wake, bool due_to_stall) {
  w.runs_batch = false;
  if (g.listener == &w) g.listener = nullptr;
  ++g.counters.listener_handoffs;
  return wake && wake_or_create_thread(g, due_to_stall);
}

// MariaDB's wake_or_create_thread: a sleeping thread first (cheapest, newest first);
// else a new thread, never more threads than connections, at once when no thread of
// the group is active (waiting would risk a deadlock), otherwise only as often as the
// throttling curve allows. The timer's requests are timed by its tick, not by when
// its pass reached this group, so "once per N ticks" holds however slow a pass is.
//
// Beyond MariaDB: when no thread can be had (thread_pool_max_threads, the throttle) while
// work is queued and the listener sits idle in its poll, the listener is woken to run it
// (thread_pool_listener_runs): MariaDB's listener would go back to its poll, and with every
// other thread in a wait the queue waited for a wait to end (seen with four GET_LOCK
// waiters at max_threads: one ran at a time, each for its whole lock timeout).
bool Pool::wake_or_create_thread(ThreadGroup& g, bool due_to_stall, std::int64_t tick_us) {
  if (find_thread(g, due_to_stall, tick_us)) return true;
  if (!g.shutdown && !g.queue_empty() && g.listener != nullptr && !g.listener->runs_batch &&
      runs_as_listener(g)) {
    g.wake_listener();
  }
  return false;
}

bool Pool::find_thread(ThreadGroup& g, bool due_to_stall, std::int64_t tick_us) {
  const std::int64_t now = tick_us != 0 ? tick_us : now_us();
  if (g.shutdown) return false;
  if (wake_thread(g, due_to_stall)) return true;
  if (g.thread_count > g.connection_count) return false;
  if (g.active_count > 0) {
    std::int64_t interval = throttling_interval_us(
        g.thread_count, settings_.oversubscribe.load(std::memory_order_relaxed),
        settings_.stall_limit_ms.load(std::memory_order_relaxed));
    if (now - g.last_thread_creation_us < interval) {
      ++g.counters.throttles;
      return false;
    }
  }
  return create_worker(g, due_to_stall, now);
}

bool Pool::wake_thread(ThreadGroup& g, bool due_to_stall) {
  Worker* w = g.standby.pop_newest();
  if (w == nullptr) return false;
  w->woken = true;
  w->wake.notify_one();
  ++g.counters.wakes;
  if (due_to_stall) ++g.counters.wakes_due_to_stall;
  return true;
}

// thread_pool_max_threads caps the whole pool, except that every group may always
// reach two threads (a listener and a worker: MariaDB's anti-deadlock floor). The
// count is claimed with a CAS so that two groups cannot overshoot together.
//
// Past that, a group may still make up to thread_pool_max_threads_reserve threads for
// its lock holders only (may_use_reserve): without them, once max_threads threads wait
// for a lock, its holder can never run the request that releases it (MDEV-38219).
bool Pool::create_worker(ThreadGroup& g, bool due_to_stall, std::int64_t decided_us) {
  const std::int64_t max = settings_.max_threads.load(std::memory_order_relaxed);
  std::int64_t total = total_threads_.load();
  bool reserve = false;
  do {
    reserve = total >= max && g.thread_count >= 2;
    if (reserve && !may_use_reserve(g)) {
      report_max_threads_reached(g);
      return false;
    }
  } while (!total_threads_.compare_exchange_weak(total, total + 1));
  try {
    threads_.spawn([this, &g, reserve] { worker_main(g, reserve); });
  } catch (const std::system_error& e) {
    total_threads_.fetch_sub(1);
    log(CONNSCHED_LOG_ERROR,
        fmt::format("pool-of-threads: cannot create a thread in group {}: {}", g.index, e.what()));
    return false;
  }
  // Born active, as in MariaDB: it is about to look for work.
  ++g.thread_count;
  ++g.active_count;
  g.last_thread_creation_us = decided_us;
  if (reserve) {
    ++g.reserve_count;
    ++g.counters.reserve_creations;
  }
  ++g.counters.thread_creations;
  if (due_to_stall) ++g.counters.thread_creations_due_to_stall;
  return true;
}

// MariaDB waits 30 s before saying anything; an operator needs to know at once
// (Percona #1144), and then not a line per refused creation.
void Pool::report_max_threads_reached(const ThreadGroup& g) {
  max_threads_reached_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(blocked_log_mutex_);
  std::int64_t now = svc_->now_ms();
  if (blocked_logged_ms_ != 0 && now - blocked_logged_ms_ < kBlockedLogIntervalMs) {
    ++blocked_unlogged_;
    return;
  }
  log(CONNSCHED_LOG_WARNING,
      fmt::format("pool-of-threads: thread_pool_max_threads ({}) reached: group {} cannot get "
                  "another thread ({} queued request(s), {} thread(s) in the pool{}). Raise "
                  "thread_pool_max_threads, or kill the connection holding the others up.",
                  settings_.max_threads.load(), g.index, g.queue_length(), total_threads_.load(),
                  blocked_unlogged_
                      ? fmt::format("; {} more refusal(s) since the last report", blocked_unlogged_)
                      : std::string()));
  blocked_logged_ms_ = now;
  blocked_unlogged_ = 0;
}

// ---------------------------------------------------------------------------------
// Options

// The timer re-reads its tick lengths at once (a shorter limit must not wait out a
// sleep chosen for the old one).
void Pool::wake_timer() {
  {
    std::lock_guard lock(timer_mutex_);
    timer_reschedule_ = true;
  }
  timer_wake_.notify_all();
}

// Stored by the option table; thread_pool_size also regroups, and the limits the timer
// ticks by re-time it.
std::string Pool::set_option(const char* name, const char* value) {
  if (std::string why = kOptionTable.store(settings_, name, value); !why.empty()) return why;
  const std::string_view option = name;
  if (option == "thread_pool_size") {
    try {
      resize(static_cast<std::size_t>(settings_.size.load()));
    } catch (const std::system_error& e) {
      return fmt::format("cannot make the thread groups: {}", e.what());
    }
  } else if (option == "thread_pool_stall_limit" || option == "thread_pool_queue_age_limit" ||
             option == "thread_pool_unreported_wait_limit") {
    wake_timer();
  }
  return {};
}

}  // namespace connsched::pool_of_threads
