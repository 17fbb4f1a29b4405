// File: test/backends/pool_of_threads/standby_list_test.cc
//
// The standby list of a thread group: the thread that went to sleep last is woken
// first (LIFO), and a thread that times out leaves from wherever it is.
#include <doctest/doctest.h>

#include <vector>

#include "standby_list.h"

using connsched::pool_of_threads::StandbyList;

namespace {
struct FakeThread {
  int id;
};
}  // namespace

TEST_CASE("standby threads are woken newest first") {
  std::vector<FakeThread> threads{{1}, {2}, {3}, {4}};
  StandbyList<FakeThread> list;
  for (auto& t : threads) list.push(&t);
  CHECK(list.size() == 4);
  CHECK(list.pop_newest()->id == 4);
  CHECK(list.pop_newest()->id == 3);
  list.push(&threads[3]);  // 4 sleeps again: it is the newest once more
  CHECK(list.pop_newest()->id == 4);
  CHECK(list.pop_newest()->id == 2);
  CHECK(list.pop_newest()->id == 1);
  CHECK(list.pop_newest() == nullptr);
  CHECK(list.empty());
}

TEST_CASE("a thread that times out leaves the list from the middle; the order of the rest holds") {
  std::vector<FakeThread> threads{{1}, {2}, {3}};
  StandbyList<FakeThread> list;
  for (auto& t : threads) list.push(&t);
  CHECK(list.remove(&threads[1]));
  CHECK_FALSE(list.remove(&threads[1]));  // already gone (it was woken meanwhile)
  std::vector<int> order;
  list.for_each([&](FakeThread* t) { order.push_back(t->id); });
  CHECK(order == std::vector<int>{3, 1});
  CHECK(list.pop_newest()->id == 3);
  CHECK(list.pop_newest()->id == 1);
}
