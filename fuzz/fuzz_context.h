// File: fuzz/fuzz_context.h
//
// A RequestContext with no server behind it, for the session fuzzers. It reports the
// connection as killed, so SLEEP, LOCK and /sleep return at once (they sleep only
// "unless killed"): a fuzz iteration must never wait.
#ifndef CONNSCHED_FUZZ_FUZZ_CONTEXT_H_
#define CONNSCHED_FUZZ_FUZZ_CONTEXT_H_

#include <cstdint>

#include "connsched/protocol.h"

namespace fuzz {

class FuzzContext final : public connsched::RequestContext {
 public:
  std::uint64_t connection_id() const override { return 7; }
  void set_in_transaction(bool value) override { in_transaction_ = value; }
  bool in_transaction() const override { return in_transaction_; }
  void close_after_reply() override { close_requested = true; }
  bool killed() const override { return true; }

  bool close_requested = false;

 private:
  bool in_transaction_ = false;
};

}  // namespace fuzz

#endif  // CONNSCHED_FUZZ_FUZZ_CONTEXT_H_
