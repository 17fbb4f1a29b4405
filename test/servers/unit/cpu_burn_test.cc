// File: test/servers/unit/cpu_burn_test.cc
//
// The example servers' BURN (kv) and /burn (http): CPU time, not wall time.
#include <doctest/doctest.h>
#include <sched.h>

#include <chrono>
#include <thread>
#include <vector>

#include "cpu_burn.h"

using namespace std::chrono_literals;
using connsched_examples::burn_cpu;
using connsched_examples::thread_cpu_time;

TEST_CASE("a burn spends its whole amount of CPU even when it shares one CPU with another") {
  // Two burns on one CPU take turns: a wall-clock burn would end each after about half
  // its CPU; a CPU-time burn costs each its full amount and takes twice as long.
  cpu_set_t saved;
  REQUIRE(::sched_getaffinity(0, sizeof saved, &saved) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);  // the burners inherit it
  static constexpr auto kAmount = 60ms;
  std::vector<std::chrono::nanoseconds> spent(2);
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> burners;
    for (std::size_t i = 0; i < spent.size(); ++i) {
      burners.emplace_back([&spent, i] {
        const auto before = thread_cpu_time();
        burn_cpu(kAmount);
        spent[i] = thread_cpu_time() - before;
      });
    }
  }
  const auto wall = std::chrono::steady_clock::now() - start;
  REQUIRE(::sched_setaffinity(0, sizeof saved, &saved) == 0);
  for (const auto& cpu : spent) CHECK(cpu >= kAmount);
  CHECK(wall >= 2 * kAmount);  // one CPU did both in full
}
