// File: schedulers/one_thread_per_connection/one_thread_per_connection.cc
//
// one-thread-per-connection: MySQL's default. Each connection gets a thread of its own
// for its whole life, blocking in poll between requests; a finished connection's
// thread parks in the thread cache and takes the next connection (thread_cache_size,
// most recently parked first). Simple, fair, and costly in threads and memory when
// connections are many and mostly idle — which is what pool-of-threads answers.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "connsched/backend.h"
#include "thread_cache.h"

namespace connsched::one_thread_per_connection {
namespace {

using backend::report_counter;

struct Settings {
  std::atomic<std::int64_t> cache_size{256};
  std::atomic<std::int64_t> cache_timeout_s{300};
};

constexpr backend::OptionTable<Settings, 2> kOptionTable{{{
    {"thread_cache_size", "Threads kept parked for reuse when their connection ends (0: none)",
     CONNSCHED_OPTION_INT, "256", 0, 16384, nullptr, true, &Settings::cache_size},
    {"thread_cache_timeout", "Seconds a parked thread waits for a connection before exiting",
     CONNSCHED_OPTION_INT, "300", 1, 86400, nullptr, true, &Settings::cache_timeout_s},
}}};
constexpr auto kOptions = kOptionTable.descriptors();

class PerConnection {
 public:
  // Threads are made on demand, so init only sizes the cache.
  explicit PerConnection(const connsched_services* svc) : svc_(svc) {
    kOptionTable.load(svc, settings_);
    cache_ = std::make_unique<ThreadCache>(
        [this](void* work) { serve(static_cast<connsched_conn*>(work)); }, cache_size(),
        cache_timeout());
  }

  // A cached thread if one is parked, else a new one. When the OS cannot make a thread
  // the exception is logged by the kit and core closes the connection.
  bool add_connection(connsched_conn* conn) {
    cache_->dispatch(conn);
    return true;
  }

  // Stores the new value, then gives the cache both settings as they now are.
  std::string set_option(const char* name, const char* value) {
    std::string why = kOptionTable.store(settings_, name, value);
    if (!why.empty()) return why;
    cache_->set_cache_size(cache_size());
    cache_->set_idle_timeout(cache_timeout());
    return {};
  }

  // Switchable (ABI 1.2): each connection's thread waits in core's wait_for_input, which a
  // switch wakes by itself, so there is nothing to do here.
  void release_connection(connsched_conn*) {}

  void stats(const connsched_stats_sink& sink) {
    ThreadCache::Stats s = cache_->stats();
    auto count = [&](const char* name, auto value, const char* help) {
      report_counter(sink, name, static_cast<std::int64_t>(value), help);
    };
    count("threads_created_total", s.created, "Threads created to serve connections");
    count("threads_cached", s.parked, "Threads parked in the thread cache");
    count("threads_connected", connected_.load(), "Connections being served, one thread each");
    count("threads_running", running_.load(), "Threads executing requests now");
    count("threads", s.live, "Threads alive (serving or cached)");
    count("thread_cache_hits_total", s.hits, "Connections given a cached thread");
    count("thread_cache_misses_total", s.misses, "Connections that needed a new thread");
    count("thread_cache_expired_total", s.expired,
          "Cached threads that exited after thread_cache_timeout");
    count("thread_cache_size", s.cache_size, "Threads the cache may hold");
  }

 private:
  std::size_t cache_size() const { return static_cast<std::size_t>(settings_.cache_size.load()); }
  std::chrono::seconds cache_timeout() const {
    return std::chrono::seconds(settings_.cache_timeout_s.load());
  }

  // The whole life of one connection on one thread: block until input, run it, repeat.
  // A switch of thread_handling ends it early: CONNSCHED_NEXT_RELEASE hands the
  // connection back to core, and the thread parks as after a connection's end.
  void serve(connsched_conn* conn) {
    connected_.fetch_add(1);
    int next = CONNSCHED_NEXT_CLOSE;
    while ((next = svc_->wait_for_input(conn)) == CONNSCHED_NEXT_READY) {
      running_.fetch_add(1);
      next = svc_->do_command(conn);
      running_.fetch_sub(1);
      if (next != CONNSCHED_NEXT_WAIT_INPUT) break;
    }
    if (next == CONNSCHED_NEXT_RELEASE) {
      svc_->return_connection(conn);
    } else {
      svc_->end_connection(conn);
    }
    connected_.fetch_sub(1);
  }

  const connsched_services* svc_;
  Settings settings_;
  std::atomic<std::int64_t> connected_{0};  // connections being served
  std::atomic<std::int64_t> running_{0};    // threads inside do_command
  // Last: core calls end only after every connection ended, so the cache's threads are
  // all parked or exiting, and destroying it joins them before the counters go.
  std::unique_ptr<ThreadCache> cache_;
};

constexpr connsched_scheduler kOneThreadPerConnection = [] {
  auto d = backend::scheduler_descriptor<PerConnection>(
      "one-thread-per-connection", "a thread per connection, with MySQL's thread cache",
      kOptions.data());
  d.flags = CONNSCHED_SCHEDULER_THREAD_PER_CONNECTION;  // max_threads 0: no limit of its own
  return d;
}();

}  // namespace
}  // namespace connsched::one_thread_per_connection

CONNSCHED_DEFINE_SCHEDULER(connsched::one_thread_per_connection::kOneThreadPerConnection)
