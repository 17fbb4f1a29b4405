// File: fuzz/resp_value_check.h
//
// Counts the whole RESP2 values at the front of a reply buffer, so a fuzzer can check
// that a server wrote well-formed replies: every simple string and error a single line,
// every bulk exactly as long as declared, every array with all its elements.
#ifndef CONNSCHED_FUZZ_RESP_VALUE_CHECK_H_
#define CONNSCHED_FUZZ_RESP_VALUE_CHECK_H_

#include <charconv>
#include <cstddef>
#include <optional>
#include <string_view>

namespace fuzz {

// One RESP2 value at the front of `in`, removed from it; false if it is not one.
inline bool take_resp_value(std::string_view& in, int depth = 0) {
  if (in.empty() || depth > 8) return false;
  char kind = in.front();
  std::size_t crlf = in.find("\r\n");
  if (crlf == std::string_view::npos) return false;
  std::string_view line = in.substr(1, crlf - 1);
  if (line.find_first_of("\r\n") != std::string_view::npos) return false;
  in.remove_prefix(crlf + 2);
  if (kind == '+' || kind == '-') return true;
  long long n = 0;
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
  if (line.empty() || ec != std::errc() || end != line.data() + line.size()) return false;
  if (kind == ':') return true;
  if (kind == '$') {
    if (n == -1) return true;
    if (n < 0 || in.size() < static_cast<std::size_t>(n) + 2) return false;
    if (in.substr(static_cast<std::size_t>(n), 2) != "\r\n") return false;
    in.remove_prefix(static_cast<std::size_t>(n) + 2);
    return true;
  }
  if (kind == '*') {
    if (n < 0) return n == -1;
    for (long long i = 0; i < n; ++i) {
      if (!take_resp_value(in, depth + 1)) return false;
    }
    return true;
  }
  return false;
}

// How many whole values `in` holds, or nullopt if anything in it is malformed.
inline std::optional<std::size_t> count_resp_values(std::string_view in) {
  std::size_t count = 0;
  while (!in.empty()) {
    if (!take_resp_value(in)) return std::nullopt;
    ++count;
  }
  return count;
}

}  // namespace fuzz

#endif  // CONNSCHED_FUZZ_RESP_VALUE_CHECK_H_
