// File: connsched/scoped_wait.h
//
// Handler code that is about to block says so, so that a pool can run other
// connections meanwhile (MariaDB's thd_wait_begin/thd_wait_end). The guard finds the
// connection the current thread is serving; outside a request it does nothing.
//
// Example:
//
//   {
//     connsched::ScopedWait wait(connsched::WaitType::kRowLock);
//     lock.lock();  // may block for a long time
//   }
#ifndef CONNSCHED_SCOPED_WAIT_H_
#define CONNSCHED_SCOPED_WAIT_H_

#include <string_view>

#include "connsched/scheduler_abi.h"

namespace connsched {

/// MariaDB's thd_wait_type, as a C++ enum with the ABI's values.
enum class WaitType : int {
  kUnknown = CONNSCHED_WAIT_UNKNOWN,
  kSleep = CONNSCHED_WAIT_SLEEP,
  kDiskIo = CONNSCHED_WAIT_DISKIO,
  kRowLock = CONNSCHED_WAIT_ROW_LOCK,
  kGlobalLock = CONNSCHED_WAIT_GLOBAL_LOCK,
  kMetaDataLock = CONNSCHED_WAIT_META_DATA_LOCK,
  kTableLock = CONNSCHED_WAIT_TABLE_LOCK,
  kUserLock = CONNSCHED_WAIT_USER_LOCK,
  kBinlog = CONNSCHED_WAIT_BINLOG,
  kGroupCommit = CONNSCHED_WAIT_GROUP_COMMIT,
  kSync = CONNSCHED_WAIT_SYNC,
  kNet = CONNSCHED_WAIT_NET,
};

/// "sleep", "row_lock", ... as in MariaDB's THREAD_POOL_WAITS (lowercase).
std::string_view wait_type_name(int type);

/// Reports a blocking wait of the current thread's connection for its lifetime.
class ScopedWait {
 public:
  explicit ScopedWait(WaitType type);
  ~ScopedWait();
  ScopedWait(const ScopedWait&) = delete;
  ScopedWait& operator=(const ScopedWait&) = delete;

 private:
  connsched_conn* conn_;
};

}  // namespace connsched

#endif  // CONNSCHED_SCOPED_WAIT_H_
