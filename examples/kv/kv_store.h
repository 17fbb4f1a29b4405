// File: examples/kv/kv_store.h
//
// The key-value data: N shards, each a hash map behind its own mutex, so connections
// served by different threads rarely contend (any backend may serve any connection on
// any thread). Keys may carry an expiry, enforced lazily on access.
#ifndef CONNSCHED_EXAMPLES_KV_KV_STORE_H_
#define CONNSCHED_EXAMPLES_KV_KV_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kv {

class KvStore {
 public:
  enum class SetCondition { kAlways, kIfAbsent /*NX*/, kIfPresent /*XX*/ };

  explicit KvStore(std::size_t shards = 16);

  std::optional<std::string> get(std::string_view key);
  /// Stores `value`; `ttl_ms` > 0 sets an expiry, 0 none. False when the condition failed.
  bool set(std::string_view key, std::string_view value, SetCondition condition,
           std::int64_t ttl_ms);
  /// Stores every pair atomically (all shards involved are locked together).
  void set_many(const std::vector<std::pair<std::string_view, std::string_view>>& pairs);
  bool erase(std::string_view key);
  bool exists(std::string_view key);

  enum class IncrResult { kOk, kNotInteger, kOverflow };
  /// Adds `by` to the integer stored at `key` (0 when absent); the new value in `value`.
  IncrResult increment(std::string_view key, std::int64_t by, std::int64_t& value);

  std::size_t size();
  std::size_t keys_with_expiry();
  void clear();
  std::size_t shard_count() const { return shards_.size(); }

 private:
  struct Entry {
    std::string value;
    std::int64_t expires_at_ms = 0;  // 0: never
  };
  // Transparent hashing, so lookups by string_view do not build a std::string.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;
  struct Shard {
    std::mutex mutex;
    Map map;
  };

  Shard& shard_for(std::string_view key);
  std::size_t shard_index(std::string_view key) const;
  /// The live entry for `key` (an expired one is removed first), or nullptr. Shard locked.
  static Entry* find_live(Map& map, std::string_view key, std::int64_t now);

  std::vector<std::unique_ptr<Shard>> shards_;
};

/// Milliseconds on the steady clock, the store's expiry clock.
std::int64_t steady_now_ms();

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_KV_STORE_H_
