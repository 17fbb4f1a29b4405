// File: connsched/source_location.h
//
// connsched::SourceLocation: where a call was made (file, line, function), for default
// arguments that record the caller, as std::source_location does. It is
// std::source_location wherever the standard library provides it. libstdc++ 12 provides
// it only to compilers with __builtin_source_location, which clang 14 (Debian 12's clang)
// lacks; there it is a small class built on __builtin_FILE/LINE/FUNCTION, which gcc and
// clang both evaluate at the caller when they are default arguments.
//
// Example:
//
//   void borrow(connsched::SourceLocation where = connsched::SourceLocation::current());
#ifndef CONNSCHED_SOURCE_LOCATION_H_
#define CONNSCHED_SOURCE_LOCATION_H_

#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

namespace connsched {

#if defined(__cpp_lib_source_location)

using SourceLocation = std::source_location;

#else

class SourceLocation {
 public:
  /// The caller's location when used as a default argument.
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          unsigned line = __builtin_LINE(),
                                          const char* function = __builtin_FUNCTION()) noexcept {
    return SourceLocation(file, line, function);
  }
  constexpr SourceLocation() noexcept = default;
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr unsigned line() const noexcept { return line_; }
  constexpr unsigned column() const noexcept { return 0; }
  constexpr const char* function_name() const noexcept { return function_; }

 private:
  constexpr SourceLocation(const char* file, unsigned line, const char* function) noexcept
      : file_(file), line_(line), function_(function) {}

  const char* file_ = "";
  unsigned line_ = 0;
  const char* function_ = "";
};

#endif

}  // namespace connsched

#endif  // CONNSCHED_SOURCE_LOCATION_H_
