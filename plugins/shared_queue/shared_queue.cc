// File: plugins/shared_queue/shared_queue.cc
//
// shared-queue: the naive thread pool ("half-sync/half-reactor"). One reactor thread
// waits on every idle connection with epoll (one-shot); a readable connection goes on
// ONE shared queue; a fixed number of worker threads sleep on that queue, and each takes
// one connection, runs do_command, and re-arms it.
//
// It leaves wait_begin/wait_end out on purpose: when handler code blocks (a `sleep`, a
// lock), its worker is simply gone until the wait ends, so N blocked requests stop the
// whole server. It is the baseline that shows why pool-of-threads has groups (one queue
// and one lock for everything), a listener (a reactor thread that never serves) and wait
// hooks (to add a thread when one blocks). Core closes idle connections (wait_timeout).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "connsched/backend.h"
#include "work_queue.h"

namespace connsched::shared_queue {
namespace {

using backend::report_counter;

constexpr int kMaxEvents = 64;

struct Settings {
  std::atomic<std::int64_t> workers{0};  // 0 until init: one per core
};

constexpr backend::OptionTable<Settings, 1> kOptionTable{{{
    {"shared_queue_workers",
     "Worker threads sleeping on the shared queue (default: the number of cores); a "
     "request that blocks holds its worker for the whole wait",
     CONNSCHED_OPTION_INT, nullptr, 1, 4096, nullptr, false, &Settings::workers},
}}};
constexpr auto kOptions = kOptionTable.descriptors();

class SharedQueue {
 public:
  // Reads --shared-queue-workers (unset: one per core), then starts the reactor and the
  // fixed set of workers; the pool never grows or shrinks.
  explicit SharedQueue(const connsched_services* svc) : svc_(svc) {
    if (!epoll_ || !wake_)
      throw std::runtime_error(std::string("epoll/eventfd: ") + std::strerror(errno));
    kOptionTable.load(svc, settings_);
    if (settings_.workers.load() == 0) {
      settings_.workers.store(std::max(1u, std::thread::hardware_concurrency()));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake eventfd
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0) {
      throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }
    reactor_ = std::jthread([this](std::stop_token stop) { run_reactor(stop); });
    for (std::int64_t i = 0; i < settings_.workers.load(); ++i) {
      workers_.emplace_back([this](std::stop_token stop) { run_worker(stop); });
    }
  }

  // end: every connection has ended. The jthreads stop and join the reactor (woken
  // through its eventfd) and the workers (woken by their stop tokens).

  // Acceptor thread: the connection is armed in epoll and is the reactor's from now on.
  bool add_connection(connsched_conn* conn) {
    connections_.fetch_add(1);
    {
      std::lock_guard lock(state_mutex_);
      live_.insert(conn);
      if (arm(conn, EPOLL_CTL_ADD)) return true;
      live_.erase(conn);
    }
    connections_.fetch_sub(1);
    return false;  // core logs and closes it
  }

  // Under core's registry lock: nothing to do but count. Core shut the socket down, so an
  // armed connection becomes readable for the reactor, and a worker serving it now sees
  // the kill inside do_command.
  void post_kill_notification(connsched_conn*) { kills_.fetch_add(1); }

  // Switchable (ABI 1.2). Under core's registry lock: the connection is marked, and an
  // armed (idle) one is queued at once, as the reactor would queue it, so a worker's
  // do_command hands it back (CONNSCHED_NEXT_RELEASE) whatever its socket does: an idle
  // client may send nothing for hours. Its armed poll may still fire; the reactor then
  // finds it busy and drops the event. One being queued or served is left alone: its
  // worker sees the mark when the request ends.
  void release_connection(connsched_conn* conn) {
    std::lock_guard lock(state_mutex_);
    wanted_.insert(conn);
    if (live_.count(conn) != 0 && busy_set_.insert(conn).second) queue_.push(conn);
  }

  // The numbers that show the model's limits: `busy` equal to `workers` with a growing
  // queue is a pool whose workers are all blocked.
  void stats(const connsched_stats_sink& sink) {
    report_counter(sink, "workers", settings_.workers.load(), "Worker threads (fixed)");
    report_counter(sink, "busy", busy_.load(), "Workers inside do_command now");
    report_counter(sink, "queue_length", static_cast<std::int64_t>(queue_.size()),
                   "Readable connections waiting for a worker");
    report_counter(sink, "dequeues_total", static_cast<std::int64_t>(queue_.dequeues()),
                   "Times a worker took a connection from the queue");
    report_counter(sink, "connections", connections_.load(), "Connections owned by the pool");
    report_counter(sink, "kills_total", kills_.load(), "Kill notifications received");
  }

 private:
  // Arms the connection for exactly one readiness event (EPOLLONESHOT), so the reactor
  // queues it once and no second worker can get it while the first one serves it.
  bool arm(connsched_conn* conn, int op) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = conn;
    return ::epoll_ctl(epoll_.get(), op, svc_->conn_fd(conn), &ev) == 0;
  }

  // The reactor only moves readable connections to the queue: it never serves one.
  void run_reactor(std::stop_token stop) {
    std::stop_callback wake_on_stop(stop, [this] {
      std::uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
    });
    epoll_event events[kMaxEvents];
    while (!stop.stop_requested()) {
      int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, -1);
      for (int i = 0; i < n; ++i) {
        auto* conn = static_cast<connsched_conn*>(events[i].data.ptr);
        if (conn == nullptr) continue;
        {
          // A second event for a connection already queued or served (the re-arm of a
          // release raced with a readable event) is dropped: one worker at a time.
          std::lock_guard lock(state_mutex_);
          // One collected just before its connection left the pool is dropped too.
          if (live_.count(conn) == 0 || !busy_set_.insert(conn).second) continue;
        }
        queue_.push(conn);
      }
    }
  }

  // A worker serves one connection at a time, then puts it back in the reactor's hands.
  void run_worker(std::stop_token stop) {
    while (auto item = queue_.pop(stop)) {
      connsched_conn* conn = *item;
      busy_.fetch_add(1);
      int next = svc_->do_command(conn);
      busy_.fetch_sub(1);
      {
        std::lock_guard lock(state_mutex_);
        // Asked back while do_command ran, after it had looked: served once more at once,
        // and that do_command hands it back.
        if (next == CONNSCHED_NEXT_WAIT_INPUT && wanted_.count(conn) != 0) {
          queue_.push(conn);
          continue;
        }
        busy_set_.erase(conn);
        if (next == CONNSCHED_NEXT_WAIT_INPUT && arm(conn, EPOLL_CTL_MOD)) continue;
        wanted_.erase(conn);
        live_.erase(conn);
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, svc_->conn_fd(conn), nullptr);
      }
      if (next == CONNSCHED_NEXT_RELEASE) {
        svc_->return_connection(conn);
      } else {
        svc_->end_connection(conn);
      }
      connections_.fetch_sub(1);
    }
  }

  const connsched_services* svc_;
  Settings settings_;
  UniqueFd epoll_{::epoll_create1(EPOLL_CLOEXEC)};
  UniqueFd wake_{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  WorkQueue<connsched_conn*> queue_;
  // Which connections are queued or being served (busy_set_), and which core asked back
  // (wanted_): under state_mutex_, taken under core's registry lock, never the reverse.
  std::mutex state_mutex_;
  std::unordered_set<connsched_conn*> busy_set_;
  std::unordered_set<connsched_conn*> wanted_;
  std::unordered_set<connsched_conn*> live_;  // every connection the pool holds
  std::atomic<std::int64_t> connections_{0}, busy_{0}, kills_{0};
  std::jthread reactor_;               // after everything it uses: joined first
  std::vector<std::jthread> workers_;  // joined before the reactor
};

constexpr connsched_scheduler kSharedQueue = backend::scheduler_descriptor<SharedQueue>(
    "shared-queue", "one epoll reactor feeds a fixed pool of workers through one shared queue",
    kOptions.data());

}  // namespace
}  // namespace connsched::shared_queue

CONNSCHED_DEFINE_SCHEDULER(connsched::shared_queue::kSharedQueue)
