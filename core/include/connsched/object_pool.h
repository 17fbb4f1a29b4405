// File: connsched/object_pool.h
//
// A generic pool of expensive objects (connections to an upstream, parsers, buffers),
// after Apache Commons Pool 2 and HikariCP. A pool saves the cost of making
// objects and, more importantly, caps what reaches a resource at what it can sustain:
// a borrower waits briefly, and past that wait fails fast with a clear error instead
// of letting a flood take the resource down.
//
// Decisions, and why:
//   - `max_total` is exact: a slot is reserved under the lock before an object is made,
//     and every failure gives it back. Objects are made, validated and destroyed with
//     NO lock held, so a slow factory never delays borrowers of idle objects.
//   - Waiters are served in arrival order: an object returned while someone waits is
//     handed to the oldest waiter directly, and a new borrower never barges past a
//     waiter (the starvation of HikariCP#1909).
//   - A borrow never waits forever (`max_wait` is required) and never waits when
//     nothing exists and nothing can be made: the error says how long it waited and
//     how many objects are in use.
//   - Lifetimes are staggered by up to 2.5 % per object (HikariCP), so objects made
//     together do not all retire together.
//
// Example:
//
//   connsched::ObjectPool<Upstream>::Factory factory;
//   factory.create = [] { return std::make_unique<Upstream>(connect_upstream()); };
//   factory.validate = [](Upstream& u) { return u.ping(); };
//   connsched::PoolSettings settings;
//   settings.max_total = 16;
//   settings.max_wait = std::chrono::milliseconds(200);
//   connsched::ObjectPool<Upstream> pool("upstream", factory, settings);
//   {
//     auto conn = pool.borrow();       // throws PoolExhausted after 200 ms
//     if (!conn->send(request)) conn.invalidate();  // broken: destroyed, not reused
//   }                                  // returned to the pool here
#ifndef CONNSCHED_OBJECT_POOL_H_
#define CONNSCHED_OBJECT_POOL_H_

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "connsched/log_histogram.h"
#include "connsched/source_location.h"

namespace connsched {

using PoolClock = std::chrono::steady_clock;

/// How a pool behaves. Every duration of zero means "off" unless said otherwise.
struct PoolSettings {
  std::size_t max_total = 8;  ///< objects alive at once (idle + borrowed + being made), >= 1
  std::size_t max_idle = 8;   ///< idle objects kept; more are destroyed on return
  std::size_t min_idle = 0;   ///< made at start and kept by the maintenance task
  std::chrono::milliseconds max_wait{30000};  ///< how long a borrow may wait, >= 0
  bool block_when_exhausted = true;           ///< false: fail at once when nothing is free
  bool lifo = true;                           ///< reuse the most recently returned object first
  bool test_on_create = false;
  bool test_on_borrow = false;
  bool test_on_return = false;
  bool test_while_idle = false;  ///< the maintenance task validates idle objects
  /// test_on_borrow skips objects used more recently than this (HikariCP: 500 ms).
  std::chrono::milliseconds validation_skip_window{0};
  std::chrono::milliseconds min_evictable_idle{0};  ///< idle longer: destroyed (keeps min_idle)
  std::chrono::milliseconds max_lifetime{0};        ///< older: retired when idle or returned
  std::chrono::milliseconds leak_detection_threshold{0};  ///< borrowed longer: logged once
  std::chrono::milliseconds maintenance_interval{0};      ///< 0: no maintenance thread
  /// Where the pool reports leaks and failures; default: nothing.
  std::function<void(const std::string&)> log;

  /// Throws std::invalid_argument naming the first inconsistent setting.
  void check() const;
};

/// A borrow that waited `max_wait` (or could not wait) without getting an object.
class PoolExhausted : public std::runtime_error {
 public:
  PoolExhausted(const std::string& what, std::chrono::milliseconds waited, std::size_t in_use)
      : std::runtime_error(what), waited_(waited), in_use_(in_use) {}
  std::chrono::milliseconds waited() const { return waited_; }
  std::size_t in_use() const { return in_use_; }

 private:
  std::chrono::milliseconds waited_;
  std::size_t in_use_;
};

/// The factory failed to make (or validate) a new object.
class PoolCreateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A pool that was closed is borrowed from.
class PoolClosed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Counters and gauges. `creating`: objects the factory is making now; `reserved`: slots
/// held outside the pool's lock (objects being made, validated or destroyed), so
/// created - destroyed == active + idle + reserved - creating, and
/// active + idle + reserved <= max_total.
struct PoolStats {
  std::uint64_t created = 0, destroyed = 0, borrowed = 0, returned = 0, timeouts = 0,
                validation_failures = 0, create_failures = 0, leaks = 0, invalidated = 0;
  std::size_t active = 0, idle = 0, waiting = 0, creating = 0, reserved = 0;
  std::chrono::microseconds wait_p50{0}, wait_p99{0}, wait_max{0};
};

namespace pool_detail {
/// "file:line (function)", how a borrower is named in leak reports.
std::string label(const SourceLocation& where);
}  // namespace pool_detail

template <typename T>
class ObjectPool {
 public:
  struct Factory {
    std::function<std::unique_ptr<T>()> create;       ///< required; throw to fail
    std::function<bool(T&)> validate;                 ///< optional: false = broken
    std::function<void(T&)> reset;                    ///< optional: run on return
    std::function<void(std::unique_ptr<T>)> destroy;  ///< optional: default deletes
  };

 private:
  struct Entry {
    std::unique_ptr<T> object;
    std::uint64_t id = 0;
    PoolClock::time_point created, last_used, borrowed_at, retire_at;
    std::string borrower;
    bool leak_reported = false;
  };
  struct Waiter {
    std::condition_variable wake;
    std::unique_ptr<Entry> handed;  // an object given directly
    bool may_create = false;        // a slot reserved for this waiter to fill
  };

 public:
  /// An object on loan: returned to the pool when the handle goes away.
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          entry_(std::move(other.entry_)),
          broken_(other.broken_) {}
    Handle& operator=(Handle&& other) noexcept {
      if (this != &other) {
        release();
        pool_ = std::exchange(other.pool_, nullptr);
        entry_ = std::move(other.entry_);
        broken_ = other.broken_;
      }
      return *this;
    }
    ~Handle() { release(); }
    T& operator*() const { return *entry_->object; }
    T* operator->() const { return entry_->object.get(); }
    T* get() const { return entry_ ? entry_->object.get() : nullptr; }
    explicit operator bool() const { return entry_ != nullptr; }
    /// Marks the object broken: it is destroyed instead of returned.
    void invalidate() { broken_ = true; }
    /// Gives the object back now.
    void release() {
      if (pool_ != nullptr && entry_) pool_->give_back(std::move(entry_), broken_);
      pool_ = nullptr;
    }

   private:
    friend class ObjectPool;
    Handle(ObjectPool* pool, std::unique_ptr<Entry> entry)
        : pool_(pool), entry_(std::move(entry)) {}
    ObjectPool* pool_ = nullptr;
    std::unique_ptr<Entry> entry_;
    bool broken_ = false;
  };

  /// Checks the settings (std::invalid_argument), makes min_idle objects (a failure
  /// there is logged, not thrown: the maintenance task retries), starts maintenance.
  ObjectPool(std::string name, Factory factory, PoolSettings settings)
      : name_(std::move(name)), factory_(std::move(factory)), settings_(std::move(settings)) {
    settings_.check();
    if (!factory_.create)
      throw std::invalid_argument("pool " + name_ + ": factory.create is required");
    fill_min_idle();
    if (settings_.maintenance_interval.count() > 0) {
      maintenance_ = std::jthread([this](std::stop_token stop) { maintain(stop); });
    }
  }

  /// Closes the pool: waiters fail with PoolClosed, idle objects are destroyed; objects
  /// still borrowed are destroyed when returned. Handles must not outlive the pool.
  ~ObjectPool() { close(); }
  ObjectPool(const ObjectPool&) = delete;
  ObjectPool& operator=(const ObjectPool&) = delete;

  /// Borrows, waiting up to max_wait. Throws PoolExhausted, PoolCreateError, PoolClosed.
  Handle borrow(SourceLocation where = SourceLocation::current()) {
    return borrow_for(settings_.max_wait, where);
  }
  /// Borrows, waiting up to `wait` (0: never waits).
  Handle borrow_for(std::chrono::milliseconds wait,
                    SourceLocation where = SourceLocation::current()) {
    return acquire(wait, where);
  }
  /// Borrows only if an object is free or can be made now; empty handle otherwise.
  Handle try_borrow(SourceLocation where = SourceLocation::current()) {
    try {
      return acquire(std::chrono::milliseconds(0), where);
    } catch (const PoolExhausted&) {
      return Handle();
    }
  }

  PoolStats stats() const {
    std::lock_guard lock(mutex_);
    PoolStats s = stats_;
    s.idle = idle_.size();
    s.active = borrowed_.size();
    s.waiting = waiters_.size();
    s.creating = making_.load();
    s.reserved = reserved_;
    s.wait_p50 = micros(waits_.percentile(50));
    s.wait_p99 = micros(waits_.percentile(99));
    s.wait_max = micros(waits_.max());
    return s;
  }
  const std::string& name() const { return name_; }
  const PoolSettings& settings() const { return settings_; }

  void close() {
    std::vector<std::unique_ptr<Entry>> doomed;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
      for (Waiter* w : waiters_) w->wake.notify_one();
      for (auto& e : idle_) doomed.push_back(std::move(e));
      idle_.clear();
    }
    if (maintenance_.joinable()) {
      maintenance_.request_stop();
      maintenance_wake_.notify_all();
      maintenance_.join();
    }
    for (auto& e : doomed) destroy(std::move(e), /*counted=*/true);
  }

 private:
  static std::chrono::microseconds micros(std::uint64_t us) {
    return std::chrono::microseconds(static_cast<std::int64_t>(us));
  }
  std::size_t alive_locked() const { return idle_.size() + borrowed_.size() + reserved_; }
  std::size_t in_use_locked() const { return borrowed_.size() + reserved_; }

  void log(const std::string& message) const {
    if (settings_.log) settings_.log(fmt::format("pool '{}': {}", name_, message));
  }

  static std::string label(const SourceLocation& where) { return pool_detail::label(where); }

  // The retirement time of a new object: max_lifetime less up to 2.5 %, spread by id.
  PoolClock::time_point retire_time(std::uint64_t id, PoolClock::time_point now) const {
    if (settings_.max_lifetime.count() <= 0) return PoolClock::time_point::max();
    auto span = std::chrono::duration_cast<std::chrono::microseconds>(settings_.max_lifetime);
    auto jitter = span * static_cast<std::int64_t>((id * 2654435761u) % 1000) / 40000;
    return now + span - jitter;
  }

  bool valid(Entry& e) {
    if (!factory_.validate) return true;
    bool ok = false;
    try {
      ok = factory_.validate(*e.object);
    } catch (...) {
      ok = false;
    }
    return ok;
  }

  // Destroys outside the lock; `counted` says the slot was already given back.
  void destroy(std::unique_ptr<Entry> e, bool counted) {
    try {
      if (factory_.destroy) {
        factory_.destroy(std::move(e->object));
      } else {
        e->object.reset();
      }
    } catch (...) {
      log("destroy threw; the object is dropped");
    }
    std::lock_guard lock(mutex_);
    ++stats_.destroyed;
    if (!counted) {
      // The slot frees only now: let the oldest waiter make an object in it.
      --reserved_;
      grant_slot_locked();
    }
  }

  // Gives `e` to the oldest waiter. It stays counted (reserved_) until the waiter has
  // registered the loan, so max_total holds during the hand-off.
  void hand_to_waiter_locked(std::unique_ptr<Entry> e) {
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->handed = std::move(e);
    ++reserved_;
    w->wake.notify_one();
  }

  // A slot is free: the oldest waiter may make an object in it (nobody barges).
  void grant_slot_locked() {
    if (waiters_.empty() || closed_ || alive_locked() >= settings_.max_total) return;
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->may_create = true;
    ++reserved_;
    w->wake.notify_one();
  }

  // Makes an object in a slot already reserved (reserved_ counted); lock not held.
  std::unique_ptr<Entry> make_entry() {
    auto e = std::make_unique<Entry>();
    std::string failure;
    making_.fetch_add(1);
    try {
      e->object = factory_.create();
      if (!e->object) failure = "the factory returned nothing";
    } catch (const std::exception& ex) {
      failure = ex.what();
    } catch (...) {
      failure = "unknown error";
    }
    making_.fetch_sub(1);
    if (failure.empty() && settings_.test_on_create && !valid(*e)) {
      failure = "a new object failed validation";
      destroy_object_only(std::move(e->object));
    }
    std::lock_guard lock(mutex_);
    if (!failure.empty()) {
      ++stats_.create_failures;
      --reserved_;
      grant_slot_locked();
      throw PoolCreateError(fmt::format("pool '{}': cannot create an object: {}", name_, failure));
    }
    ++stats_.created;
    e->id = next_id_++;
    e->created = e->last_used = PoolClock::now();
    e->retire_at = retire_time(e->id, e->created);
    return e;
  }

  void destroy_object_only(std::unique_ptr<T> object) {
    try {
      if (factory_.destroy) {
        factory_.destroy(std::move(object));
      }
    } catch (...) {
    }
  }

  // Hands `e` out: registers the borrow (lock held by the caller).
  Handle lend_locked(std::unique_ptr<Entry> e, const SourceLocation& where,
                     PoolClock::time_point started) {
    e->borrowed_at = PoolClock::now();
    e->leak_reported = false;
    if (settings_.leak_detection_threshold.count() > 0) e->borrower = label(where);
    borrowed_.push_back(e.get());
    ++stats_.borrowed;
    const auto waited =
        std::chrono::duration_cast<std::chrono::microseconds>(e->borrowed_at - started);
    waits_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, waited.count())));
    return Handle(this, std::move(e));
  }

  std::unique_ptr<Entry> take_idle_locked() {
    std::unique_ptr<Entry> e;
    if (settings_.lifo) {
      e = std::move(idle_.back());
      idle_.pop_back();
    } else {
      e = std::move(idle_.front());
      idle_.pop_front();
    }
    return e;
  }

  // An idle object checked before lending, outside the lock: retired if too old,
  // validated on borrow unless used very recently.
  bool usable(Entry& e, PoolClock::time_point now) {
    if (now >= e.retire_at) return false;
    if (!settings_.test_on_borrow) return true;
    if (now - e.last_used < settings_.validation_skip_window) return true;
    if (valid(e)) return true;
    std::lock_guard lock(mutex_);
    ++stats_.validation_failures;
    return false;
  }

  Handle acquire(std::chrono::milliseconds wait, const SourceLocation& where) {
    const auto started = PoolClock::now();
    const auto deadline = started + wait;
    std::unique_lock lock(mutex_);
    while (true) {
      if (closed_) throw PoolClosed(fmt::format("pool '{}' is closed", name_));
      std::unique_ptr<Entry> candidate;
      bool create = false;
      if (waiters_.empty() && !idle_.empty()) {
        candidate = take_idle_locked();
        ++reserved_;  // counted as in use while checked outside the lock
      } else if (waiters_.empty() && alive_locked() < settings_.max_total) {
        ++reserved_;
        create = true;
      } else {
        auto now = PoolClock::now();
        if (!settings_.block_when_exhausted || now >= deadline) {
          ++stats_.timeouts;
          throw exhausted_locked(now - started);
        }
        Waiter me;
        waiters_.push_back(&me);
        me.wake.wait_until(lock, deadline, [&] { return me.handed || me.may_create || closed_; });
        if (me.handed) {
          --reserved_;
          return lend_locked(std::move(me.handed), where, started);
        }
        if (me.may_create) {
          create = true;  // slot reserved by the granter
        } else {
          waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &me));
          if (closed_) throw PoolClosed(fmt::format("pool '{}' is closed", name_));
          ++stats_.timeouts;
          throw exhausted_locked(PoolClock::now() - started);
        }
      }
      lock.unlock();
      if (create) {
        auto e = make_entry();  // throws PoolCreateError, slot given back
        lock.lock();
        --reserved_;
        return lend_locked(std::move(e), where, started);
      }
      if (usable(*candidate, PoolClock::now())) {
        lock.lock();
        --reserved_;
        return lend_locked(std::move(candidate), where, started);
      }
      destroy(std::move(candidate), /*counted=*/false);
      lock.lock();
    }
  }

  PoolExhausted exhausted_locked(PoolClock::duration waited) const {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited);
    std::size_t in_use = in_use_locked();
    return PoolExhausted(
        fmt::format("pool '{}' exhausted: waited {} ms, {} of {} objects in use, {} idle, {} "
                    "waiting",
                    name_, ms.count(), in_use, settings_.max_total, idle_.size(), waiters_.size()),
        ms, in_use);
  }

  // Returns a borrowed object: to the oldest waiter, to the idle list, or destroyed.
  void give_back(std::unique_ptr<Entry> e, bool broken) {
    auto now = PoolClock::now();
    bool keep = !broken && now < e->retire_at;
    if (keep && factory_.reset) {
      try {
        factory_.reset(*e->object);
      } catch (...) {
        keep = false;
      }
    }
    bool failed_validation = keep && settings_.test_on_return && !valid(*e);
    keep = keep && !failed_validation;
    std::unique_lock lock(mutex_);
    ++stats_.returned;
    if (broken) ++stats_.invalidated;
    if (failed_validation) ++stats_.validation_failures;
    borrowed_.erase(std::find(borrowed_.begin(), borrowed_.end(), e.get()));
    if (e->leak_reported) {
      log(fmt::format(
          "object #{} borrowed at {} was returned after {} ms (reported as a leak)", e->id,
          e->borrower,
          std::chrono::duration_cast<std::chrono::milliseconds>(now - e->borrowed_at).count()));
    }
    e->last_used = now;
    if (keep && !closed_ && !waiters_.empty()) {
      hand_to_waiter_locked(std::move(e));
      return;
    }
    if (keep && !closed_ && idle_.size() < settings_.max_idle) {
      idle_.push_back(std::move(e));
      return;
    }
    ++reserved_;  // the slot stays taken until the object is really gone
    lock.unlock();
    destroy(std::move(e), /*counted=*/false);
  }

  // Keeps min_idle objects: reserves slots under the lock, makes them outside it.
  void fill_min_idle() {
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (closed_ || idle_.size() + reserved_ >= settings_.min_idle ||
            alive_locked() >= settings_.max_total || !waiters_.empty()) {
          return;
        }
        ++reserved_;
      }
      std::unique_ptr<Entry> e;
      try {
        e = make_entry();
      } catch (const PoolCreateError& error) {
        log(fmt::format("min_idle: {}", error.what()));
        return;
      }
      std::lock_guard lock(mutex_);
      --reserved_;
      if (!waiters_.empty()) {
        hand_to_waiter_locked(std::move(e));
      } else {
        idle_.push_back(std::move(e));
      }
    }
  }

  // One maintenance pass: evict, validate idle objects, report leaks, refill.
  void maintain_once() {
    auto now = PoolClock::now();
    std::vector<std::unique_ptr<Entry>> evict, check;
    {
      std::lock_guard lock(mutex_);
      for (auto it = idle_.begin(); it != idle_.end();) {
        Entry& e = **it;
        bool expired = now >= e.retire_at;
        bool idle_too_long = settings_.min_evictable_idle.count() > 0 &&
                             now - e.last_used >= settings_.min_evictable_idle &&
                             idle_.size() > settings_.min_idle;
        if (expired || idle_too_long) {
          evict.push_back(std::move(*it));
          it = idle_.erase(it);
          ++reserved_;
        } else if (settings_.test_while_idle) {
          check.push_back(std::move(*it));
          it = idle_.erase(it);
          ++reserved_;
        } else {
          ++it;
        }
      }
      if (settings_.leak_detection_threshold.count() > 0) {
        for (Entry* e : borrowed_) {
          if (!e->leak_reported && now - e->borrowed_at >= settings_.leak_detection_threshold) {
            e->leak_reported = true;
            ++stats_.leaks;
            log(fmt::format(
                "object #{} borrowed at {} for {} ms: apparent leak", e->id, e->borrower,
                std::chrono::duration_cast<std::chrono::milliseconds>(now - e->borrowed_at)
                    .count()));
          }
        }
      }
    }
    for (auto& e : evict) destroy(std::move(e), /*counted=*/false);
    for (auto& e : check) {
      bool ok = valid(*e);
      std::unique_lock lock(mutex_);
      if (!ok) ++stats_.validation_failures;
      if (ok && !closed_) {
        --reserved_;
        if (!waiters_.empty()) {
          hand_to_waiter_locked(std::move(e));
        } else {
          idle_.push_back(std::move(e));
        }
        continue;
      }
      lock.unlock();
      destroy(std::move(e), /*counted=*/false);
    }
    fill_min_idle();
  }

  void maintain(std::stop_token stop) {
    std::unique_lock lock(maintenance_mutex_);
    while (!stop.stop_requested()) {
      maintenance_wake_.wait_for(lock, stop, settings_.maintenance_interval, [] { return false; });
      if (stop.stop_requested()) break;
      lock.unlock();
      maintain_once();
      lock.lock();
    }
  }

  const std::string name_;
  const Factory factory_;
  PoolSettings settings_;
  mutable std::mutex mutex_;
  std::deque<std::unique_ptr<Entry>> idle_;  // back = most recently returned
  std::vector<Entry*> borrowed_;             // on loan, for leak detection
  std::size_t reserved_ = 0;                 // slots reserved: being made, checked or destroyed
  std::atomic<std::size_t> making_{0};       // inside factory_.create() now
  std::deque<Waiter*> waiters_;
  bool closed_ = false;
  std::uint64_t next_id_ = 1;
  PoolStats stats_;
  LogHistogram waits_;  // borrow waits in microseconds
  std::mutex maintenance_mutex_;
  std::condition_variable_any maintenance_wake_;
  std::jthread maintenance_;
};

}  // namespace connsched

#endif  // CONNSCHED_OBJECT_POOL_H_
