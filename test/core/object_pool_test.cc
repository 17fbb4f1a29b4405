// File: test/core/object_pool_test.cc
//
// connsched::ObjectPool: every setting and error, fairness among waiters, no lock held
// while the factory works, and a multi-threaded stress test (run under TSan in CI).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "connsched/object_pool.h"

using namespace connsched;
using namespace std::chrono_literals;

namespace {

struct Thing {
  int id;
  bool healthy = true;
};

// A factory that counts what it makes and destroys, with optional slowness and failure.
struct CountingFactory {
  std::atomic<int> made{0}, destroyed{0}, live{0}, peak_live{0};
  std::atomic<bool> fail{false};
  std::atomic<bool> validate_ok{true};
  std::chrono::milliseconds create_delay{0};

  ObjectPool<Thing>::Factory make() {
    ObjectPool<Thing>::Factory f;
    f.create = [this] {
      if (create_delay.count()) std::this_thread::sleep_for(create_delay);
      if (fail.load()) throw std::runtime_error("upstream refused");
      int now = live.fetch_add(1) + 1;
      int peak = peak_live.load();
      while (now > peak && !peak_live.compare_exchange_weak(peak, now)) {
      }
      return std::make_unique<Thing>(Thing{made.fetch_add(1) + 1});
    };
    f.validate = [this](Thing& t) { return t.healthy && validate_ok.load(); };
    f.destroy = [this](std::unique_ptr<Thing>) {
      destroyed.fetch_add(1);
      live.fetch_sub(1);
    };
    return f;
  }
};

PoolSettings small(std::size_t max_total) {
  PoolSettings s;
  s.max_total = max_total;
  s.max_idle = max_total;
  s.max_wait = 100ms;
  return s;
}

}  // namespace

TEST_CASE("settings that contradict each other are refused with the reason") {
  CountingFactory f;
  PoolSettings s;
  s.max_total = 0;
  CHECK_THROWS_WITH_AS(ObjectPool<Thing>("p", f.make(), s),
                       "pool settings: max_total must be at least 1", std::invalid_argument);
  s = PoolSettings{};
  s.max_idle = 20;
  CHECK_THROWS_WITH_AS(ObjectPool<Thing>("p", f.make(), s),
                       "pool settings: max_idle (20) exceeds max_total (8)", std::invalid_argument);
  s = PoolSettings{};
  s.min_idle = 2;
  CHECK_THROWS_WITH_AS(ObjectPool<Thing>("p", f.make(), s),
                       doctest::Contains("need a maintenance_interval"), std::invalid_argument);
}

TEST_CASE("a borrowed object is returned when its handle goes out of scope, and reused") {
  CountingFactory f;
  ObjectPool<Thing> pool("p", f.make(), small(2));
  int first_id = 0;
  {
    auto h = pool.borrow();
    first_id = h->id;
    CHECK(pool.stats().active == 1);
  }
  CHECK(pool.stats().active == 0);
  CHECK(pool.stats().idle == 1);
  auto again = pool.borrow();
  CHECK(again->id == first_id);
  CHECK(f.made.load() == 1);
  auto s = pool.stats();
  CHECK(s.borrowed == 2);
  CHECK(s.returned == 1);
  CHECK(s.created == 1);
}

TEST_CASE("exhaustion after the timeout is a distinct error saying how long and how many") {
  CountingFactory f;
  ObjectPool<Thing> pool("upstream", f.make(), small(2));
  auto a = pool.borrow();
  auto b = pool.borrow();
  auto start = PoolClock::now();
  try {
    pool.borrow_for(150ms);
    FAIL("borrowed from an exhausted pool");
  } catch (const PoolExhausted& e) {
    auto took = PoolClock::now() - start;
    CHECK(took >= 150ms);
    CHECK(took < 5s);
    CHECK(e.in_use() == 2);
    CHECK(e.waited() >= 150ms);
    INFO(e.what());
    CHECK(std::string(e.what()).rfind("pool 'upstream' exhausted: waited ", 0) == 0);
    CHECK(std::string(e.what()).find("2 of 2 objects in use") != std::string::npos);
  }
  CHECK(pool.stats().timeouts == 1);
}

TEST_CASE("fail-fast: with block_when_exhausted off, an exhausted borrow fails at once") {
  CountingFactory f;
  auto s = small(1);
  s.block_when_exhausted = false;
  s.max_wait = 10s;
  ObjectPool<Thing> pool("p", f.make(), s);
  auto held = pool.borrow();
  auto start = PoolClock::now();
  CHECK_THROWS_AS(pool.borrow(), PoolExhausted);
  CHECK(PoolClock::now() - start < 1s);
  CHECK_FALSE(pool.try_borrow());
}

TEST_CASE("a factory that keeps failing gives errors, never a hang, and no slot is lost") {
  CountingFactory f;
  f.fail = true;
  ObjectPool<Thing> pool("p", f.make(), small(2));
  for (int i = 0; i < 5; ++i) {
    CHECK_THROWS_WITH_AS(pool.borrow(), "pool 'p': cannot create an object: upstream refused",
                         PoolCreateError);
  }
  CHECK(pool.stats().create_failures == 5);
  f.fail = false;  // the upstream comes back
  auto a = pool.borrow();
  auto b = pool.borrow();
  CHECK(pool.stats().active == 2);
}

TEST_CASE("validation on borrow never hands out a broken idle object") {
  CountingFactory f;
  auto s = small(2);
  s.test_on_borrow = true;
  ObjectPool<Thing> pool("p", f.make(), s);
  {
    auto h = pool.borrow();
    h->healthy = false;
  }  // breaks while lent, returned unnoticed
  auto h = pool.borrow();
  CHECK(h->healthy);
  CHECK(h->id == 2);
  CHECK(pool.stats().validation_failures == 1);
  CHECK(f.destroyed.load() == 1);
}

TEST_CASE("validation is skipped for objects used within the skip window") {
  CountingFactory f;
  auto s = small(2);
  s.test_on_borrow = true;
  s.validation_skip_window = 10s;
  ObjectPool<Thing> pool("p", f.make(), s);
  {
    auto h = pool.borrow();
    h->healthy = false;
  }
  auto h = pool.borrow();
  CHECK(h->id == 1);  // not validated: returned a moment ago
  CHECK(pool.stats().validation_failures == 0);
}

TEST_CASE("validation on return and on create destroy objects that fail") {
  CountingFactory f;
  auto s = small(2);
  s.test_on_return = true;
  ObjectPool<Thing> pool("p", f.make(), s);
  {
    auto h = pool.borrow();
    h->healthy = false;
  }
  CHECK(pool.stats().idle == 0);
  CHECK(pool.stats().validation_failures == 1);
  CHECK(f.destroyed.load() == 1);

  CountingFactory g;
  g.validate_ok = false;
  auto t = small(2);
  t.test_on_create = true;
  ObjectPool<Thing> strict("q", g.make(), t);
  CHECK_THROWS_WITH_AS(strict.borrow(), doctest::Contains("a new object failed validation"),
                       PoolCreateError);
}

TEST_CASE("an invalidated handle destroys its object instead of returning it") {
  CountingFactory f;
  ObjectPool<Thing> pool("p", f.make(), small(2));
  {
    auto h = pool.borrow();
    h.invalidate();
  }
  CHECK(pool.stats().idle == 0);
  CHECK(pool.stats().invalidated == 1);
  CHECK(f.destroyed.load() == 1);
}

TEST_CASE("max_idle: objects returned beyond it are destroyed") {
  CountingFactory f;
  auto s = small(10);
  s.max_idle = 4;
  ObjectPool<Thing> pool("p", f.make(), s);
  {
    std::vector<ObjectPool<Thing>::Handle> all;
    for (int i = 0; i < 10; ++i) all.push_back(pool.borrow());
  }
  CHECK(pool.stats().idle == 4);
  CHECK(f.destroyed.load() == 6);
}

TEST_CASE("LIFO reuses the last returned object, FIFO the first") {
  for (bool lifo : {true, false}) {
    CAPTURE(lifo);
    CountingFactory f;
    auto s = small(3);
    s.lifo = lifo;
    ObjectPool<Thing> pool("p", f.make(), s);
    {
      auto a = pool.borrow();  // 1
      auto b = pool.borrow();  // 2
      auto c = pool.borrow();  // 3
      a.release();
      b.release();
      c.release();
    }
    auto next = pool.borrow();
    CHECK(next->id == (lifo ? 3 : 1));
  }
}

TEST_CASE("min_idle objects are made at start and kept up by the maintenance task") {
  CountingFactory f;
  auto s = small(6);
  s.min_idle = 3;
  s.maintenance_interval = 20ms;
  ObjectPool<Thing> pool("p", f.make(), s);
  CHECK(pool.stats().idle == 3);
  {
    auto a = pool.borrow();
    auto b = pool.borrow();
    a.invalidate();
    b.invalidate();
  }
  auto deadline = PoolClock::now() + 5s;
  while (pool.stats().idle < 3 && PoolClock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(pool.stats().idle == 3);
}

TEST_CASE("idle objects are evicted after min_evictable_idle, never below min_idle") {
  CountingFactory f;
  auto s = small(6);
  s.min_idle = 1;
  s.min_evictable_idle = 50ms;
  s.maintenance_interval = 20ms;
  ObjectPool<Thing> pool("p", f.make(), s);
  {
    std::vector<ObjectPool<Thing>::Handle> all;
    for (int i = 0; i < 5; ++i) all.push_back(pool.borrow());
  }
  CHECK(pool.stats().idle == 5);
  auto deadline = PoolClock::now() + 5s;
  // An evicted object leaves the idle list under the pool's lock and is destroyed after
  // it, outside the lock: wait for both.
  while ((pool.stats().idle > 1 || f.destroyed.load() < 4) && PoolClock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(pool.stats().idle == 1);
  CHECK(f.destroyed.load() == 4);
}

TEST_CASE("test_while_idle destroys idle objects that stop validating") {
  CountingFactory f;
  auto s = small(4);
  s.test_while_idle = true;
  s.maintenance_interval = 20ms;
  ObjectPool<Thing> pool("p", f.make(), s);
  {
    auto a = pool.borrow();
    auto b = pool.borrow();
  }
  CHECK(pool.stats().idle == 2);
  f.validate_ok = false;  // the upstream died under idle connections
  auto deadline = PoolClock::now() + 5s;
  while (pool.stats().idle > 0 && PoolClock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(pool.stats().idle == 0);
  CHECK(pool.stats().validation_failures >= 2);
}

TEST_CASE("objects past max_lifetime are retired, not reused; lifetimes are staggered") {
  CountingFactory f;
  auto s = small(4);
  s.max_lifetime = 100ms;
  ObjectPool<Thing> pool("p", f.make(), s);
  { auto h = pool.borrow(); }
  std::this_thread::sleep_for(150ms);
  auto h = pool.borrow();
  CHECK(h->id == 2);
  CHECK(f.destroyed.load() == 1);
}

TEST_CASE("an object borrowed past the leak threshold is logged once with its borrower") {
  CountingFactory f;
  std::mutex mutex;
  std::vector<std::string> logged;
  auto s = small(2);
  s.leak_detection_threshold = 50ms;
  s.maintenance_interval = 10ms;
  s.log = [&](const std::string& line) {
    std::lock_guard lock(mutex);
    logged.push_back(line);
  };
  ObjectPool<Thing> pool("p", f.make(), s);
  {
    auto leaked = pool.borrow();
    auto deadline = PoolClock::now() + 5s;
    while (pool.stats().leaks == 0 && PoolClock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(60ms);  // more passes: still reported once
  }
  CHECK(pool.stats().leaks == 1);
  std::lock_guard lock(mutex);
  REQUIRE(logged.size() == 2);
  CHECK(logged[0].find("apparent leak") != std::string::npos);
  CHECK(logged[0].find("object_pool_test.cc") != std::string::npos);  // who borrowed it
  CHECK(logged[1].find("was returned after") != std::string::npos);
}

TEST_CASE("waiters are served in arrival order") {
  CountingFactory f;
  auto s = small(1);
  s.max_wait = 10s;
  ObjectPool<Thing> pool("p", f.make(), s);
  auto held = pool.borrow();
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::jthread> waiters;
  for (int i = 0; i < 5; ++i) {
    waiters.emplace_back([&, i] {
      auto h = pool.borrow();
      std::lock_guard lock(mutex);
      order.push_back(i);
    });
    // Arrival order is fixed by waiting until this waiter queues.
    auto deadline = PoolClock::now() + 5s;
    while (pool.stats().waiting != static_cast<std::size_t>(i + 1) && PoolClock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
  }
  held.release();
  waiters.clear();  // joins
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("no lock is held while the factory makes an object: idle objects stay borrowable") {
  CountingFactory f;
  auto s = small(2);
  s.max_wait = 10s;
  ObjectPool<Thing> pool("p", f.make(), s);
  { auto warm = pool.borrow(); }  // one idle object
  auto held = pool.borrow();      // takes it
  f.create_delay = 1500ms;
  std::jthread slow([&] { auto h = pool.borrow(); });  // must make one: slow
  auto deadline = PoolClock::now() + 5s;
  while (pool.stats().creating == 0 && PoolClock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  held.release();  // an idle object appears while the factory is busy
  auto start = PoolClock::now();
  auto quick = pool.borrow();
  CHECK(PoolClock::now() - start < 1s);  // did not wait for the slow create
  CHECK(pool.stats().wait_max < 5s);
}

TEST_CASE(
    "stats: `creating` counts objects the factory is making, `reserved` every slot held outside "
    "the lock") {
  CountingFactory f;
  auto s = small(2);
  s.test_on_borrow = true;
  ObjectPool<Thing> pool("p", f.make(), s);
  { auto warm = pool.borrow(); }  // one idle object, validated on each borrow
  std::atomic<bool> validating{false}, release_validation{false};
  ObjectPool<Thing>::Factory slow_check = f.make();
  slow_check.validate = [&](Thing&) {
    validating.store(true);
    while (!release_validation.load()) std::this_thread::sleep_for(1ms);
    return true;
  };
  ObjectPool<Thing> checked("c", std::move(slow_check), s);
  { auto warm = checked.borrow(); }
  validating.store(false);  // the warm-up borrow made its object without validating it
  std::jthread borrower([&] { auto h = checked.borrow(); });
  auto deadline = PoolClock::now() + 5s;
  while (!validating.load() && PoolClock::now() < deadline) std::this_thread::sleep_for(1ms);
  REQUIRE(validating.load());
  CHECK(checked.stats().creating == 0);  // an object being validated is not being created
  CHECK(checked.stats().reserved == 1);
  release_validation.store(true);
  borrower.join();
  CHECK(checked.stats().reserved == 0);

  f.create_delay = 1500ms;
  auto held = pool.borrow();
  std::jthread maker([&] { auto h = pool.borrow(); });  // must make one: slow
  deadline = PoolClock::now() + 5s;
  while (pool.stats().creating == 0 && PoolClock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(pool.stats().creating == 1);
  CHECK(pool.stats().reserved == 1);
  maker.join();
  CHECK(pool.stats().creating == 0);
}

TEST_CASE("stats: created - destroyed = active + idle, and borrow waits have percentiles") {
  CountingFactory f;
  ObjectPool<Thing> pool("p", f.make(), small(3));
  {
    auto a = pool.borrow();
    auto b = pool.borrow();
    b.invalidate();
  }
  auto c = pool.borrow();
  auto s = pool.stats();
  CHECK(s.created - s.destroyed == s.active + s.idle);
  CHECK(s.wait_p50 <= s.wait_p99);
  CHECK(s.wait_p99 <= s.wait_max);
}

TEST_CASE("a closed pool refuses borrowers and wakes its waiters") {
  CountingFactory f;
  auto s = small(1);
  s.max_wait = 10s;
  auto pool = std::make_unique<ObjectPool<Thing>>("p", f.make(), s);
  auto held = pool->borrow();
  std::atomic<bool> closed_error{false};
  std::jthread waiter([&] {
    try {
      pool->borrow();
    } catch (const PoolClosed&) {
      closed_error = true;
    }
  });
  auto deadline = PoolClock::now() + 5s;
  while (pool->stats().waiting == 0 && PoolClock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  pool->close();
  waiter.join();
  CHECK(closed_error.load());
  CHECK_THROWS_AS(pool->borrow(), PoolClosed);
  held.release();  // returned after close: destroyed
  CHECK(f.live.load() == 0);
}

TEST_CASE("stress: many threads never see more than max_total objects alive") {
  CountingFactory f;
  auto s = small(4);
  s.max_wait = 10s;
  s.test_on_borrow = true;
  s.lifo = false;
  ObjectPool<Thing> pool("p", f.make(), s);
  std::atomic<int> errors{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 12; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 300; ++i) {
          try {
            auto h = pool.borrow();
            if ((i + t) % 17 == 0) h.invalidate();
            if (i % 50 == 0) std::this_thread::yield();
          } catch (...) {
            errors.fetch_add(1);
          }
        }
      });
    }
  }
  CHECK(errors.load() == 0);
  CHECK(f.peak_live.load() <= 4);
  auto st = pool.stats();
  CHECK(st.borrowed == 12 * 300);
  CHECK(st.returned == 12 * 300);
  CHECK(st.created - st.destroyed == st.idle);
}
