// File: plugins/shared_queue/shared_queue.cc
//
// shared-queue: the naive thread pool of seed 000 ("half-sync/half-reactor"). One
// reactor thread waits on every idle connection with epoll (one-shot); a readable
// connection goes on ONE shared queue; a fixed number of worker threads sleep on that
// queue, and each takes one connection, runs do_command, and re-arms it.
//
// It leaves wait_begin/wait_end NULL on purpose: when handler code blocks (a `sleep`,
// a lock), its worker is simply gone until the wait ends, so N blocked requests stop
// the whole server. It is the baseline that shows why pool-of-threads has groups (one
// queue and one lock for everything), a listener (a reactor thread that never serves)
// and wait hooks (to add a thread when one blocks).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "connsched/scheduler_abi.h"
#include "work_queue.h"

namespace {

using connsched_plugins::WorkQueue;

constexpr int kTimeoutScanMs = 250;  // how often idle connections are checked for wait_timeout
constexpr int kMaxEvents = 64;

// Owns a file descriptor: closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct SharedQueue {
  const connsched_services* svc = nullptr;
  std::size_t worker_count = 1;
  Fd epoll{::epoll_create1(EPOLL_CLOEXEC)};
  Fd wake{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  // Connections armed in epoll, by id: what the wait_timeout scan looks at. A
  // connection is either here (waiting for input), on the queue, or with one worker.
  std::mutex idle_mutex;
  std::unordered_map<std::uint64_t, connsched_conn*> idle;
  WorkQueue<connsched_conn*> queue;
  std::atomic<std::int64_t> connections{0}, busy{0}, timeouts{0}, kills{0};
  std::atomic<bool> stopping{false};
  std::vector<std::jthread> workers;  // after everything they use: joined first
  std::jthread reactor;
};

// Arms the connection for exactly one readiness event (EPOLLONESHOT), so the reactor
// queues it once and no second worker can get it while the first one serves it.
bool arm(SharedQueue& self, connsched_conn* conn, int op) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.ptr = conn;
  return ::epoll_ctl(self.epoll.get(), op, self.svc->conn_fd(conn), &ev) == 0;
}

// The idle connections past their wait_timeout are killed by id, outside our lock (the
// kill takes core's registry lock); the shut-down socket then wakes the reactor.
void kill_idle_expired(SharedQueue& self) {
  const connsched_services* svc = self.svc;
  std::int64_t now = svc->now_ms();
  std::vector<std::uint64_t> expired;
  {
    std::lock_guard lock(self.idle_mutex);
    for (const auto& [id, conn] : self.idle) {
      if (svc->conn_idle_deadline_ms(conn) <= now) expired.push_back(id);
    }
  }
  for (std::uint64_t id : expired) {
    if (svc->kill_connection(svc, id, CONNSCHED_KILL_TIMEOUT)) self.timeouts.fetch_add(1);
  }
}

// The reactor only moves readable connections to the queue: it never serves one.
void run_reactor(SharedQueue& self) {
  epoll_event events[kMaxEvents];
  std::int64_t next_scan = self.svc->now_ms() + kTimeoutScanMs;
  while (!self.stopping.load()) {
    int n = ::epoll_wait(self.epoll.get(), events, kMaxEvents, kTimeoutScanMs);
    for (int i = 0; i < n; ++i) {
      auto* conn = static_cast<connsched_conn*>(events[i].data.ptr);
      if (conn == nullptr) continue;  // the wake eventfd: `stopping` is checked above
      {
        std::lock_guard lock(self.idle_mutex);
        self.idle.erase(self.svc->conn_id(conn));
      }
      self.queue.push(conn);
    }
    if (std::int64_t now = self.svc->now_ms(); now >= next_scan) {
      next_scan = now + kTimeoutScanMs;
      kill_idle_expired(self);
    }
  }
}

// A worker serves one connection at a time, then puts it back in the reactor's hands.
void run_worker(SharedQueue& self, std::stop_token stop) {
  const connsched_services* svc = self.svc;
  while (auto item = self.queue.pop(stop)) {
    connsched_conn* conn = *item;
    self.busy.fetch_add(1);
    int next = svc->do_command(conn);
    self.busy.fetch_sub(1);
    if (next == CONNSCHED_NEXT_CLOSE) {
      ::epoll_ctl(self.epoll.get(), EPOLL_CTL_DEL, svc->conn_fd(conn), nullptr);
      svc->end_connection(conn);
      self.connections.fetch_sub(1);
      continue;
    }
    {
      std::lock_guard lock(self.idle_mutex);
      self.idle.emplace(svc->conn_id(conn), conn);
    }
    if (!arm(self, conn, EPOLL_CTL_MOD)) {
      {
        std::lock_guard lock(self.idle_mutex);
        self.idle.erase(svc->conn_id(conn));
      }
      svc->end_connection(conn);
      self.connections.fetch_sub(1);
    }
  }
}

// Reads --shared-queue-workers (unset: one per core), then starts the reactor and the
// fixed set of workers; the pool never grows or shrinks.
int shared_queue_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  auto self = std::make_unique<SharedQueue>();
  self->svc = svc;
  if (self->epoll.get() < 0 || self->wake.get() < 0) {
    std::snprintf(err, errlen, "epoll/eventfd: %s", std::strerror(errno));
    return 1;
  }
  const char* workers = svc->get_option(svc, "shared_queue_workers");
  unsigned cores = std::thread::hardware_concurrency();
  self->worker_count =
      workers ? static_cast<std::size_t>(std::atoll(workers)) : (cores ? cores : 1);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  if (::epoll_ctl(self->epoll.get(), EPOLL_CTL_ADD, self->wake.get(), &ev) != 0) {
    std::snprintf(err, errlen, "epoll_ctl: %s", std::strerror(errno));
    return 1;
  }
  SharedQueue* raw = self.get();
  try {
    self->reactor = std::jthread([raw] { run_reactor(*raw); });
    for (std::size_t i = 0; i < self->worker_count; ++i) {
      self->workers.emplace_back([raw](std::stop_token stop) { run_worker(*raw, stop); });
    }
  } catch (const std::exception& e) {  // never let an exception cross the C ABI
    std::snprintf(err, errlen, "cannot start threads: %s", e.what());
    self->stopping.store(true);
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(self->wake.get(), &one, sizeof one);
    return 1;
  }
  *backend = self.release();
  return 0;
}

// Acceptor thread: the connection is armed in epoll and is the reactor's from now on.
int shared_queue_add_connection(void* backend, connsched_conn* conn) {
  auto& self = *static_cast<SharedQueue*>(backend);
  try {
    std::lock_guard lock(self.idle_mutex);
    self.idle.emplace(self.svc->conn_id(conn), conn);
  } catch (const std::exception&) {
    return 1;  // out of memory: core logs and closes it
  }
  self.connections.fetch_add(1);
  if (!arm(self, conn, EPOLL_CTL_ADD)) {
    std::lock_guard lock(self.idle_mutex);
    self.idle.erase(self.svc->conn_id(conn));
    self.connections.fetch_sub(1);
    return 1;  // core logs and closes it
  }
  return 0;
}

// Under core's registry lock: nothing to do but count. Core shut the socket down, so an
// armed connection becomes readable for the reactor, and a worker serving it now sees
// the kill inside do_command.
void shared_queue_post_kill_notification(void* backend, connsched_conn*) {
  static_cast<SharedQueue*>(backend)->kills.fetch_add(1);
}

// Every connection has ended when core calls end: stop the reactor (woken through its
// eventfd) and the workers (woken by their stop tokens), join them, free the state.
void shared_queue_end(void* backend) {
  std::unique_ptr<SharedQueue> self(static_cast<SharedQueue*>(backend));
  self->stopping.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(self->wake.get(), &one, sizeof one);
  self->reactor = std::jthread();
  self->workers.clear();  // each jthread requests stop and joins
}

// The numbers that show the model's limits: `busy` equal to `workers` with a growing
// queue is a pool whose workers are all blocked.
void shared_queue_stats(void* backend, const connsched_stats_sink* sink) {
  auto& self = *static_cast<SharedQueue*>(backend);
  auto counter = [&](const char* name, std::int64_t value, const char* help) {
    sink->counter(sink->ctx, name, value, help);
  };
  counter("workers", static_cast<std::int64_t>(self.worker_count), "Worker threads (fixed)");
  counter("busy", self.busy.load(), "Workers inside do_command now");
  counter("queue_length", static_cast<std::int64_t>(self.queue.size()),
          "Readable connections waiting for a worker");
  counter("dequeues", static_cast<std::int64_t>(self.queue.dequeues()),
          "Times a worker took a connection from the queue");
  counter("connections", self.connections.load(), "Connections owned by the pool");
  counter("idle_timeouts", self.timeouts.load(), "Idle connections killed after wait_timeout");
  counter("kills", self.kills.load(), "Kill notifications received");
}

constexpr connsched_option_desc kOptions[] = {
    {"shared_queue_workers",
     "Worker threads sleeping on the shared queue (default: the number of cores); a "
     "request that blocks holds its worker for the whole wait",
     CONNSCHED_OPTION_INT, nullptr, 1, 4096, nullptr, 0},
    {nullptr, nullptr, 0, nullptr, 0, 0, nullptr, 0},
};

constexpr connsched_scheduler kSharedQueue = [] {
  auto d = connsched_scheduler_header(
      "shared-queue", "one epoll reactor feeds a fixed pool of workers through one shared queue");
  d.max_threads = 0;  // fixed by --shared-queue-workers, not known at load
  d.options = kOptions;
  d.init = shared_queue_init;
  d.add_connection = shared_queue_add_connection;
  d.post_kill_notification = shared_queue_post_kill_notification;
  d.end = shared_queue_end;
  d.stats = shared_queue_stats;
  return d;
}();

}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kSharedQueue)
