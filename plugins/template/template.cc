// File: plugins/template/template.cc
//
// template: the smallest complete connsched backend, to copy when writing your own.
// Policy: ONE event-loop thread serves every connection: it polls all sockets and runs
// services->do_command on each readable one in turn. Correct and simple; its cost is
// the one you would then fix: a request that blocks (a sleep, a disk read) stalls every
// other connection, which `waits` in the stats makes visible.
//
// connsched/backend.h does the plumbing (option table, C descriptor, exception-safe entry
// points); core owns every fd and closes idle connections. docs/writing-a-scheduler.md
// walks through this file. Run: echo_server --thread-handling=/path/to/template.so
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "connsched/backend.h"

namespace {

using connsched::backend::report_counter;

struct Settings {
  std::atomic<std::int64_t> batch{64};
};

// Each option once: core checks values and lists it in --help; set_option stores it.
constexpr connsched::backend::OptionTable<Settings, 1> kOptionTable{{{
    {"template_batch", "Most readable connections served per poll before polling again",
     CONNSCHED_OPTION_INT, "64", 1, 100000, nullptr, true, &Settings::batch},
}}};
constexpr auto kOptions = kOptionTable.descriptors();

class Template {
 public:
  // init: core's main thread, once. Throwing refuses to start, with the message.
  explicit Template(const connsched_services* svc) : svc_(svc) {
    if (!wake_) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    kOptionTable.load(svc, settings_);
    loop_ = std::jthread([this](std::stop_token stop) { run(stop); });
  }

  ~Template() {  // end: core's main thread, after every connection ended
    loop_.request_stop();
    wake();
  }

  // add_connection: the acceptor thread; must return quickly, so only queue it.
  bool add_connection(connsched_conn* conn) {
    {
      std::lock_guard lock(inbox_mutex_);
      inbox_.push_back(conn);
    }
    connections_.fetch_add(1);
    wake();
    return true;
  }

  // wait_begin/wait_end: the loop thread, inside do_command. With one thread the whole
  // server waits now; a pool would run another thread here.
  void wait_begin(connsched_conn*, int) { waits_.fetch_add(1); }
  void wait_end(connsched_conn*) {}

  // post_kill_notification: the killing thread, under core's registry lock: must not
  // block. Core shut the socket down, so poll sees it; waking only saves a poll round.
  void post_kill_notification(connsched_conn*) {
    kills_.fetch_add(1);
    wake();
  }

  // release_connection (ABI 1.2): what makes a backend switchable. The killing-thread
  // rules apply (core's registry lock is held): only note it and wake the loop, which
  // then calls do_command on every connection, readable or not; do_command answers
  // CONNSCHED_NEXT_RELEASE for those core asked back, at their request boundary.
  void release_connection(connsched_conn*) {
    release_round_.store(true);
    wake();
  }

  std::string set_option(const char* name, const char* value) {
    return kOptionTable.store(settings_, name, value);
  }

  void stats(const connsched_stats_sink& sink) {
    report_counter(sink, "connections", connections_.load(), "Connections being served");
    report_counter(sink, "commands_total", commands_.load(), "do_command calls");
    report_counter(sink, "waits_total", waits_.load(), "Blocking waits (each stalled the server)");
    report_counter(sink, "kills_total", kills_.load(), "Kill notifications received");
  }

 private:
  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }

  // The loop owns every connection it has taken: only this thread touches them, so a
  // connection is never served by two threads at once (the ABI's one hard rule).
  void run(std::stop_token stop) {
    std::vector<connsched_conn*> conns, open;
    std::vector<pollfd> fds;
    while (!stop.stop_requested()) {
      {
        std::lock_guard lock(inbox_mutex_);
        conns.insert(conns.end(), inbox_.begin(), inbox_.end());
        inbox_.clear();
      }
      fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
      for (connsched_conn* c : conns) fds.push_back({svc_->conn_fd(c), POLLIN | POLLRDHUP, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
      if (fds[0].revents & POLLIN) {
        std::uint64_t drained = 0;
        [[maybe_unused]] ssize_t n = ::read(wake_.get(), &drained, sizeof drained);
      }
      open.clear();
      std::int64_t budget = settings_.batch.load(std::memory_order_relaxed);
      const bool release_round = release_round_.exchange(false);
      for (std::size_t i = 0; i < conns.size(); ++i) {
        connsched_conn* c = conns[i];
        if (!release_round && (fds[i + 1].revents == 0 || budget-- <= 0)) {
          open.push_back(c);  // not ready, or served after the next poll
          continue;
        }
        commands_.fetch_add(1);
        const int next = svc_->do_command(c);
        if (next == CONNSCHED_NEXT_RELEASE) {
          svc_->return_connection(c);  // a switch: the next backend has it now
          connections_.fetch_sub(1);
        } else if (next == CONNSCHED_NEXT_CLOSE) {
          svc_->end_connection(c);
          connections_.fetch_sub(1);
        } else {
          open.push_back(c);
        }
      }
      conns.swap(open);
    }
  }

  const connsched_services* svc_;
  Settings settings_;
  connsched::UniqueFd wake_{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::atomic<bool> release_round_{false};  // core asked for connections back
  std::mutex inbox_mutex_;
  std::vector<connsched_conn*> inbox_;  // added by the acceptor, taken by the loop
  std::atomic<std::int64_t> connections_{0}, commands_{0}, waits_{0}, kills_{0};
  std::jthread loop_;  // last: stopped and joined before the members above go away
};

constexpr connsched_scheduler kTemplate = connsched::backend::scheduler_descriptor<Template>(
    "template", "one event-loop thread serves every connection (a backend to copy)",
    kOptions.data(), /*max_threads=*/1);

}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kTemplate)
