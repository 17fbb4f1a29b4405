// File: examples/kv/kv_session.h
//
// One kv_server connection: parses RESP2 requests one at a time, keeps the MULTI queue,
// and hands every other command to kv_commands. Also the protocol object that makes
// sessions and words core's refusals as Redis does.
#ifndef CONNSCHED_EXAMPLES_KV_KV_SESSION_H_
#define CONNSCHED_EXAMPLES_KV_KV_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "connsched/protocol.h"
#include "kv_shared.h"

namespace kv {

class KvSession final : public connsched::Session {
 public:
  explicit KvSession(std::shared_ptr<KvShared> shared) : shared_(std::move(shared)) {}
  /// A session dropped with its connection gives its GET_LOCK names back.
  ~KvSession() override;
  std::size_t handle(std::string_view input, connsched::Reply& out,
                     connsched::RequestContext& ctx) override;
  void reset() override;

  /// Most commands one MULTI may queue; more abort the transaction.
  static constexpr std::size_t kMaxQueued = 10000;

 private:
  void run(std::vector<std::string>& args, std::string& out, connsched::RequestContext& ctx);
  void exec(std::string& out, connsched::RequestContext& ctx);

  std::shared_ptr<KvShared> shared_;
  bool in_multi_ = false;
  bool multi_failed_ = false;  // a queued command was refused: EXEC aborts
  std::vector<std::vector<std::string>> queued_;
  std::uint64_t connection_id_ = 0;  // whose GET_LOCK names to release on reset
};

class KvProtocol final : public connsched::Protocol {
 public:
  explicit KvProtocol(std::shared_ptr<KvShared> shared) : shared_(std::move(shared)) {}
  std::unique_ptr<connsched::Session> new_session() override {
    return std::make_unique<KvSession>(shared_);
  }
  std::string too_many_connections_reply() const override;
  std::string request_too_large_reply(std::size_t limit) const override;
  std::string internal_error_reply(std::string_view what) const override;

 private:
  std::shared_ptr<KvShared> shared_;
};

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_KV_SESSION_H_
