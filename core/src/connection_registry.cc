// File: core/src/connection_registry.cc
#include "connection_registry.h"

#include <algorithm>

namespace connsched {

ConnectionRegistry::AddResult ConnectionRegistry::add(std::unique_ptr<Connection>& conn,
                                                      std::size_t max_connections) {
  std::lock_guard lock(mutex_);
  if (shutting_down_) return AddResult::kShuttingDown;
  if (live_.size() >= max_connections) return AddResult::kFull;
  std::uint64_t id = conn->id;
  live_.emplace(id, std::move(conn));
  peak_ = std::max(peak_, live_.size());
  return AddResult::kAdded;
}

std::unique_ptr<Connection> ConnectionRegistry::remove(std::uint64_t id) {
  std::unique_ptr<Connection> conn;
  std::lock_guard lock(mutex_);
  auto it = live_.find(id);
  if (it == live_.end()) return conn;
  conn = std::move(it->second);
  live_.erase(it);
  if (live_.empty()) empty_.notify_all();
  return conn;
}

bool ConnectionRegistry::with_connection(std::uint64_t id,
                                         const std::function<void(Connection&)>& fn) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(id);
  if (it == live_.end()) return false;
  fn(*it->second);
  return true;
}

void ConnectionRegistry::begin_shutdown(const std::function<void(Connection&)>& fn) {
  std::lock_guard lock(mutex_);
  shutting_down_ = true;
  for (auto& [id, conn] : live_) fn(*conn);
}

void ConnectionRegistry::for_each(const std::function<void(Connection&)>& fn) {
  std::lock_guard lock(mutex_);
  for (auto& [id, conn] : live_) fn(*conn);
}

bool ConnectionRegistry::wait_empty(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return empty_.wait_until(lock, deadline, [&] { return live_.empty(); });
}

std::size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

std::size_t ConnectionRegistry::peak() const {
  std::lock_guard lock(mutex_);
  return peak_;
}

}  // namespace connsched
