// File: test/backends/one_thread_per_connection/thread_cache_test.cc
//
// The thread cache of one-thread-per-connection, on its own: reuse, its size limit,
// LIFO hand-off, expiry, and shrinking.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "running_server.h"
#include "thread_cache.h"

using connsched::ThreadCache;
using connsched::testing::RunningServer;
using namespace std::chrono_literals;

namespace {
// Records which thread served each piece of work.
struct Recorder {
  std::mutex mutex;
  std::vector<std::thread::id> served_by;
  void serve(void*) {
    std::lock_guard lock(mutex);
    served_by.push_back(std::this_thread::get_id());
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return served_by.size();
  }
};
// Holds every piece of work inside serve() until opened, so that N dispatches really
// need N threads (a trivial item could finish and park before the next dispatch).
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int inside = 0;
  void serve() {
    std::unique_lock lock(mutex);
    ++inside;
    changed.notify_all();
    changed.wait(lock, [&] { return open; });
  }
  // Dispatches n items, waits until all n run at once, then lets them finish.
  void run_concurrently(ThreadCache& cache, int n) {
    for (int i = 0; i < n; ++i) cache.dispatch(nullptr);
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, 10s, [&] { return inside == n; }));
    open = true;
    changed.notify_all();
  }
};
}  // namespace

TEST_CASE("with a cache of one, sequential connections are served by one thread") {
  Recorder recorder;
  ThreadCache cache([&](void* w) { recorder.serve(w); }, 1, 60s);
  for (int i = 0; i < 20; ++i) {
    cache.dispatch(nullptr);
    // Sequential: the next connection arrives only after this one parked again.
    REQUIRE(RunningServer::eventually([&] { return cache.stats().parked == 1; }));
  }
  auto s = cache.stats();
  CHECK(s.created == 1);
  CHECK(s.hits == 19);
  CHECK(s.misses == 1);
  std::set<std::thread::id> distinct(recorder.served_by.begin(), recorder.served_by.end());
  CHECK(distinct.size() == 1);
}

TEST_CASE("with a cache of zero, every connection creates a thread") {
  Recorder recorder;
  ThreadCache cache([&](void* w) { recorder.serve(w); }, 0, 60s);
  for (int i = 0; i < 10; ++i) {
    cache.dispatch(nullptr);
    REQUIRE(RunningServer::eventually(
        [&] { return recorder.count() == static_cast<std::size_t>(i + 1); }));
  }
  auto s = cache.stats();
  CHECK(s.created == 10);
  CHECK(s.hits == 0);
  CHECK(s.parked == 0);
}

TEST_CASE("parked threads never exceed the cache size") {
  std::mutex gate_mutex;
  std::condition_variable gate;
  bool open = false;
  std::atomic<int> inside{0};
  ThreadCache cache(
      [&](void*) {
        inside.fetch_add(1);
        std::unique_lock lock(gate_mutex);
        gate.wait(lock, [&] { return open; });
      },
      3, 60s);
  for (int i = 0; i < 10; ++i) cache.dispatch(nullptr);
  REQUIRE(RunningServer::eventually([&] { return inside.load() == 10; }));
  CHECK(cache.stats().live == 10);
  {
    std::lock_guard lock(gate_mutex);
    open = true;
  }
  gate.notify_all();
  REQUIRE(RunningServer::eventually([&] { return cache.stats().live == 3; }));
  CHECK(cache.stats().parked == 3);
  CHECK(cache.stats().created == 10);
}

TEST_CASE("the most recently parked thread gets the next connection") {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::thread::id> order;  // parking order, by serving thread
  std::atomic<int> release_next{0};
  std::atomic<int> started{0};
  ThreadCache cache(
      [&](void* w) {
        long which = reinterpret_cast<long>(w);
        started.fetch_add(1);
        // Work item k (1..3) waits until it is told to finish, to fix the parking order.
        while (which != 0 && release_next.load() < which) std::this_thread::sleep_for(1ms);
        std::lock_guard lock(mutex);
        order.push_back(std::this_thread::get_id());
        changed.notify_all();
      },
      4, 60s);
  for (long k = 1; k <= 3; ++k) cache.dispatch(reinterpret_cast<void*>(k));
  REQUIRE(RunningServer::eventually([&] { return started.load() == 3; }));
  for (int k = 1; k <= 3; ++k) {
    release_next.store(k);
    REQUIRE(RunningServer::eventually(
        [&] { return cache.stats().parked == static_cast<std::size_t>(k); }));
  }
  std::thread::id last_parked;
  {
    std::lock_guard lock(mutex);
    last_parked = order.back();
  }
  cache.dispatch(nullptr);
  REQUIRE(RunningServer::eventually([&] {
    std::lock_guard lock(mutex);
    return order.size() == 4;
  }));
  std::lock_guard lock(mutex);
  CHECK(order[3] == last_parked);
}

TEST_CASE("parked threads exit after the idle timeout") {
  Gate gate;
  ThreadCache cache([&](void*) { gate.serve(); }, 4, 50ms);
  gate.run_concurrently(cache, 3);
  REQUIRE(RunningServer::eventually([&] { return cache.stats().live == 0; }));
  CHECK(cache.stats().expired == 3);
  // A later connection gets a fresh thread.
  cache.dispatch(nullptr);
  REQUIRE(RunningServer::eventually([&] { return cache.stats().created == 4; }));
  CHECK(cache.stats().misses == 4);
}

TEST_CASE("shrinking the cache to zero empties it (a flush)") {
  Gate gate;
  ThreadCache cache([&](void*) { gate.serve(); }, 8, 60s);
  gate.run_concurrently(cache, 5);
  REQUIRE(RunningServer::eventually([&] { return cache.stats().parked == 5; }));
  cache.set_cache_size(0);
  REQUIRE(RunningServer::eventually([&] { return cache.stats().live == 0; }));
  CHECK(cache.stats().expired == 0);
}

TEST_CASE("destroying the cache joins every thread, parked or still serving") {
  std::atomic<int> done{0};
  {
    ThreadCache cache(
        [&](void*) {
          std::this_thread::sleep_for(20ms);
          done.fetch_add(1);
        },
        2, 60s);
    for (int i = 0; i < 6; ++i) cache.dispatch(nullptr);
  }
  CHECK(done.load() == 6);
}
