// File: examples/kv/kv_shared.h
//
// What every connection of a kv_server shares: the data, the named locks, the limits.
#ifndef CONNSCHED_EXAMPLES_KV_KV_SHARED_H_
#define CONNSCHED_EXAMPLES_KV_KV_SHARED_H_

#include <cstdint>

#include "kv_store.h"
#include "named_locks.h"
#include "resp_parser.h"

namespace kv {

struct KvShared {
  explicit KvShared(RespLimits resp_limits = {}, std::size_t shards = 16,
                    std::size_t reply_limit = kDefaultMaxReplySize)
      : store(shards),
        limits(resp_limits),
        max_reply_size(reply_limit),
        started_ms(steady_now_ms()) {}
  /// Largest reply one command may build (MGET, EXEC): a few bytes of request naming
  /// one large value many times must not allocate without bound.
  static constexpr std::size_t kDefaultMaxReplySize = 64 << 20;
  /// Most bytes of arguments one MULTI may queue: 10,000 commands of 1 MB each would
  /// otherwise hold 10 GB per connection until EXEC.
  static constexpr std::size_t kDefaultMaxMultiSize = 16 << 20;
  std::size_t max_multi_size = kDefaultMaxMultiSize;
  KvStore store;
  NamedLocks locks;
  RespLimits limits;
  std::size_t max_reply_size;
  std::int64_t started_ms;
};

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_KV_SHARED_H_
