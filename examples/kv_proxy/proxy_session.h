// File: examples/kv_proxy/proxy_session.h
//
// kv_proxy's protocol: each client command is forwarded to the upstream over a
// connection borrowed from an ObjectPool and given back after the reply (pgbouncer's
// transaction pooling); MULTI ... EXEC/DISCARD keeps one upstream connection (a pin).
// When the pool stays exhausted past the borrow timeout the client hears "-ERR upstream
// busy" at once, so the upstream never sees more connections than the pool's maximum.
// Pins are bounded twice, so that clients outside a transaction always find an upstream
// connection: at most pin_share percent of the pool is pinned at once (a MULTI past it
// is refused), and a pin idle longer than pin_timeout (pgbouncer's
// idle_transaction_timeout) is aborted: its upstream connection is closed, which
// discards the transaction there, and the client's next command gets an error and the
// connection closes, so it cannot mistake its later commands for queued ones.
#ifndef CONNSCHED_EXAMPLES_KV_PROXY_PROXY_SESSION_H_
#define CONNSCHED_EXAMPLES_KV_PROXY_PROXY_SESSION_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
  std::chrono::milliseconds pin_timeout{10000};  ///< a MULTI idle longer is aborted
  unsigned pin_share = 50;  ///< percent of pool_max that MULTI..EXEC may hold at once
  kv::RespLimits limits;
};

using UpstreamPool = connsched::ObjectPool<UpstreamConnection>;

/// One MULTI's upstream connection, shared by its session and the reaper that aborts it
/// when it has been idle past pin_timeout. `mutex` is held by the session for each
/// command's round trip; the reaper only try-locks, so a pin in use is never idle.
struct Pin {
  std::mutex mutex;
  std::optional<UpstreamPool::Handle> handle;  // empty until MULTI's +OK, and once over
  std::int64_t last_used_ms = 0;
  bool aborted = false;
};

/// What every session shares: the configuration, the pool (absent when pool_max=0),
/// the pins and the thread that aborts idle ones.
struct ProxyShared {
  explicit ProxyShared(ProxyConfig config);
  ~ProxyShared();
  ProxyConfig config;
  std::unique_ptr<UpstreamPool> pool;
  std::size_t pins_max = 0;  ///< pool_max * pin_share / 100
  std::atomic<std::uint64_t> forwarded{0}, upstream_errors{0}, busy_errors{0}, unpooled_connects{0};
  std::atomic<std::uint64_t> pins_refused{0}, pins_aborted{0};
  /// "name:value" lines, for the PROXYSTATS command.
  std::string stats_text() const;
  /// A place for one more pin, or nullptr when pins_max are taken.
  std::shared_ptr<Pin> reserve_pin();
  /// The pin no longer counts (ended, failed or aborted).
  void release_pin(const std::shared_ptr<Pin>& pin);

 private:
  void reap(std::stop_token stop);
  mutable std::mutex pins_mutex_;
  std::vector<std::shared_ptr<Pin>> pins_;
  std::condition_variable_any reaper_wake_;
  std::jthread reaper_;  // last: stopped before the pins it reads go away
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
  std::shared_ptr<Pin> pin_;  // from MULTI to EXEC/DISCARD (or its abort)
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
