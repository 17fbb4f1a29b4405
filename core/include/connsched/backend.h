// File: connsched/backend.h
//
// The C++ backend kit: what every scheduler backend needs and none should write again.
// Header-only and free of core symbols (a backend never links core; the ABI stays the C
// table in scheduler_abi.h). It gives:
//
//   - connsched::UniqueFd, the one fd owner;
//   - typed option getters over services->get_option, reading the text core validated
//     with the same rules core used (SQLite's sqlite3_uri_int64/_boolean are the model);
//   - OptionTable: each option declared once (name, help, type, default, range, whether
//     dynamic, and the setting it is stored in), from which the descriptor's option list,
//     start-up loading and set_option all follow (nginx's ngx_command_t rows with offsetof
//     and a generic setter are the model);
//   - scheduler_descriptor<Backend>(): a C++ class made into the C descriptor, every entry
//     point wrapped so that no exception crosses the ABI: it is logged through the
//     services' log and answered with the member's failure value.
//
// A backend written with it:
//
//   struct Settings { std::atomic<std::int64_t> workers{4}; };
//   constexpr connsched::backend::OptionTable<Settings, 1> kOptions{{{
//       {"mine_workers", "Worker threads", CONNSCHED_OPTION_INT, "4", 1, 1024, nullptr, true,
//        &Settings::workers}}}};
//   class Mine {
//    public:
//     explicit Mine(const connsched_services* svc);       // throws to refuse init
//     bool add_connection(connsched_conn* conn);         // false: core closes it
//     // optional: wait_begin, wait_end, post_kill_notification, end_thread, set_option,
//     // stats, reload, init_new_connection_thread (detected by their signatures)
//   };
//   constexpr auto kOptionList = kOptions.descriptors();
//   constexpr connsched_scheduler kMine = connsched::backend::scheduler_descriptor<Mine>(
//       "mine", "what it does", kOptionList.data());
//   CONNSCHED_DEFINE_SCHEDULER(kMine)
#ifndef CONNSCHED_BACKEND_H_
#define CONNSCHED_BACKEND_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "connsched/option_text.h"
#include "connsched/scheduler_abi.h"
#include "connsched/unique_fd.h"

namespace connsched::backend {

// ---- Typed option getters -------------------------------------------------------------

/// The option's value as an integer (core checked its range), or `fallback` when unset.
inline std::int64_t option_int(const connsched_services* svc, const char* name,
                               std::int64_t fallback) {
  const char* text = svc->get_option(svc, name);
  if (text == nullptr) return fallback;
  return parse_int(text).value_or(fallback);
}

/// The option's value as a boolean (core accepts mysqld's words), or `fallback`.
inline bool option_bool(const connsched_services* svc, const char* name, bool fallback) {
  const char* text = svc->get_option(svc, name);
  if (text == nullptr) return fallback;
  return parse_bool(text).value_or(fallback);
}

/// The position of the option's value among `choices` ("a|b|c"), or `fallback`.
inline int option_enum(const connsched_services* svc, const char* name, const char* choices,
                       int fallback) {
  const char* text = svc->get_option(svc, name);
  if (text == nullptr) return fallback;
  return choice_index(choices, text).value_or(fallback);
}

/// Writes `message` into a C error buffer, truncated and terminated.
inline void copy_error(char* err, std::size_t errlen, std::string_view message) {
  if (err == nullptr || errlen == 0) return;
  const std::size_t n = std::min(errlen - 1, message.size());
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

// ---- One option table per backend -----------------------------------------------------

/// One option: its declaration as core sees it, and the setting it lives in. Every
/// value is stored as an atomic int64 (INT: the number; BOOL: 0 or 1; ENUM: the index
/// of the choice), so any thread may read it while the admin thread changes it: a
/// change applies from the next decision that reads it. `field` may be null for an
/// option the backend reads itself (an INT with no default whose meaning init decides).
template <class Settings>
struct Option {
  const char* name;
  const char* help;
  int type;  // connsched_option_type; STRING is not stored
  const char* default_value;
  std::int64_t min_value;
  std::int64_t max_value;
  const char* choices;
  bool dynamic;
  std::atomic<std::int64_t> Settings::*field;
};

template <class Settings, std::size_t N>
struct OptionTable {
  std::array<Option<Settings>, N> rows;

  /// The descriptor's option list, ended by a NULL name.
  constexpr std::array<connsched_option_desc, N + 1> descriptors() const {
    std::array<connsched_option_desc, N + 1> out{};
    for (std::size_t i = 0; i < N; ++i) {
      const auto& r = rows[i];
      out[i] = connsched_option_desc{r.name,      r.help,      r.type,    r.default_value,
                                     r.min_value, r.max_value, r.choices, r.dynamic ? 1 : 0};
    }
    return out;
  }

  /// The row named `name`, or nullptr.
  constexpr const Option<Settings>* find(std::string_view name) const {
    for (const auto& r : rows) {
      if (name == r.name) return &r;
    }
    return nullptr;
  }

  /// Stores `value` (already validated by core) in its setting. Returns why not, or "".
  std::string store(Settings& settings, std::string_view name, std::string_view value) const {
    const Option<Settings>* row = find(name);
    if (row == nullptr) return "unknown option '" + std::string(name) + "'";
    if (row->field == nullptr) return {};
    std::optional<std::int64_t> number;
    switch (row->type) {
      case CONNSCHED_OPTION_INT:
        number = parse_int(value);
        break;
      case CONNSCHED_OPTION_BOOL:
        if (auto flag = parse_bool(value)) number = *flag ? 1 : 0;
        break;
      case CONNSCHED_OPTION_ENUM:
        if (auto index = choice_index(row->choices ? row->choices : "", value)) number = *index;
        break;
      default:
        break;
    }
    if (!number) return "'" + std::string(value) + "' is not a valid value";
    (settings.*(row->field)).store(*number, std::memory_order_relaxed);
    return {};
  }

  /// At init: every option core has a value for (given or default) into its setting.
  /// Throws std::runtime_error naming the option a value does not fit.
  void load(const connsched_services* svc, Settings& settings) const {
    for (const auto& r : rows) {
      const char* value = svc->get_option(svc, r.name);
      if (value == nullptr) continue;
      if (std::string why = store(settings, r.name, value); !why.empty()) {
        throw std::runtime_error(std::string(r.name) + ": " + why);
      }
    }
  }
};

// ---- A C++ class as the C descriptor --------------------------------------------------

namespace detail {

// What the C `void* backend` points to: the services (to log through) and the object.
template <class B>
struct Holder {
  const connsched_services* svc = nullptr;
  std::unique_ptr<B> backend;
};

template <class B>
struct Thunks {
  static Holder<B>& holder(void* p) { return *static_cast<Holder<B>*>(p); }

  // Logs an exception that reached the ABI boundary, naming the member it left.
  static void report(const connsched_services* svc, const char* member, const char* what) noexcept {
    char line[512];
    std::snprintf(line, sizeof line, "backend: %s threw: %s", member, what);
    svc->log(svc, CONNSCHED_LOG_ERROR, line);
  }

  // Runs `fn` on the backend; an exception is logged and `failure` returned instead.
  template <class R, class F>
  static R guard(void* p, const char* member, R failure, F&& fn) noexcept {
    Holder<B>& h = holder(p);
    try {
      return fn(*h.backend);
    } catch (const std::exception& e) {
      report(h.svc, member, e.what());
    } catch (...) {
      report(h.svc, member, "an unknown exception");
    }
    return failure;
  }
  template <class F>
  static void guard_void(void* p, const char* member, F&& fn) noexcept {
    guard(p, member, 0, [&](B& b) {
      fn(b);
      return 0;
    });
  }

  static int init(const connsched_services* svc, void** out, char* err, size_t errlen) noexcept {
    try {
      auto h = std::make_unique<Holder<B>>();
      h->svc = svc;
      h->backend = std::make_unique<B>(svc);
      *out = h.release();  // re-owned by end
      return 0;
    } catch (const std::exception& e) {
      copy_error(err, errlen, e.what());
    } catch (...) {
      copy_error(err, errlen, "init threw an unknown exception");
    }
    return 1;
  }
  static int init_new_connection_thread(void* p) noexcept {
    return guard(p, "init_new_connection_thread", 1,
                 [](B& b) { return b.init_new_connection_thread() ? 0 : 1; });
  }
  static int add_connection(void* p, connsched_conn* conn) noexcept {
    return guard(p, "add_connection", 1, [conn](B& b) { return b.add_connection(conn) ? 0 : 1; });
  }
  static void wait_begin(void* p, connsched_conn* conn, int type) noexcept {
    guard_void(p, "wait_begin", [&](B& b) { b.wait_begin(conn, type); });
  }
  static void wait_end(void* p, connsched_conn* conn) noexcept {
    guard_void(p, "wait_end", [&](B& b) { b.wait_end(conn); });
  }
  static void post_kill_notification(void* p, connsched_conn* conn) noexcept {
    guard_void(p, "post_kill_notification", [&](B& b) { b.post_kill_notification(conn); });
  }
  static void end_thread(void* p, int cache_thread) noexcept {
    guard_void(p, "end_thread", [&](B& b) { b.end_thread(cache_thread != 0); });
  }
  static void end(void* p) noexcept {
    std::unique_ptr<Holder<B>> owned(static_cast<Holder<B>*>(p));
    try {
      owned->backend.reset();
    } catch (const std::exception& e) {
      report(owned->svc, "end", e.what());
    } catch (...) {
      report(owned->svc, "end", "an unknown exception");
    }
  }
  static int set_option(void* p, const char* name, const char* value, char* err,
                        size_t errlen) noexcept {
    std::string why = "set_option threw an exception (see the log)";
    guard_void(p, "set_option", [&](B& b) { why = b.set_option(name, value); });
    if (why.empty()) return 0;
    copy_error(err, errlen, why);
    return 1;
  }
  static void stats(void* p, const connsched_stats_sink* sink) noexcept {
    guard_void(p, "stats", [sink](B& b) { b.stats(*sink); });
  }
  static void reload(void* p) noexcept {
    guard_void(p, "reload", [](B& b) { b.reload(); });
  }
  static void release_connection(void* p, connsched_conn* conn) noexcept {
    guard_void(p, "release_connection", [&](B& b) { b.release_connection(conn); });
  }
};

}  // namespace detail

/// The C descriptor for backend class `B`. `B` is constructed from the services at init
/// (throw to refuse, the message becomes core's error line) and destroyed at end; it
/// must have `bool add_connection(connsched_conn*)`. The other members are wired when
/// `B` has them, with these signatures:
///   bool init_new_connection_thread();              void wait_begin(connsched_conn*, int);
///   void wait_end(connsched_conn*);                 void post_kill_notification(connsched_conn*);
///   void end_thread(bool cache_thread);             std::string set_option(const char*, const
///   char*); void stats(const connsched_stats_sink&);        void reload();
///   void release_connection(connsched_conn*);       (ABI 1.2: what makes `B` switchable)
/// (set_option returns "" on success, else why not.) The thread and lock rules of each
/// member are those of scheduler_abi.h.
template <class B>
constexpr connsched_scheduler scheduler_descriptor(const char* name, const char* description,
                                                   const connsched_option_desc* options = nullptr,
                                                   std::uint32_t max_threads = 0) {
  using T = detail::Thunks<B>;
  connsched_scheduler d = connsched_scheduler_header(name, description);
  d.options = options;
  d.max_threads = max_threads;
  d.init = &T::init;
  d.add_connection = &T::add_connection;
  d.end = &T::end;
  if constexpr (requires(B & b) { b.init_new_connection_thread(); })
    d.init_new_connection_thread = &T::init_new_connection_thread;
  if constexpr (requires(B & b, connsched_conn * c) { b.wait_begin(c, 0); })
    d.wait_begin = &T::wait_begin;
  if constexpr (requires(B & b, connsched_conn * c) { b.wait_end(c); }) d.wait_end = &T::wait_end;
  if constexpr (requires(B & b, connsched_conn * c) { b.post_kill_notification(c); })
    d.post_kill_notification = &T::post_kill_notification;
  if constexpr (requires(B & b) { b.end_thread(true); }) d.end_thread = &T::end_thread;
  if constexpr (requires(B & b) { b.set_option("", ""); }) d.set_option = &T::set_option;
  if constexpr (requires(B & b, const connsched_stats_sink& s) { b.stats(s); }) d.stats = &T::stats;
  if constexpr (requires(B & b) { b.reload(); }) d.reload = &T::reload;
  if constexpr (requires(B & b, connsched_conn * c) { b.release_connection(c); })
    d.release_connection = &T::release_connection;
  return d;
}

/// Reports one counter to a stats sink (the common case of `stats`).
inline void report_counter(const connsched_stats_sink& sink, const char* name, std::int64_t value,
                           const char* help) {
  sink.counter(sink.ctx, name, value, help);
}

}  // namespace connsched::backend

#endif  // CONNSCHED_BACKEND_H_
