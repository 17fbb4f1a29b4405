// File: schedulers/no_threads/no_threads.cc
//
// no-threads: MySQL's debugging mode. The acceptor thread itself serves each
// connection to its end before it accepts the next, so there is exactly one serving
// thread and no scheduling at all: a baseline, and a way to take concurrency out of
// the picture when debugging a protocol.
#include <atomic>
#include <cstdio>
#include <memory>

#include "connsched/scheduler_abi.h"

namespace {

struct NoThreads {
  const connsched_services* svc = nullptr;
  std::atomic<std::int64_t> served{0};
  std::atomic<std::int64_t> serving{0};
};

// There is nothing to start: the acceptor thread is the only worker.
int no_threads_init(const connsched_services* svc, void** backend, char*, size_t) {
  auto state = std::make_unique<NoThreads>();
  state->svc = svc;
  *backend = state.release();
  return 0;
}

// Serve on the calling (acceptor) thread until the connection ends: that blocking
// is this backend's whole point, so add_connection returns only afterwards.
int no_threads_add_connection(void* backend, connsched_conn* conn) {
  auto& self = *static_cast<NoThreads*>(backend);
  const connsched_services* svc = self.svc;
  self.serving.store(1);
  while (svc->wait_for_input(conn) == CONNSCHED_NEXT_READY) {
    if (svc->do_command(conn) == CONNSCHED_NEXT_CLOSE) break;
  }
  svc->end_connection(conn);
  self.serving.store(0);
  self.served.fetch_add(1);
  return 0;
}

// Nothing outlives a connection, so ending is just freeing the state.
void no_threads_end(void* backend) {
  std::unique_ptr<NoThreads> owned(static_cast<NoThreads*>(backend));
}

void no_threads_stats(void* backend, const connsched_stats_sink* sink) {
  auto& self = *static_cast<NoThreads*>(backend);
  sink->counter(sink->ctx, "connections_served", self.served.load(),
                "Connections served to their end");
  sink->counter(sink->ctx, "threads_connected", self.serving.load(),
                "Connections being served (0 or 1: the acceptor thread serves them)");
}

constexpr connsched_scheduler kNoThreads = [] {
  auto d = connsched_scheduler_header(
      "no-threads", "the acceptor thread serves each connection to its end (MySQL's debug mode)");
  d.max_threads = 1;
  d.init = no_threads_init;
  d.add_connection = no_threads_add_connection;
  d.end = no_threads_end;
  d.stats = no_threads_stats;
  return d;
}();

}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kNoThreads)
