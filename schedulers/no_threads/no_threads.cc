// File: schedulers/no_threads/no_threads.cc
//
// no-threads: MySQL's debugging mode. The acceptor thread itself serves each
// connection to its end before it accepts the next, so there is exactly one serving
// thread and no scheduling at all: a baseline, and a way to take concurrency out of
// the picture when debugging a protocol.
#include <atomic>
#include <cstdint>

#include "connsched/backend.h"

namespace connsched::no_threads {
namespace {

class NoThreads {
 public:
  // There is nothing to start: the acceptor thread is the only worker.
  explicit NoThreads(const connsched_services* svc) : svc_(svc) {}

  // Serve on the calling (acceptor) thread until the connection ends: that blocking
  // is this backend's whole point, so add_connection returns only afterwards.
  // A switch of thread_handling (CONNSCHED_NEXT_RELEASE) hands the connection back to
  // core instead, and the acceptor thread goes back to accepting.
  bool add_connection(connsched_conn* conn) {
    serving_.store(1);
    int next = CONNSCHED_NEXT_CLOSE;
    while ((next = svc_->wait_for_input(conn)) == CONNSCHED_NEXT_READY) {
      next = svc_->do_command(conn);
      if (next != CONNSCHED_NEXT_WAIT_INPUT) break;
    }
    // Counted first: once the connection is returned, core may end this backend (a
    // switch) while the calling thread, which end does not join, is still here.
    serving_.store(0);
    if (next == CONNSCHED_NEXT_RELEASE) {
      svc_->return_connection(conn);
    } else {
      served_.fetch_add(1);
      svc_->end_connection(conn);
    }
    return true;
  }

  // Switchable (ABI 1.2): the one connection waits in core's wait_for_input, which a
  // switch wakes by itself, so there is nothing to do here.
  void release_connection(connsched_conn*) {}

  void stats(const connsched_stats_sink& sink) {
    backend::report_counter(sink, "connections_served_total", served_.load(),
                            "Connections served to their end");
    backend::report_counter(sink, "threads_connected", serving_.load(),
                            "Connections being served (0 or 1: the acceptor thread serves them)");
  }

 private:
  const connsched_services* svc_;
  std::atomic<std::int64_t> served_{0};
  std::atomic<std::int64_t> serving_{0};
};

constexpr connsched_scheduler kNoThreads = [] {
  auto d = backend::scheduler_descriptor<NoThreads>(
      "no-threads", "the acceptor thread serves each connection to its end (MySQL's debug mode)",
      nullptr, /*max_threads=*/1);
  d.flags = CONNSCHED_SCHEDULER_THREAD_PER_CONNECTION;  // one connection at a time
  return d;
}();

}  // namespace
}  // namespace connsched::no_threads

CONNSCHED_DEFINE_SCHEDULER(connsched::no_threads::kNoThreads)
