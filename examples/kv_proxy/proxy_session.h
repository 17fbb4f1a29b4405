// File: examples/kv_proxy/proxy_session.h
//
// kv_proxy's protocol: each client command is forwarded to the upstream over a
// connection borrowed from an ObjectPool and given back after the reply (pgbouncer's
// transaction pooling); MULTI ... EXEC/DISCARD keeps one upstream connection. When the
// pool stays exhausted past the borrow timeout the client hears "-ERR upstream busy"
// at once, so the upstream never sees more connections than the pool's maximum.
#ifndef CONNSCHED_EXAMPLES_KV_PROXY_PROXY_SESSION_H_
#define CONNSCHED_EXAMPLES_KV_PROXY_PROXY_SESSION_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "connsched/object_pool.h"
#include "connsched/protocol.h"
#include "resp_parser.h"
#include "upstream_connection.h"

namespace kv_proxy {

struct ProxyConfig {
  UpstreamAddress upstream;
  std::size_t pool_max = 16;  ///< 0: a new upstream connection per command (no pool)
  std::size_t pool_min_idle = 0;
  std::chrono::milliseconds borrow_timeout{1000};
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds reply_timeout{5000};
  kv::RespLimits limits;
};

using UpstreamPool = connsched::ObjectPool<UpstreamConnection>;

/// What every session shares: the configuration and the pool (absent when pool_max=0).
struct ProxyShared {
  explicit ProxyShared(ProxyConfig config);
  ProxyConfig config;
  std::unique_ptr<UpstreamPool> pool;
  std::atomic<std::uint64_t> forwarded{0}, upstream_errors{0}, busy_errors{0}, unpooled_connects{0};
  /// "name:value" lines, for the PROXYSTATS command.
  std::string stats_text() const;
};

class ProxySession final : public connsched::Session {
 public:
  explicit ProxySession(std::shared_ptr<ProxyShared> shared) : shared_(std::move(shared)) {}
  std::size_t handle(std::string_view input, connsched::Reply& out,
                     connsched::RequestContext& ctx) override;
  void reset() override;

 private:
  std::string forward(std::string_view request, bool begins_pin, bool ends_pin);

  std::shared_ptr<ProxyShared> shared_;
  std::optional<UpstreamPool::Handle> pinned_;  // held from MULTI to EXEC/DISCARD
};

class ProxyProtocol final : public connsched::Protocol {
 public:
  explicit ProxyProtocol(std::shared_ptr<ProxyShared> shared) : shared_(std::move(shared)) {}
  std::unique_ptr<connsched::Session> new_session() override {
    return std::make_unique<ProxySession>(shared_);
  }
  std::string too_many_connections_reply() const override {
    return "-ERR max number of clients reached\r\n";
  }
  std::string request_too_large_reply(std::size_t limit) const override;
  std::string internal_error_reply(std::string_view what) const override;

 private:
  std::shared_ptr<ProxyShared> shared_;
};

}  // namespace kv_proxy

#endif  // CONNSCHED_EXAMPLES_KV_PROXY_PROXY_SESSION_H_
