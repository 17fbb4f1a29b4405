// File: test/examples/unit/cpu_burn_test.cc
//
// The example servers' BURN (kv) and /burn (http): CPU time, not wall time.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "cpu_burn.h"
#include "pinned_cpu.h"

using namespace std::chrono_literals;
using connsched_examples::burn_cpu;
using connsched_examples::thread_cpu_time;

TEST_CASE("a burn spends its whole amount of CPU even when it shares one CPU with another") {
  // Two burns on one CPU take turns: a wall-clock burn would end each after about half
  // its CPU; a CPU-time burn costs each its full amount and takes twice as long.
  static constexpr auto kAmount = 60ms;
  std::vector<std::chrono::nanoseconds> spent(2);
  std::chrono::steady_clock::duration wall{};
  {
    connsched::testing::PinnedToOneCpu pinned;  // the burners inherit it
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::jthread> burners;
    for (std::size_t i = 0; i < spent.size(); ++i) {
      burners.emplace_back([&spent, i] {
        const auto before = thread_cpu_time();
        burn_cpu(kAmount);
        spent[i] = thread_cpu_time() - before;
      });
    }
    burners.clear();  // joined: both burns are done
    wall = std::chrono::steady_clock::now() - start;
  }
  for (const auto& cpu : spent) CHECK(cpu >= kAmount);
  CHECK(wall >= 2 * kAmount);  // one CPU did both in full
}
