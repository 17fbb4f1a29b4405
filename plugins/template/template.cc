// File: plugins/template/template.cc
//
// template: the smallest complete connsched backend, to copy when writing your own.
// Policy: ONE event-loop thread serves every connection. It polls all sockets, and
// runs services->do_command on each readable one in turn. Correct and simple, and
// every member of the ABI is here, saying who calls it and when (scheduler_abi.h has
// the full contract). Its cost is the one you would then fix: a request that blocks
// (a `sleep`, a disk read) stalls every other connection, which `waits` in the stats
// makes visible.
//
// Build it out of tree against an installed connsched (see CMakeLists.txt here) and
// run it with: echo_server --thread-handling=/path/to/template.so
//
// Only the C ABI header and the standard library are used: a backend never links
// against connsched's core.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "connsched/scheduler_abi.h"

namespace {

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

struct Template {
  const connsched_services* svc = nullptr;
  std::atomic<std::int64_t> idle_check_ms{1000};
  Fd wake{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::mutex inbox_mutex;
  std::vector<connsched_conn*> inbox;  // added by the acceptor, taken by the loop
  std::atomic<std::int64_t> connections{0}, served{0}, commands{0}, waits{0}, blocked{0}, kills{0},
      serving_threads{0};
  std::jthread loop;  // last: stopped and joined before the members above go away
};

// Wakes the loop's poll (the eventfd is always readable after a write).
void wake_loop(Template& self) {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(self.wake.get(), &one, sizeof one);
}

// The loop owns every connection it has taken: only this thread touches them, so a
// connection is never served by two threads at once (the ABI's one hard rule).
void run_loop(Template& self, std::stop_token stop) {
  const connsched_services* svc = self.svc;
  std::vector<connsched_conn*> conns;
  std::vector<pollfd> fds;
  std::int64_t next_idle_check = svc->now_ms();
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(self.inbox_mutex);
      conns.insert(conns.end(), self.inbox.begin(), self.inbox.end());
      self.inbox.clear();
    }
    fds.assign(1, pollfd{self.wake.get(), POLLIN, 0});
    for (connsched_conn* c : conns) fds.push_back(pollfd{svc->conn_fd(c), POLLIN | POLLRDHUP, 0});
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(self.idle_check_ms.load()));
    if (ready < 0) continue;  // EINTR
    if (fds[0].revents & POLLIN) {
      std::uint64_t drained = 0;
      [[maybe_unused]] ssize_t n = ::read(self.wake.get(), &drained, sizeof drained);
    }
    // Serve every readable connection once, then poll again (round robin by position).
    std::vector<connsched_conn*> open;
    for (std::size_t i = 0; i < conns.size(); ++i) {
      connsched_conn* c = conns[i];
      if (fds[i + 1].revents == 0) {
        open.push_back(c);
        continue;
      }
      self.commands.fetch_add(1);
      if (svc->do_command(c) == CONNSCHED_NEXT_CLOSE) {
        svc->end_connection(c);
        self.connections.fetch_sub(1);
        self.served.fetch_add(1);
      } else {
        open.push_back(c);
      }
    }
    conns.swap(open);
    // wait_timeout: core only tells us the deadline; killing by id shuts the socket
    // down, so the next poll sees it readable and do_command answers CLOSE.
    if (std::int64_t now = svc->now_ms(); now >= next_idle_check) {
      next_idle_check = now + self.idle_check_ms.load();
      for (connsched_conn* c : conns) {
        if (svc->conn_idle_deadline_ms(c) <= now) {
          svc->kill_connection(svc, svc->conn_id(c), CONNSCHED_KILL_TIMEOUT);
        }
      }
    }
  }
  // Core calls `end` only after every connection ended, so nothing is left here.
  for (connsched_conn* c : conns) svc->end_connection(c);
}

// init: core's main thread, once, before any other member and before the first
// connection. Reads and checks options, starts the loop thread, hands back the state.
int template_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  auto self = std::make_unique<Template>();
  self->svc = svc;
  if (self->wake.get() < 0) {
    std::snprintf(err, errlen, "eventfd: %s", std::strerror(errno));
    return 1;
  }
  const char* check = svc->get_option(svc, "template_idle_check_ms");  // core checked the range
  if (check != nullptr) self->idle_check_ms.store(std::atoll(check));
  Template* raw = self.get();
  try {
    self->loop = std::jthread([raw](std::stop_token stop) { run_loop(*raw, stop); });
  } catch (const std::system_error& e) {  // never let an exception cross the C ABI
    std::snprintf(err, errlen, "cannot start the loop thread: %s", e.what());
    return 1;
  }
  *backend = self.release();  // given back to us, and re-owned, in template_end
  return 0;
}

// init_new_connection_thread: core, on a thread the first time it serves a
// connection (here: the loop thread, once). A place for per-thread set-up.
int template_init_new_connection_thread(void* backend) {
  static_cast<Template*>(backend)->serving_threads.fetch_add(1);
  return 0;
}

// add_connection: core's acceptor thread, no lock held. Must return quickly, so the
// connection is only queued for the loop. From now on we own it: the loop will call
// end_connection for it.
int template_add_connection(void* backend, connsched_conn* conn) {
  auto& self = *static_cast<Template*>(backend);
  try {
    std::lock_guard lock(self.inbox_mutex);
    self.inbox.push_back(conn);
  } catch (const std::bad_alloc&) {
    return 1;  // refused: core logs it and closes the connection
  }
  self.connections.fetch_add(1);
  wake_loop(self);
  return 0;
}

// wait_begin: the loop thread, inside do_command, when handler code is about to block.
// A pool would wake another thread here; with one thread the whole server now waits,
// so we only count it. Must not block.
void template_wait_begin(void* backend, connsched_conn*, int) {
  auto& self = *static_cast<Template*>(backend);
  self.waits.fetch_add(1);
  self.blocked.fetch_add(1);
}

// wait_end: the same thread, when that wait is over.
void template_wait_end(void* backend, connsched_conn*) {
  static_cast<Template*>(backend)->blocked.fetch_sub(1);
}

// post_kill_notification: the killing thread, WITH core's registry lock held: must
// not block nor call end_connection/kill_connection. Core already shut the socket
// down, which makes our poll return for it; the wake only saves waiting for the poll.
void template_post_kill_notification(void* backend, connsched_conn*) {
  auto& self = *static_cast<Template*>(backend);
  self.kills.fetch_add(1);
  wake_loop(self);
}

// end_thread: core, inside end_connection, on the thread that ended the connection,
// after the socket closed. `cache_thread` is 0 during shutdown. Nothing to do here:
// our one thread lives until `end`.
void template_end_thread(void*, int) {}

// end: core's main thread, once, after the acceptor stopped and every connection
// ended. Stops and joins the loop (the jthread member does it) and frees the state.
void template_end(void* backend) {
  std::unique_ptr<Template> self(static_cast<Template*>(backend));
  self->loop.request_stop();
  wake_loop(*self);  // the loop may sit in poll for idle_check_ms otherwise
}

// set_option: the admin thread, for options declared `dynamic`; core has already
// checked the value against the declaration below.
int template_set_option(void* backend, const char* name, const char* value, char* err,
                        size_t errlen) {
  auto& self = *static_cast<Template*>(backend);
  if (std::strcmp(name, "template_idle_check_ms") == 0) {
    self.idle_check_ms.store(std::atoll(value));
    wake_loop(self);
    return 0;
  }
  std::snprintf(err, errlen, "unknown option '%s'", name);
  return 1;
}

// stats: the admin (or any) thread, no core lock held; core copies what it is given.
void template_stats(void* backend, const connsched_stats_sink* sink) {
  auto& self = *static_cast<Template*>(backend);
  sink->counter(sink->ctx, "connections", self.connections.load(), "Connections being served");
  sink->counter(sink->ctx, "connections_served", self.served.load(),
                "Connections served to their end");
  sink->counter(sink->ctx, "commands", self.commands.load(), "do_command calls");
  sink->counter(sink->ctx, "waits", self.waits.load(),
                "Blocking waits reported by handlers (each one stalled the whole server)");
  sink->counter(sink->ctx, "kills", self.kills.load(), "Kill notifications received");
  sink->counter(sink->ctx, "threads", self.serving_threads.load(),
                "Threads that served connections");
}

// reload: core's signal thread on SIGHUP. There is nothing to renew in this backend;
// saying so is better than silence.
void template_reload(void* backend) {
  const connsched_services* svc = static_cast<Template*>(backend)->svc;
  svc->log(svc, CONNSCHED_LOG_INFO, "template: SIGHUP: nothing to reload");
}

// The options the backend takes, as --name=value flags (dashes or underscores); core
// validates them before init and lists them under --help.
constexpr connsched_option_desc kOptions[] = {
    {"template_idle_check_ms", "Milliseconds between checks for connections idle past wait_timeout",
     CONNSCHED_OPTION_INT, "1000", 10, 60000, nullptr, 1},
    {nullptr, nullptr, 0, nullptr, 0, 0, nullptr, 0},
};

constexpr connsched_scheduler kTemplate = [] {
  connsched_scheduler d{};
  d.magic = CONNSCHED_ABI_MAGIC;
  d.abi_major = CONNSCHED_ABI_MAJOR;
  d.abi_minor = CONNSCHED_ABI_MINOR;
  d.struct_size = sizeof(connsched_scheduler);
  d.name = "template";
  d.description = "one event-loop thread serves every connection (a backend to copy)";
  d.max_threads = 1;
  d.options = kOptions;
  d.init = template_init;
  d.init_new_connection_thread = template_init_new_connection_thread;
  d.add_connection = template_add_connection;
  d.wait_begin = template_wait_begin;
  d.wait_end = template_wait_end;
  d.post_kill_notification = template_post_kill_notification;
  d.end_thread = template_end_thread;
  d.end = template_end;
  d.set_option = template_set_option;
  d.stats = template_stats;
  d.reload = template_reload;
  return d;
}();

}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kTemplate)
