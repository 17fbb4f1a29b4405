// File: examples/kv/named_locks.h
//
// Locks by name. Two users: the LOCK workload command holds "k" for one request while
// others that want "k" wait (a stand-in for a database's row lock); GET_LOCK and
// RELEASE_LOCK hold a name for a connection across requests, as MySQL's user-level
// locks do (https://dev.mysql.com/doc/refman/8.0/en/locking-functions.html): re-entrant
// for their owner, released by RELEASE_LOCK or when the owner disconnects.
#ifndef CONNSCHED_EXAMPLES_KV_NAMED_LOCKS_H_
#define CONNSCHED_EXAMPLES_KV_NAMED_LOCKS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace kv {

class NamedLocks {
 public:
  /// The owner LOCK uses: never re-entrant, never a connection.
  static constexpr std::uint64_t kAnonymous = 0;

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

  enum class Acquired { kYes, kTimedOut, kAbandoned };
  /// Takes `name` for `owner` (again, if it already holds it: one more release is then
  /// needed), waiting at most `timeout` (negative: without limit) and giving up with
  /// kAbandoned as soon as `abandon()` turns true (checked every few milliseconds).
  Acquired acquire(std::string_view name, std::uint64_t owner, std::chrono::milliseconds timeout,
                   const std::function<bool()>& abandon);

  enum class Released { kYes, kNotOwner, kNotHeld };
  /// Gives one hold of `name` back; only its owner may.
  Released release(std::string_view name, std::uint64_t owner);
  /// Gives back every hold `owner` has (a disconnect); returns how many names it held.
  std::size_t release_all(std::uint64_t owner);
  /// Names `owner` holds now.
  std::size_t held_by(std::uint64_t owner);

  /// True if `name` is held right now (for tests and INFO).
  bool held(std::string_view name);
  std::size_t held_count();

 private:
  struct Hold {
    std::uint64_t owner;
    std::uint64_t count;
  };
  std::mutex mutex_;
  std::condition_variable released_;
  std::map<std::string, Hold, std::less<>> held_;
};

}  // namespace kv

#endif  // CONNSCHED_EXAMPLES_KV_NAMED_LOCKS_H_
