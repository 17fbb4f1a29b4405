// File: test/backends/pool_of_threads/throttling_test.cc
//
// The thread-creation throttling curve on its own (MariaDB's microsecond_throttling_interval
// in sql/threadpool_generic.cc collapses to zero below a 500 ms stall limit and drops
// from 100 to 20 ms at 16 threads).
#include <doctest/doctest.h>

#include <cstdint>

#include "throttling.h"

using connsched::pool_of_threads::throttling_interval_us;
using connsched::pool_of_threads::throttling_ticks;
using connsched::pool_of_threads::unthrottled_threads;

TEST_CASE("a small group creates threads at once; a larger one is throttled") {
  for (std::int64_t threads = 0; threads < 4; ++threads) {
    CHECK(throttling_interval_us(threads, 3, 500) == 0);
  }
  CHECK(throttling_interval_us(4, 3, 500) > 0);
  // A high oversubscribe raises the unthrottled size with it.
  CHECK(unthrottled_threads(10) == 11);
  CHECK(throttling_interval_us(10, 10, 500) == 0);
  CHECK(throttling_interval_us(11, 10, 500) > 0);
}

TEST_CASE("the interval never decreases as the group grows") {
  for (std::int64_t oversubscribe : {0LL, 1LL, 3LL, 10LL, 1000LL}) {
    for (std::int64_t stall : {1LL, 10LL, 100LL, 499LL, 500LL, 501LL, 2000LL, 4294967295LL}) {
      std::int64_t previous = 0;
      for (std::int64_t threads = 0; threads <= 5000; ++threads) {
        std::int64_t interval = throttling_interval_us(threads, oversubscribe, stall);
        CAPTURE(oversubscribe);
        CAPTURE(stall);
        CAPTURE(threads);
        REQUIRE(interval >= previous);
        previous = interval;
      }
    }
  }
}

TEST_CASE("a stall limit below 500 ms still throttles (MariaDB's factor collapses to 0)") {
  for (std::int64_t stall : {1, 10, 60, 100, 499}) {
    CAPTURE(stall);
    CHECK(throttling_interval_us(4, 3, stall) > 0);
    CHECK(throttling_interval_us(16, 3, stall) > 0);
    CHECK(throttling_interval_us(1000, 3, stall) > 0);
  }
}

TEST_CASE("the interval scales linearly with the stall limit and is never shorter for more") {
  for (std::int64_t threads : {4, 7, 8, 15, 16, 100}) {
    CAPTURE(threads);
    std::int64_t at_100 = throttling_interval_us(threads, 3, 100);
    CHECK(throttling_interval_us(threads, 3, 200) == 2 * at_100);
    CHECK(throttling_interval_us(threads, 3, 1000) == 10 * at_100);
    std::int64_t previous = 0;
    for (std::int64_t stall = 1; stall <= 3000; stall += 7) {
      std::int64_t interval = throttling_interval_us(threads, 3, stall);
      REQUIRE(interval >= previous);
      previous = interval;
    }
  }
}

TEST_CASE("the interval is counted in stall-limit ticks, with a quarter tick of slack") {
  // 4..7 threads: once per tick; 8..15: once per 2 ticks; 16 and more: once per 4.
  CHECK(throttling_ticks(4, 3) == 1);
  CHECK(throttling_ticks(8, 3) == 2);
  CHECK(throttling_ticks(15, 3) == 2);
  CHECK(throttling_ticks(16, 3) == 4);
  CHECK(throttling_ticks(65536, 3) == 4);
  CHECK(throttling_interval_us(4, 3, 500) == 375'000);
  CHECK(throttling_interval_us(8, 3, 500) == 875'000);
  CHECK(throttling_interval_us(16, 3, 500) == 1'875'000);
  // Once per tick never blocks the timer's own once-per-tick request...
  CHECK(throttling_interval_us(5, 3, 500) < 500'000);
  // ...while two and four ticks really hold creation back.
  CHECK(throttling_interval_us(9, 3, 500) > 500'000);
  CHECK(throttling_interval_us(20, 3, 500) > 1'500'000);
}
