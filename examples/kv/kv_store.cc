// File: examples/kv/kv_store.cc
#include "kv_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>

namespace kv {

std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

KvStore::KvStore(std::size_t shards) {
  shards_.reserve(std::max<std::size_t>(shards, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(shards, 1); ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

std::size_t KvStore::shard_index(std::string_view key) const {
  return std::hash<std::string_view>{}(key) % shards_.size();
}

KvStore::Shard& KvStore::shard_for(std::string_view key) {
  return *shards_[shard_index(key)];
}

// Lazy expiry: a key past its time is deleted by whoever looks at it next.
KvStore::Entry* KvStore::find_live(Map& map, std::string_view key, std::int64_t now) {
  auto it = map.find(key);
  if (it == map.end()) return nullptr;
  if (it->second.expires_at_ms != 0 && it->second.expires_at_ms <= now) {
    map.erase(it);
    return nullptr;
  }
  return &it->second;
}

std::optional<std::string> KvStore::get(std::string_view key) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  Entry* entry = find_live(shard.map, key, steady_now_ms());
  if (entry == nullptr) return std::nullopt;
  return entry->value;
}

bool KvStore::set(std::string_view key, std::string_view value, SetCondition condition,
                  std::int64_t ttl_ms) {
  Shard& shard = shard_for(key);
  std::int64_t now = steady_now_ms();
  std::lock_guard lock(shard.mutex);
  Entry* entry = find_live(shard.map, key, now);
  if (condition == SetCondition::kIfAbsent && entry != nullptr) return false;
  if (condition == SetCondition::kIfPresent && entry == nullptr) return false;
  if (entry == nullptr) entry = &shard.map[std::string(key)];
  entry->value.assign(value);
  entry->expires_at_ms = ttl_ms > 0 ? now + ttl_ms : 0;
  return true;
}

// Shards are locked in index order, the one order every caller uses, so two MSETs
// cannot deadlock and no reader sees half of one.
void KvStore::set_many(const std::vector<std::pair<std::string_view, std::string_view>>& pairs) {
  std::vector<std::size_t> indices;
  for (const auto& [key, value] : pairs) indices.push_back(shard_index(key));
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (std::size_t i : indices) locks.emplace_back(shards_[i]->mutex);
  for (const auto& [key, value] : pairs) {
    Entry& entry = shard_for(key).map[std::string(key)];
    entry.value.assign(value);
    entry.expires_at_ms = 0;
  }
}

bool KvStore::erase(std::string_view key) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  if (find_live(shard.map, key, steady_now_ms()) == nullptr) return false;
  shard.map.erase(shard.map.find(key));
  return true;
}

bool KvStore::exists(std::string_view key) {
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  return find_live(shard.map, key, steady_now_ms()) != nullptr;
}

// Redis's rules: the stored text must be a whole 64-bit integer; overflow is an error,
// not a wrap.
KvStore::IncrResult KvStore::increment(std::string_view key, std::int64_t by, std::int64_t& value) {
  Shard& shard = shard_for(key);
  std::int64_t now = steady_now_ms();
  std::lock_guard lock(shard.mutex);
  Entry* entry = find_live(shard.map, key, now);
  std::int64_t current = 0;
  if (entry != nullptr) {
    const std::string& text = entry->value;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), current);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return IncrResult::kNotInteger;
    }
  }
  if ((by > 0 && current > std::numeric_limits<std::int64_t>::max() - by) ||
      (by < 0 && current < std::numeric_limits<std::int64_t>::min() - by)) {
    return IncrResult::kOverflow;
  }
  value = current + by;
  if (entry == nullptr) entry = &shard.map[std::string(key)];
  entry->value = std::to_string(value);
  return IncrResult::kOk;
}

// Counting is the moment to drop expired keys, so DBSIZE never counts a dead one.
std::size_t KvStore::size() {
  std::size_t total = 0;
  std::int64_t now = steady_now_ms();
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    std::erase_if(shard->map, [&](const auto& kv) {
      return kv.second.expires_at_ms != 0 && kv.second.expires_at_ms <= now;
    });
    total += shard->map.size();
  }
  return total;
}

std::size_t KvStore::keys_with_expiry() {
  std::size_t total = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (const auto& [key, entry] : shard->map) total += entry.expires_at_ms != 0 ? 1 : 0;
  }
  return total;
}

void KvStore::clear() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    shard->map.clear();
  }
}

}  // namespace kv
