// File: test/support/test_protocol.h
//
// A line protocol for tests, whose requests can burn CPU, block inside a reported
// wait, mark a transaction, throw, or quit:
//   echo <text>   -> <text>
//   burn <us>     -> ok          (spins the CPU)
//   sleep <ms>    -> ok          (blocks inside ScopedWait(kSleep))
//   begin|commit  -> ok          (in-transaction flag on|off)
//   big <n>       -> n bytes of 'x'  (a large reply)
//   id            -> <connection id>
//   addr          -> <client address> (RequestContext::client_address)
//   throw         -> (the handler throws: the server answers ERROR and closes)
//   draining      -> draining (then the server closes) | serving   (ctx.draining())
//   quit          -> bye         (then the server closes)
//   anything else -> the line itself
// Probe counts handlers running at once, so tests can check concurrency limits.
#ifndef CONNSCHED_TEST_SUPPORT_TEST_PROTOCOL_H_
#define CONNSCHED_TEST_SUPPORT_TEST_PROTOCOL_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connsched/protocol.h"

namespace connsched::testing {

struct Probe {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::atomic<long> completed{0};
  // Request order, recorded as "<conn id>:<line>" when `record` is set.
  std::atomic<bool> record{false};
  std::mutex order_mutex;
  std::vector<std::string> order;
  void reset_peak() { peak.store(running.load()); }
};

class TestProtocol final : public Protocol {
 public:
  explicit TestProtocol(std::shared_ptr<Probe> probe = std::make_shared<Probe>())
      : probe_(std::move(probe)) {}
  std::unique_ptr<Session> new_session() override;
  std::string too_many_connections_reply() const override { return "ERROR too many connections\n"; }
  std::string request_too_large_reply(std::size_t limit) const override;
  std::string internal_error_reply(std::string_view what) const override;
  const std::shared_ptr<Probe>& probe() const { return probe_; }

 private:
  std::shared_ptr<Probe> probe_;
};

/// Spins the CPU for `us` microseconds (thread CPU time is not used: wall time is what
/// a client sees).
void burn_cpu_us(long us);

}  // namespace connsched::testing

#endif  // CONNSCHED_TEST_SUPPORT_TEST_PROTOCOL_H_
