// File: core/src/log.h
//
// One line per event on stderr: "2026-11-24 06:55:00.123 echo_server [warning] text".
// Each line goes out in a single write(2), so lines from threads never interleave.
#ifndef CONNSCHED_CORE_LOG_H_
#define CONNSCHED_CORE_LOG_H_

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "connsched/scheduler_abi.h"

namespace connsched {

enum class LogLevel : int {
  kDebug = CONNSCHED_LOG_DEBUG,
  kInfo = CONNSCHED_LOG_INFO,
  kWarning = CONNSCHED_LOG_WARNING,
  kError = CONNSCHED_LOG_ERROR,
};

/// "debug", "info", "warning", "error" to a level; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);

class Logger {
 public:
  explicit Logger(std::string program = "connsched", LogLevel level = LogLevel::kInfo)
      : program_(std::move(program)), level_(static_cast<int>(level)) {}

  void set_level(LogLevel level) { level_.store(static_cast<int>(level)); }
  bool enabled(LogLevel level) const { return static_cast<int>(level) >= level_.load(); }
  void write(LogLevel level, std::string_view message) const;

  template <typename... Args>
  void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) const {
    if (enabled(level)) write(level, fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  std::string program_;
  std::atomic<int> level_;
};

/// One log line per interval for an event any client can cause (so no client can flood
/// the log): `admit` says whether to log now, and how many were left out since the last.
class LogRateLimit {
 public:
  explicit LogRateLimit(std::int64_t interval_ms) : interval_ms_(interval_ms) {}
  /// The number suppressed since the last admitted line, or nullopt to stay quiet.
  std::optional<std::uint64_t> admit(std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    if (logged_ && now_ms - last_ms_ < interval_ms_) {
      ++suppressed_;
      return std::nullopt;
    }
    logged_ = true;
    last_ms_ = now_ms;
    return std::exchange(suppressed_, 0);
  }

 private:
  std::mutex mutex_;
  std::int64_t interval_ms_;
  std::int64_t last_ms_ = 0;
  bool logged_ = false;
  std::uint64_t suppressed_ = 0;
};

}  // namespace connsched

#endif  // CONNSCHED_CORE_LOG_H_
