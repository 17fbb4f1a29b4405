// File: test/backends/pool_of_threads/exclusive_protocol.h
//
// A protocol that catches two threads inside one connection's handler at once (what
// EPOLLONESHOT, the multishot poll's refire and the listener's batch must each rule
// out), and counts what it served. Shared by pool_poller_test and pool_listener_test.
#ifndef CONNSCHED_TEST_POOL_OF_THREADS_EXCLUSIVE_PROTOCOL_H_
#define CONNSCHED_TEST_POOL_OF_THREADS_EXCLUSIVE_PROTOCOL_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "connsched/protocol.h"
#include "test_protocol.h"

namespace connsched::testing {

// Counts, per connection, how many threads are inside its handler at once: more than
// one is the bug EPOLLONESHOT exists to prevent.
struct Overlaps {
  std::atomic<int> seen{0};
  std::atomic<long> served{0};
};

class ExclusiveSession final : public Session {
 public:
  /// Each request burns `burn_us` of CPU (see handle).
  ExclusiveSession(std::shared_ptr<Overlaps> overlaps, long burn_us)
      : overlaps_(std::move(overlaps)), burn_us_(burn_us) {}

  // Each request burns a little CPU, so that the client's next bytes arrive while it
  // runs: that is when a multishot poll reports the connection again.
  std::size_t handle(std::string_view input, Reply& out, RequestContext&) override {
    auto newline = input.find('\n');
    if (newline == std::string_view::npos) return 0;
    if (inside_.fetch_add(1) != 0) overlaps_->seen.fetch_add(1);
    burn_cpu_us(burn_us_);
    out.append(input.substr(0, newline));
    out.append("\n");
    overlaps_->served.fetch_add(1);
    inside_.fetch_sub(1);
    return newline + 1;
  }

 private:
  std::shared_ptr<Overlaps> overlaps_;
  long burn_us_;
  std::atomic<int> inside_{0};
};

class ExclusiveProtocol final : public Protocol {
 public:
  explicit ExclusiveProtocol(std::shared_ptr<Overlaps> overlaps, long burn_us = 100)
      : overlaps_(std::move(overlaps)), burn_us_(burn_us) {}
  std::unique_ptr<Session> new_session() override {
    return std::make_unique<ExclusiveSession>(overlaps_, burn_us_);
  }
  std::string too_many_connections_reply() const override { return "ERROR too many\n"; }
  std::string request_too_large_reply(std::size_t) const override { return "ERROR too large\n"; }
  std::string internal_error_reply(std::string_view) const override { return "ERROR\n"; }

 private:
  std::shared_ptr<Overlaps> overlaps_;
  long burn_us_;
};

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_POOL_OF_THREADS_EXCLUSIVE_PROTOCOL_H_
