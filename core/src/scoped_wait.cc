// File: core/src/scoped_wait.cc
#include "connsched/scoped_wait.h"

#include "server_core.h"

namespace connsched {

std::string_view wait_type_name(int type) {
  static constexpr std::string_view kNames[CONNSCHED_WAIT_TYPE_COUNT] = {
      "unknown",    "sleep",     "diskio", "row_lock",     "global_lock", "meta_data_lock",
      "table_lock", "user_lock", "binlog", "group_commit", "sync",        "net"};
  if (type < 0 || type >= CONNSCHED_WAIT_TYPE_COUNT) return "unknown";
  return kNames[type];
}

ScopedWait::ScopedWait(WaitType type) : conn_(current_connection()) {
  if (conn_ != nullptr) conn_->core->wait_begin(*conn_, static_cast<int>(type));
}

ScopedWait::~ScopedWait() {
  if (conn_ != nullptr) conn_->core->wait_end(*conn_);
}

}  // namespace connsched
