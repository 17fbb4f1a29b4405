// File: examples/kv/named_locks.h
//
// Locks by name, for the LOCK workload command: a connection holds "k" while others
// that want "k" wait (a stand-in for a database's row lock).
#ifndef CONNSCHED_EXAMPLES_KV_NAMED_LOCKS_H_
#define CONNSCHED_EXAMPLES_KV_NAMED_LOCKS_H_

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace kv {

class NamedLocks {
 public:
  /// Holds one name from construction (which waits for it) to destruction.
  class Guard {
   public:
    Guard(NamedLocks& locks, std::string name);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    NamedLocks& locks_;
    std::string name_;
  };

  /// True if `name` is held right now (for tests and INFO).
  bool held(std::string_view name);
  std::size_t held_count();

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  std::set<std::string, std::less<>> held_;
};

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_NAMED_LOCKS_H_
