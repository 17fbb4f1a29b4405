// File: schedulers/one_thread_per_connection/one_thread_per_connection.cc
//
// one-thread-per-connection: MySQL's default. Each connection gets a thread of its own
// for its whole life, blocking in poll between requests; a finished connection's
// thread parks in the thread cache and takes the next connection (thread_cache_size,
// most recently parked first). Simple, fair, and costly in threads and memory when
// connections are many and mostly idle — which is what pool-of-threads answers.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

#include "connsched/scheduler_abi.h"
#include "thread_cache.h"

namespace {

using connsched::ThreadCache;

struct PerConnection {
  const connsched_services* svc = nullptr;
  std::atomic<std::int64_t> connected{0};  // connections being served
  std::atomic<std::int64_t> running{0};    // threads inside do_command
  std::unique_ptr<ThreadCache> cache;
};

long long option_int(const connsched_services* svc, const char* name) {
  const char* value = svc->get_option(svc, name);
  return value ? std::atoll(value) : 0;
}

// The whole life of one connection on one thread: block until input, run it, repeat.
void serve_connection(PerConnection& self, connsched_conn* conn) {
  const connsched_services* svc = self.svc;
  self.connected.fetch_add(1);
  while (svc->wait_for_input(conn) == CONNSCHED_NEXT_READY) {
    self.running.fetch_add(1);
    int next = svc->do_command(conn);
    self.running.fetch_sub(1);
    if (next == CONNSCHED_NEXT_CLOSE) break;
  }
  svc->end_connection(conn);
  self.connected.fetch_sub(1);
}

// Threads are made on demand, so init only sizes the cache.
int otpc_init(const connsched_services* svc, void** backend, char* err, size_t errlen) {
  auto state = std::make_unique<PerConnection>();
  state->svc = svc;
  long long size = option_int(svc, "thread_cache_size");
  long long timeout = option_int(svc, "thread_cache_timeout");
  if (timeout <= 0) {
    std::snprintf(err, errlen, "thread_cache_timeout must be positive");
    return 1;
  }
  PerConnection* self = state.get();
  state->cache = std::make_unique<ThreadCache>(
      [self](void* work) { serve_connection(*self, static_cast<connsched_conn*>(work)); },
      static_cast<std::size_t>(size), std::chrono::seconds(timeout));
  *backend = state.release();
  return 0;
}

// A cached thread if one is parked, else a new one; refusing only when the OS
// cannot make a thread (core then closes the connection and logs it).
int otpc_add_connection(void* backend, connsched_conn* conn) {
  auto& self = *static_cast<PerConnection*>(backend);
  try {
    self.cache->dispatch(conn);
    return 0;
  } catch (const std::system_error& e) {
    std::string message = std::string("cannot create a thread: ") + e.what();
    self.svc->log(self.svc, CONNSCHED_LOG_ERROR, message.c_str());
    return 1;
  }
}

// Core calls end only after every connection ended, so the cache's threads are all
// parked or exiting: destroying it joins them.
void otpc_end(void* backend) {
  std::unique_ptr<PerConnection> owned(static_cast<PerConnection*>(backend));
}

int otpc_set_option(void* backend, const char* name, const char* value, char*, size_t) {
  auto& self = *static_cast<PerConnection*>(backend);
  if (std::strcmp(name, "thread_cache_size") == 0) {
    self.cache->set_cache_size(static_cast<std::size_t>(std::atoll(value)));
  } else if (std::strcmp(name, "thread_cache_timeout") == 0) {
    self.cache->set_idle_timeout(std::chrono::seconds(std::atoll(value)));
  }
  return 0;
}

void otpc_stats(void* backend, const connsched_stats_sink* sink) {
  auto& self = *static_cast<PerConnection*>(backend);
  ThreadCache::Stats s = self.cache->stats();
  auto counter = [&](const char* name, std::int64_t value, const char* help) {
    sink->counter(sink->ctx, name, value, help);
  };
  counter("threads_created", static_cast<std::int64_t>(s.created),
          "Threads created to serve connections");
  counter("threads_cached", static_cast<std::int64_t>(s.parked),
          "Threads parked in the thread cache");
  counter("threads_connected", self.connected.load(), "Connections being served, one thread each");
  counter("threads_running", self.running.load(), "Threads executing requests now");
  counter("threads", static_cast<std::int64_t>(s.live), "Threads alive (serving or cached)");
  counter("thread_cache_hits", static_cast<std::int64_t>(s.hits),
          "Connections given a cached thread");
  counter("thread_cache_misses", static_cast<std::int64_t>(s.misses),
          "Connections that needed a new thread");
  counter("thread_cache_expired", static_cast<std::int64_t>(s.expired),
          "Cached threads that exited after thread_cache_timeout");
  counter("thread_cache_size", static_cast<std::int64_t>(s.cache_size),
          "Threads the cache may hold");
}

constexpr connsched_option_desc kOptions[] = {
    {"thread_cache_size", "Threads kept parked for reuse when their connection ends (0: none)",
     CONNSCHED_OPTION_INT, "256", 0, 16384, nullptr, 1},
    {"thread_cache_timeout", "Seconds a parked thread waits for a connection before exiting",
     CONNSCHED_OPTION_INT, "300", 1, 86400, nullptr, 1},
    {nullptr, nullptr, 0, nullptr, 0, 0, nullptr, 0},
};

constexpr connsched_scheduler kOneThreadPerConnection = [] {
  auto d = connsched_scheduler_header("one-thread-per-connection",
                                      "a thread per connection, with MySQL's thread cache");
  d.max_threads = 0;
  d.options = kOptions;
  d.init = otpc_init;
  d.add_connection = otpc_add_connection;
  d.end = otpc_end;
  d.set_option = otpc_set_option;
  d.stats = otpc_stats;
  return d;
}();

}  // namespace

CONNSCHED_DEFINE_SCHEDULER(kOneThreadPerConnection)
