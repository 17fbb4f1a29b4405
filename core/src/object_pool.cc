// File: core/src/object_pool.cc
//
// The parts of connsched::ObjectPool that do not depend on the pooled type.
#include "connsched/object_pool.h"

#include <fmt/format.h>

namespace connsched {

void PoolSettings::check() const {
  auto fail = [](const std::string& why) {
    throw std::invalid_argument("pool settings: " + why);
  };
  if (max_total == 0) fail("max_total must be at least 1");
  if (max_idle > max_total)
    fail(fmt::format("max_idle ({}) exceeds max_total ({})", max_idle, max_total));
  if (min_idle > max_idle)
    fail(fmt::format("min_idle ({}) exceeds max_idle ({})", min_idle, max_idle));
  if (max_wait.count() < 0) fail("max_wait must not be negative");
  if ((min_idle > 0 || test_while_idle || min_evictable_idle.count() > 0 ||
       leak_detection_threshold.count() > 0) &&
      maintenance_interval.count() <= 0) {
    fail(
        "min_idle, test_while_idle, min_evictable_idle and leak_detection_threshold need a "
        "maintenance_interval");
  }
}

namespace pool_detail {

std::string label(const SourceLocation& where) {
  return fmt::format("{}:{} ({})", where.file_name(), where.line(), where.function_name());
}

}  // namespace pool_detail

}  // namespace connsched
